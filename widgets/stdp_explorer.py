"""The STDP learning window and a weight histogram that evolves while a plastic network runs.

The network is Song, Miller & Abbott's (2000) set-up: many Poisson inputs onto one LIF neuron
through plastic excitatory synapses. The sliders set the pair rule (amplitudes, time
constants) and the input rate; the window plot follows the sliders at once, and the running
network picks the new rule up at its next chunk, keeping its weights.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import torch

from neuraltide.network import (
    AllToAll,
    Exponential,
    Network,
    PoissonGroup,
    Population,
    Projection,
    SpikeMonitor,
    Uniform,
)
from neuraltide.neurons import LIF
from neuraltide.plasticity import PairSTDP, WeightDependence

from ._live import LiveExplorer, live_view

__all__ = ["STDPExplorer"]


class STDPExplorer(LiveExplorer):
    """Live STDP.

    Args:
        n_inputs: Poisson inputs.
        w_max: upper weight bound [nA].
        chunk: simulated time per update [ms] (dt = 1 ms).
        period: wall-clock time between updates while running [ms].
        bins: histogram bins over [0, w_max].
        seed: seed of the initial weights and the input spikes.
    """

    def __init__(self, n_inputs: int = 200, *, w_max: float = 0.2, chunk: float = 200.0,
                 period: int = 100, bins: int = 40, seed: int = 0) -> None:
        if not isinstance(n_inputs, int) or n_inputs < 1:
            raise ValueError(f"STDPExplorer: n_inputs must be an int >= 1, got {n_inputs!r}.")
        if not (isinstance(w_max, float | int) and w_max > 0):
            raise ValueError(f"STDPExplorer: w_max must be > 0 [nA], got {w_max!r}.")
        self.n_inputs, self.w_max, self.chunk, self.bins, self.seed = (
            n_inputs, float(w_max), chunk, bins, seed)
        self.a_plus = pn.widgets.FloatSlider(label="A+ (potentiation)", start=0.0, end=0.02,
                                             step=0.0005, value=0.005, width=300)
        self.ratio = pn.widgets.FloatSlider(label="A− / A+", start=0.5, end=1.5, step=0.01,
                                            value=1.05, width=300)
        self.tau_plus = pn.widgets.FloatSlider(label="τ+ [ms]", start=5.0, end=50.0, step=1.0,
                                               value=20.0, width=300)
        self.tau_minus = pn.widgets.FloatSlider(label="τ− [ms]", start=5.0, end=50.0,
                                                step=1.0, value=20.0, width=300)
        self.rate = pn.widgets.FloatSlider(label="input rate [Hz]", start=2.0, end=40.0,
                                           step=1.0, value=20.0, width=300)
        self.status = pn.pane.Markdown("", width=300)
        self._init_controls(period)
        self._window = hv.streams.Pipe(data=self._window_data())
        self._hist = hv.streams.Pipe(data={"w": np.empty(0)})
        for s in (self.a_plus, self.ratio, self.tau_plus, self.tau_minus):
            s.param.watch(lambda e: self._rule_changed(), "value")
        self.rate.param.watch(lambda e: self._set_rate(), "value")
        self.reset()
        window = live_view(self._window_element, self._window, height=250, width=380)
        hist = live_view(self._hist_element, self._hist, height=250, width=380)
        self.panel = pn.Row(
            pn.Column("## STDP (Song, Miller & Abbott 2000)", self.a_plus, self.ratio,
                      self.tau_plus, self.tau_minus, self.rate,
                      self.controls, self.status),
            pn.pane.HoloViews(window), pn.pane.HoloViews(hist))

    # ---- the rule and the network -------------------------------------------------------------
    def rule(self) -> PairSTDP:
        """The pair rule the sliders describe (additive, bounded in [0, w_max])."""
        a_plus = float(self.a_plus.value) * self.w_max
        return PairSTDP(a_plus=a_plus, a_minus=a_plus * float(self.ratio.value),
                        tau_plus=float(self.tau_plus.value),
                        tau_minus=float(self.tau_minus.value),
                        dependence=WeightDependence.ADDITIVE, w_min=0.0, w_max=self.w_max)

    def _rule_changed(self) -> None:
        self.projection.plasticity = self.rule()
        self._window.send(self._window_data())

    def _set_rate(self) -> None:
        self.inputs.rate_hz.fill_(float(self.rate.value))
        self._status()

    def reset(self) -> None:
        """Fresh weights (uniform in [0, w_max]) and state; keeps running if it was."""
        dt = 1.0
        self.inputs = PoissonGroup(self.n_inputs, float(self.rate.value), name="inputs", dt=dt)
        self.neuron = Population(1, LIF(tau_mem=20.0, v_rest=-70.0, v_th=-54.0,
                                        v_reset=-60.0, r_mem=10.0, t_ref=0.0, dt=dt),
                                 name="neuron")
        self.projection = Projection(self.inputs, self.neuron, AllToAll(),
                                     weight=Uniform(0.0, self.w_max),
                                     synapse=Exponential(5.0), plasticity=self.rule(),
                                     seed=self.seed, name="plastic")
        self.network = Network([self.inputs, self.neuron], [self.projection], seed=self.seed)
        self.state = None
        self.t = 0.0
        self.post_rate_hz = 0.0
        self.chunks = 0
        self._hist.send({"w": self.weights()})
        self._status()

    def weights(self) -> np.ndarray:
        """Current weights [nA], ``(n_inputs,)``."""
        return self.projection.weight().detach().cpu().numpy().copy()

    def step_chunk(self) -> None:
        """Simulate one chunk with plasticity on and update the histogram."""
        steps = round(self.chunk)
        mon = SpikeMonitor(self.neuron)
        with torch.no_grad():
            self.state = self.network.run(steps, monitors=[mon], state=self.state,
                                          progress=False)
        self.t += self.chunk
        self.post_rate_hz = mon.t.numel() / self.chunk * 1e3
        self.chunks += 1
        self._hist.send({"w": self.weights()})
        self._status()

    # ---- plots --------------------------------------------------------------------------------
    def _window_data(self) -> dict[str, np.ndarray]:
        dts = torch.linspace(-100.0, 100.0, 401, dtype=torch.float64)
        return {"dt": dts.numpy(), "dw": self.rule().window(dts).numpy() / self.w_max}

    def _window_element(self, data: dict[str, np.ndarray]) -> hv.Overlay:
        return (hv.Curve((data["dt"], data["dw"]), "t_post − t_pre [ms]",
                         "Δw / w_max per pair").opts(color="black", title="learning window")
                * hv.HLine(0).opts(color="gray", line_width=0.8)
                * hv.VLine(0).opts(color="gray", line_width=0.8))

    def _hist_element(self, data: dict[str, np.ndarray]) -> hv.Histogram:
        counts, edges = np.histogram(data["w"], bins=self.bins, range=(0.0, self.w_max))
        return hv.Histogram((edges, counts), kdims=["weight [nA]"], vdims=["synapses"]).opts(
            color="#1f77b4", title=f"weights after {self.t / 1e3:.1f} s")

    def _status(self) -> None:
        state = "running" if self.running else "stopped"
        self.status.object = (f"t = {self.t / 1e3:.1f} s, {state}; output "
                              f"{self.post_rate_hz:.1f} Hz; mean weight "
                              f"{self.weights().mean():.3f} nA")
