"""Brunel's E/I network, live: sliders for the inhibition ratio g, the external drive and the
connection probability; the raster by population and the population rates scroll while it runs.

The network runs in chunks (``chunk`` ms of simulated time per periodic callback), so the
notebook or the app stays responsive; Stop removes the callback, and :meth:`close` leaves none
behind. Moving a slider rebuilds the network from the same seed and carries the neuron and
synapse state over, so the activity changes regime without restarting.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
import torch

from neuraltide.network import SpikeMonitor
from neuraltide.network.examples import Brunel, brunel

from ._live import LiveExplorer, live_view
from .raster import RasterPlot

__all__ = ["NetworkExplorer"]


class NetworkExplorer(LiveExplorer):
    """Live E/I population network.

    Args:
        n_exc: excitatory neurons (inhibitory: a quarter of that).
        chunk: simulated time per update [ms].
        window: visible time span [ms].
        period: wall-clock time between updates while running [ms].
        rate_bin: bin of the population-rate curves [ms].
        seed: seed of the connectivity and the external drive.
    """

    def __init__(self, n_exc: int = 800, *, chunk: float = 20.0, window: float = 500.0,
                 period: int = 100, rate_bin: float = 2.0, seed: int = 0) -> None:
        if not isinstance(n_exc, int) or n_exc < 4:
            raise ValueError(f"NetworkExplorer: n_exc must be an int >= 4, got {n_exc!r}.")
        for name, v in (("chunk", chunk), ("window", window), ("rate_bin", rate_bin)):
            if not (isinstance(v, float | int) and v > 0):
                raise ValueError(f"NetworkExplorer: {name} must be > 0 [ms], got {v!r}.")
        self.n_exc, self.chunk, self.rate_bin = n_exc, chunk, rate_bin
        self.window, self.seed = float(window), seed
        self.g = pn.widgets.FloatSlider(label="g (inhibition / excitation)", start=0.0, end=8.0,
                                        step=0.1, value=5.0, width=300)
        self.eta = pn.widgets.FloatSlider(label="external drive (× threshold rate)", start=0.5,
                                          end=4.0, step=0.1, value=2.0, width=300)
        self.epsilon = pn.widgets.FloatSlider(label="connection probability", start=0.02,
                                              end=0.2, step=0.01, value=0.1, width=300)
        for s in (self.g, self.eta, self.epsilon):
            s.param.watch(lambda e: self._rebuild(), "value")
        self.status = pn.pane.Markdown("", width=300)
        self._init_controls(period)
        self.chunks = 0  #: chunks simulated since the last reset
        self.model: Brunel = self._build()
        self.state: Any = None
        n_inh = self.model.I.n
        self.raster = RasterPlot([("E", n_exc), ("I", n_inh)], window=window,
                                 dt=self.model.E.dt, height=280, width=650)
        self._rates = hv.streams.Pipe(data=self._empty_rates())
        self._rate_t = np.empty(0)
        self._rate_e, self._rate_i = np.empty(0), np.empty(0)
        rates = live_view(self._rate_element, self._rates, height=200, width=650)
        self.panel = pn.Row(
            pn.Column("## E/I network (Brunel 2000)", self.g, self.eta, self.epsilon,
                      self.controls, self.status),
            pn.Column(self.raster.panel, pn.pane.HoloViews(rates)))
        self._status()

    @property
    def t(self) -> float:
        """Simulated time [ms]."""
        return 0.0 if self.state is None else self.state.step * self.model.E.dt

    def _build(self) -> Brunel:
        return brunel(g=self.g.value, eta=self.eta.value, n_exc=self.n_exc,
                      epsilon=self.epsilon.value, seed=self.seed)

    def _rebuild(self) -> None:
        # same populations, projection names and delays: the state carries over
        self.model = self._build()
        self._status()

    # ---- running -------------------------------------------------------------------------------
    def step_chunk(self) -> None:
        """Simulate one chunk and push its spikes and rates to the plots."""
        steps = round(self.chunk / self.model.E.dt)
        drive = self.model.drive(steps, seed=self.seed * 100_003 + self.chunks)
        mons = [SpikeMonitor(self.model.E), SpikeMonitor(self.model.I)]
        t0 = self.t
        with torch.no_grad():
            self.state = self.model.network.run(steps, inputs=drive, monitors=mons,
                                                state=self.state, progress=False)
        for m in mons:
            self.raster.push_monitor(m, emit=False)
        self.raster.now = self.t
        self.raster.refresh()
        edges = np.arange(t0, self.t + 1e-9, self.rate_bin)
        rate = []
        for m, pop in zip(mons, (self.model.E, self.model.I), strict=True):
            counts, _ = np.histogram(m.t.numpy(), bins=edges)
            rate.append(counts / pop.n / self.rate_bin * 1e3)
        self._rate_t = np.concatenate([self._rate_t, edges[1:]])
        self._rate_e = np.concatenate([self._rate_e, rate[0]])
        self._rate_i = np.concatenate([self._rate_i, rate[1]])
        keep = self._rate_t > self.t - self.window
        self._rate_t, self._rate_e, self._rate_i = (self._rate_t[keep], self._rate_e[keep],
                                                    self._rate_i[keep])
        self._rates.send({"t": self._rate_t, "E": self._rate_e, "I": self._rate_i})
        self.chunks += 1
        self._status()

    def reset(self) -> None:
        """Back to t = 0 with fresh initial conditions (keeps running if it was)."""
        self.state = None
        self.chunks = 0
        self.model = self._build()
        self.raster.clear()
        self._rate_t, self._rate_e, self._rate_i = np.empty(0), np.empty(0), np.empty(0)
        self._rates.send(self._empty_rates())
        self._status()

    # ---- plots --------------------------------------------------------------------------------
    @staticmethod
    def _empty_rates() -> dict[str, np.ndarray]:
        return {"t": np.empty(0), "E": np.empty(0), "I": np.empty(0)}

    def rates(self) -> dict[str, np.ndarray]:
        """Population rates [Hz] in the window: ``t`` (bin ends, ms), ``E``, ``I``."""
        return {"t": self._rate_t.copy(), "E": self._rate_e.copy(), "I": self._rate_i.copy()}

    def _rate_element(self, data: dict[str, np.ndarray]) -> hv.Overlay:
        return (hv.Curve((data["t"], data["E"]), "time [ms]", "rate [Hz]", label="E")
                .opts(color="#1f77b4")
                * hv.Curve((data["t"], data["I"]), "time [ms]", "rate [Hz]", label="I")
                .opts(color="#ff7f0e")).opts(legend_position="top_left")

    def _status(self) -> None:
        state = "running" if self.running else "stopped"
        self.status.object = (f"t = {self.t:.0f} ms, {state}; {self.model.E.n} E + "
                              f"{self.model.I.n} I neurons, external rate "
                              f"{self.model.ext_rate_hz:.0f} Hz")
