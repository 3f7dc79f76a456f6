"""A live spike raster that streams: push spikes as they happen, the plot updates in place.

The plot is one ``hv.DynamicMap`` fed by a ``hv.streams.Pipe``: each push sends the events of
the visible window, and Bokeh updates its data source instead of rebuilding the figure. When
the window holds more neuron-steps than a browser can draw as points (10,000 neurons over 1 s),
the raster is aggregated into an image of spike counts per (time bin, neuron bin).

Example::

    >>> import torch
    >>> from neuraltide.widgets import RasterPlot
    >>> raster = RasterPlot([("E", 80), ("I", 20)], window=100.0)
    >>> raster.push(1.0, torch.arange(100) % 7 == 0)      # spikes of one step at t = 1 ms
    >>> int(raster.events()[1].size)
    15
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import holoviews as hv
import numpy as np
import panel as pn
import torch
from bokeh.palettes import Category10_10

from ._live import live_view

__all__ = ["Density", "RasterPlot"]

POINT_LIMIT = 2_000_000  #: neuron-steps in the window above which AUTO aggregates


class Density(Enum):
    """How the raster is drawn."""

    POINTS = "points"  #: one dot per spike
    IMAGE = "image"  #: spike counts per (time bin, neuron bin)
    AUTO = "auto"  #: points unless the window holds more than POINT_LIMIT neuron-steps


class RasterPlot:
    """Streaming spike raster, coloured by population.

    Args:
        populations: ``[(name, n), ...]`` stacked bottom-up, or a neuron count.
        window: visible time span [ms]; older spikes are dropped.
        dt: step [ms] (sets the time bins of the image mode).
        density: :class:`Density`.
        bins: ``(time bins, neuron bins)`` of the image mode.
        height, width: plot size [px].
    """

    def __init__(self, populations: Sequence[tuple[str, int]] | int, *, window: float = 1000.0,
                 dt: float = 1.0, density: Density = Density.AUTO,
                 bins: tuple[int, int] = (250, 250), height: int = 300, width: int = 700
                 ) -> None:
        if isinstance(populations, int):
            populations = [("neurons", populations)]
        pops = [(str(name), int(n)) for name, n in populations]
        if not pops or any(n < 1 for _, n in pops):
            raise ValueError(f"RasterPlot: populations must be non-empty (name, n >= 1) pairs, "
                             f"got {populations!r}.")
        for name, value in (("window", window), ("dt", dt)):
            if not (isinstance(value, float | int) and np.isfinite(value) and value > 0):
                raise ValueError(f"RasterPlot: {name} must be a number > 0 [ms], got {value!r}.")
        if not isinstance(density, Density):
            raise ValueError(f"RasterPlot: density must be a Density, got {density!r}.")
        self.populations = pops
        self.offsets = np.cumsum([0] + [n for _, n in pops])
        self.n = int(self.offsets[-1])
        self.window, self.dt = float(window), float(dt)
        if density is Density.AUTO:
            density = (Density.IMAGE if self.n * window / dt > POINT_LIMIT else Density.POINTS)
        self.density = density
        self.bins = bins
        self.now = 0.0
        self._t = np.empty(0)
        self._i = np.empty(0, dtype=np.int64)
        self.frames = 0  #: updates sent to the plot
        self._pipe = hv.streams.Pipe(data=self._frame())
        self.view = live_view(self._element, self._pipe, height=height, width=width)
        self.panel = pn.pane.HoloViews(self.view, sizing_mode="fixed")

    # ---- data in ------------------------------------------------------------------------------
    def push(self, t: float, spikes: torch.Tensor | np.ndarray, *, emit: bool = True) -> None:
        """Add the spikes of one step at time ``t`` [ms]: a 0/1 (or bool) vector of all
        ``n`` neurons, populations concatenated in order."""
        s = np.asarray(spikes.detach().cpu() if isinstance(spikes, torch.Tensor) else spikes)
        if s.shape != (self.n,):
            raise ValueError(f"RasterPlot.push: spikes must have shape ({self.n},), got "
                             f"{s.shape}.")
        i = np.flatnonzero(s)
        self.push_events(np.full(i.size, float(t)), i, emit=emit)
        self.now = max(self.now, float(t))

    def push_events(self, t: np.ndarray | torch.Tensor, i: np.ndarray | torch.Tensor,
                    population: str | None = None, *, emit: bool = True) -> None:
        """Add spike events: times ``t`` [ms] and neuron indices ``i`` (within ``population``
        if given, else over all neurons)."""
        t = np.asarray(t.cpu() if isinstance(t, torch.Tensor) else t, dtype=float).ravel()
        i = np.asarray(i.cpu() if isinstance(i, torch.Tensor) else i, dtype=np.int64).ravel()
        if t.shape != i.shape:
            raise ValueError(f"RasterPlot.push_events: t and i must have the same length, got "
                             f"{t.size} and {i.size}.")
        if not np.isfinite(t).all():
            raise ValueError("RasterPlot.push_events: t holds NaN or inf values.")
        if population is not None:
            names = [p for p, _ in self.populations]
            if population not in names:
                raise ValueError(f"RasterPlot.push_events: population must be one of {names}, "
                                 f"got {population!r}.")
            k = names.index(population)
            size = self.populations[k][1]
            if i.size and (i.min() < 0 or i.max() >= size):
                raise ValueError(f"RasterPlot.push_events: i must lie in [0, {size}) for "
                                 f"{population!r}, got [{i.min()}, {i.max()}].")
            i = i + self.offsets[k]
        elif i.size and (i.min() < 0 or i.max() >= self.n):
            raise ValueError(f"RasterPlot.push_events: i must lie in [0, {self.n}), got "
                             f"[{i.min()}, {i.max()}].")
        self._t = np.concatenate([self._t, t])
        self._i = np.concatenate([self._i, i])
        if t.size:
            self.now = max(self.now, float(t.max()))
        if emit:
            self.refresh()

    def push_monitor(self, monitor: object, trial: int = 0, *, emit: bool = True) -> None:
        """Add what a :class:`~neuraltide.network.SpikeMonitor` recorded (call it after each
        chunk of a run with a fresh monitor)."""
        name, t, i, _ = monitor.events(trial)
        self.push_events(t, i, population=name if len(self.populations) > 1 else None,
                         emit=emit)

    def clear(self) -> None:
        """Forget every spike and restart the clock."""
        self._t, self._i, self.now = np.empty(0), np.empty(0, dtype=np.int64), 0.0
        self.refresh()

    def refresh(self) -> None:
        """Drop spikes older than the window and send the window to the plot."""
        keep = self._t > self.now - self.window
        self._t, self._i = self._t[keep], self._i[keep]
        self._pipe.send(self._frame())
        self.frames += 1

    # ---- data out ------------------------------------------------------------------------------
    def events(self) -> tuple[np.ndarray, np.ndarray]:
        """``(t [ms], neuron index)`` of the spikes in the window."""
        return self._t.copy(), self._i.copy()

    def _frame(self) -> dict:
        lo = max(self.now - self.window, 0.0)
        if self.density is Density.POINTS:
            pop = np.searchsorted(self.offsets, self._i, side="right") - 1
            names = np.array([p for p, _ in self.populations])[pop] if pop.size else \
                np.empty(0, dtype=str)
            return {"t": self._t, "i": self._i, "population": names, "range": (lo, self.now)}
        tb, nb = self.bins
        counts, _, _ = np.histogram2d(self._i, self._t, bins=(min(nb, self.n), tb),
                                      range=((0, self.n), (lo, max(lo + self.window,
                                                                    self.now))))
        return {"counts": counts, "range": (lo, max(lo + self.window, self.now))}

    def _element(self, data: dict) -> hv.Element:
        lo, hi = data["range"]
        bounds = [float(b) for b in self.offsets[1:-1]]  # between populations
        lines = hv.Overlay([hv.HLine(b - 0.5).opts(color="gray", line_width=0.8)
                            for b in bounds])
        if self.density is Density.POINTS:
            points = hv.Points((data["t"], data["i"], data["population"]),
                               kdims=["t", "i"], vdims=["population"]).opts(
                color="population", cmap=Category10_10, size=2, marker="square",
                xlabel="time [ms]", ylabel="neuron", show_legend=len(self.populations) > 1,
                xlim=(lo, max(hi, lo + self.window)), ylim=(-0.5, self.n - 0.5))
            return (points * lines) if bounds else points
        # an Image's first row is its top: the highest neuron bin
        image = hv.Image(data["counts"][::-1], bounds=(lo, 0, hi, self.n), kdims=["t", "i"],
                         vdims=["spikes"]).opts(
            cmap="fire", xlabel="time [ms]", ylabel="neuron", colorbar=True,
            clabel="spikes per bin")
        return (image * lines) if bounds else image
