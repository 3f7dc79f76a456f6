"""Choose a neuron model and an input protocol, move sliders, see the trace, a raster of trials
and the f–I curve follow.

Run it in a notebook (``NeuronExplorer().panel`` after ``pn.extension()``) or as an app
(``neuraltide explore neuron``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
import torch

from neuraltide.neurons import LIF, AdaptiveLIF, HodgkinHuxley, Izhikevich, NeuronModel
from neuraltide.neurons.izhikevich import IzhikevichPreset

from ._live import live_view
from .params import ParameterPanel
from .protocols import NoisyCurrent, PoissonInput, Protocol, Ramp, Step

__all__ = ["MODELS", "ModelChoice", "NeuronExplorer", "threshold_of"]


@dataclass(frozen=True)
class ModelChoice:
    """A model the explorer offers, with the input range that makes sense for it."""

    name: str
    make: Callable[..., NeuronModel]  #: ``make(**params)``; ``make()`` gives the defaults
    current: float  #: initial amplitude [input unit]
    current_range: tuple[float, float]
    unit: str  #: input unit
    duration: float = 200.0  #: simulated time [ms]
    presets: tuple[IzhikevichPreset, ...] = ()


MODELS: tuple[ModelChoice, ...] = (
    ModelChoice("LIF", lambda **p: LIF(dt=0.1, **p), 2.0, (0.0, 6.0), "nA"),
    ModelChoice("Adaptive LIF", lambda **p: AdaptiveLIF(dt=0.1, **p), 2.5, (0.0, 6.0), "nA"),
    ModelChoice("Izhikevich", lambda **p: Izhikevich(dt=0.1, **p), 10.0, (0.0, 20.0),
                "paper units", presets=tuple(IzhikevichPreset)),
    # exponential Euler is stable at 0.025 ms; 100 ms keeps a slider move near one second
    ModelChoice("Hodgkin–Huxley", lambda **p: HodgkinHuxley(dt=0.025, **p), 10.0, (0.0, 30.0),
                "µA/cm²", duration=100.0),
)

PROTOCOLS: tuple[Protocol, ...] = (Step(), Ramp(), NoisyCurrent(), PoissonInput())


def threshold_of(model: NeuronModel) -> float | None:
    """The firing threshold a plot should draw (LIF: v_th; dimensionless: threshold;
    Izhikevich: v_peak; HH: the spike-detection level)."""
    values = model.values()
    for name in ("v_th", "threshold", "v_peak", "v_th_detect"):
        if name in values:
            return float(values[name].flatten()[0])
    return None


class NeuronExplorer:
    """Interactive single-neuron lab.

    Args:
        models: the models to choose from (default :data:`MODELS`).
        protocols: the input protocols (default step, ramp, noisy current, Poisson input).
        trials: trials in the raster (noisy protocols differ between trials).
        fi_points: currents on the f–I curve.
        seed: seed of the noisy protocols.
    """

    def __init__(self, models: Sequence[ModelChoice] = MODELS,
                 protocols: Sequence[Protocol] = PROTOCOLS, *, trials: int = 10,
                 fi_points: int = 21, seed: int = 0) -> None:
        if not models or not protocols:
            raise ValueError("NeuronExplorer: models and protocols must not be empty.")
        for name, v, lo in (("trials", trials, 1), ("fi_points", fi_points, 2)):
            if not isinstance(v, int) or v < lo:
                raise ValueError(f"NeuronExplorer: {name} must be an int >= {lo}, got {v!r}.")
        self.models = {m.name: m for m in models}
        self.trials, self.fi_points, self.seed = trials, fi_points, seed
        self.model_select = pn.widgets.Select(label="model", options=list(self.models))
        self.protocol_select = pn.widgets.Select(
            label="input", options={p.label or type(p).__name__: p for p in protocols})
        self.preset_select = pn.widgets.Select(label="Izhikevich preset", options=[])
        self.amplitude = pn.widgets.FloatSlider(label="amplitude", start=0, end=1, value=0,
                                                width=320)
        self.status = pn.pane.Markdown("", width=320)
        self.simulations = 0  #: how many times the model was run (for tests and benches)
        self.result: dict[str, Any] = {}
        self._trace = hv.streams.Pipe(data={"t": np.empty(0), "v": np.empty(0), "th": None})
        self._raster = hv.streams.Pipe(data={"t": np.empty(0), "trial": np.empty(0)})
        self._fi = hv.streams.Pipe(data={"i": np.empty(0), "rate": np.empty(0), "at": (0, 0)})
        self.params: ParameterPanel | None = None
        self._param_box = pn.Column()
        self.model_select.param.watch(lambda e: self._set_model(), "value")
        self.preset_select.param.watch(lambda e: self._apply_preset(), "value")
        self.protocol_select.param.watch(lambda e: self.update(), "value")
        self._switching = False  # a model switch moves the amplitude: one simulation, not two
        self.amplitude.param.watch(lambda e: self._switching or self.update(fi=False), "value")
        self._set_model()
        trace = live_view(self._trace_element, self._trace, height=240, width=620)
        raster = live_view(self._raster_element, self._raster, height=180, width=620)
        fi = live_view(self._fi_element, self._fi, height=240, width=320)
        self.panel = pn.Row(
            pn.Column("## Neuron explorer", self.model_select, self.preset_select,
                      self.protocol_select, self.amplitude, self._param_box, self.status),
            pn.Column(pn.pane.HoloViews(trace), pn.pane.HoloViews(raster)),
            pn.pane.HoloViews(fi))

    def close(self) -> None:
        """Cancel a pending debounced update (nothing else runs in the background)."""
        if self.params is not None:
            self.params.close()

    # ---- controls -----------------------------------------------------------------------------
    @property
    def choice(self) -> ModelChoice:
        return self.models[self.model_select.value]

    def _set_model(self) -> None:
        c = self.choice
        if self.params is not None:
            self.params.close()
        self.params = ParameterPanel(c.make())
        self.params.on_change(lambda values: self.update())
        self._param_box.objects = [self.params.panel]
        self.preset_select.options = [p.name for p in c.presets]
        self.preset_select.visible = bool(c.presets)
        lo, hi = c.current_range
        self._switching = True
        try:
            self.amplitude.param.update(start=lo, end=hi, step=(hi - lo) / 200,
                                        value=c.current, label=f"amplitude [{c.unit}]")
        finally:
            self._switching = False
        self.update()

    def _apply_preset(self) -> None:
        if not self.preset_select.value or self.params is None:
            return
        a, b, c, d = IzhikevichPreset[self.preset_select.value].value
        self.params.set_values({"a": a, "b": b, "c": c, "d": d})

    # ---- simulation ---------------------------------------------------------------------------
    def model(self) -> NeuronModel:
        """The model the controls describe."""
        assert self.params is not None
        return self.choice.make(**self.params.values()).double()

    def update(self, fi: bool = True) -> None:
        """Re-simulate with the current controls (the f–I curve only when ``fi``)."""
        if self.params is None:
            return
        try:
            model = self.model()
        except ValueError as e:  # a combination the model refuses: say why, keep the plots
            self.status.object = f"**{e}**"
            return
        c, protocol = self.choice, self.protocol_select.value
        steps = round(c.duration / model.dt)
        g = torch.Generator().manual_seed(self.seed)
        x = protocol.current(steps, model.dt, float(self.amplitude.value), self.trials, g)
        with torch.no_grad():
            rec = model.run(x, record=("v",))
        t = (torch.arange(steps, dtype=torch.float64) + 1) * model.dt
        spikes = rec.spikes
        onset = protocol.onset_step(steps)
        rate = float(spikes[onset:].mean()) / model.dt * 1e3
        th = threshold_of(model)
        self.result.update(t=t.numpy(), v=rec.traces["v"][:, 0].numpy(), spikes=spikes.numpy(),
                           rate_hz=rate, threshold=th)
        self._trace.send({"t": self.result["t"], "v": self.result["v"], "th": th})
        k, n = np.nonzero(spikes.numpy().T)
        self._raster.send({"t": (n + 1) * model.dt, "trial": k})
        if fi or "fi_rates" not in self.result:
            self._fi_curve(model)
        self._fi.send({"i": self.result["fi_currents"], "rate": self.result["fi_rates"],
                       "at": (float(self.amplitude.value), rate)})
        self.status.object = (f"{int(spikes[:, 0].sum())} spikes in trial 1; mean rate "
                              f"{rate:.1f} Hz over {self.trials} trials")
        self.simulations += 1

    def _fi_curve(self, model: NeuronModel) -> None:
        c = self.choice
        steps = round(c.duration / model.dt)
        currents = torch.linspace(*c.current_range, self.fi_points, dtype=torch.float64)
        x = Step(onset=0.0).current(steps, model.dt, 1.0, self.fi_points, torch.Generator())
        with torch.no_grad():
            spikes, _ = model(x * currents)
        # rate over the second half: past the onset transient
        rates = spikes[steps // 2:].mean(0) / model.dt * 1e3
        self.result.update(fi_currents=currents.numpy(), fi_rates=rates.numpy())

    # ---- plots --------------------------------------------------------------------------------
    def _trace_element(self, data: dict) -> hv.Overlay:
        # the trace and the raster share their time axis (Panel links equal dimensions): both
        # pin it to the whole run, or the raster's spikes would set it for both
        curve = hv.Curve((data["t"], data["v"]), "time [ms]", "membrane [mV]").opts(
            color="#1f77b4", line_width=1.2, xlim=(0.0, self.choice.duration))
        th = data["th"]
        return curve * hv.HLine(th if th is not None else np.nan).opts(
            color="gray", line_dash="dashed")

    def _raster_element(self, data: dict) -> hv.Points:
        return hv.Points((data["t"], data["trial"]), ["time [ms]", "trial"]).opts(
            marker="dash", size=8, angle=90, color="black", xlim=(0.0, self.choice.duration),
            ylim=(-0.5, self.trials - 0.5))

    def _fi_element(self, data: dict) -> hv.Overlay:
        i0, r0 = data["at"]
        return (hv.Curve((data["i"], data["rate"]), "input", "rate [Hz]").opts(
                    color="#ff7f0e", title="f–I curve (step input)")
                * hv.Scatter([(i0, r0)], "input", "rate [Hz]").opts(size=9, color="black"))
