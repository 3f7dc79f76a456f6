"""Phase plane of a two-variable neuron: nullclines, vector field and the simulated trajectory,
with the spike-reset jumps drawn, under a current set by a slider.

Two planes ship: Izhikevich ``(v, u)`` and the adaptive LIF ``(v, a)`` (membrane and threshold
adaptation). A plane describes its vector field and nullclines; the trajectory always comes
from the model's own simulation, so what is drawn is what the library computes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
import torch

from neuraltide.neurons import AdaptiveLIF, Izhikevich, NeuronModel
from neuraltide.neurons.izhikevich import IzhikevichPreset

from ._live import live_view
from .params import ParameterPanel

__all__ = ["AdaptiveLIFPlane", "IzhikevichPlane", "PhasePlane", "Plane"]


class Plane(ABC):
    """A two-variable neuron drawn in its phase plane."""

    name: str
    x: str  #: state variable on the x axis (recorded by ``model.run``)
    y: str  #: state variable on the y axis
    current: float  #: initial input
    current_range: tuple[float, float]
    box: tuple[float, float, float, float]  #: x0, x1, y0, y1 of the view

    @abstractmethod
    def make(self, **params: float) -> NeuronModel:
        """The model with these parameters."""

    @abstractmethod
    def field(self, x: np.ndarray, y: np.ndarray, current: float,
              p: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Time derivatives ``(dx/dt, dy/dt)`` per ms between spikes."""

    @abstractmethod
    def nullclines(self, x: np.ndarray, current: float, p: dict[str, float]
                   ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """``(label, xs, ys)`` curves where one derivative vanishes (and the threshold)."""


class IzhikevichPlane(Plane):
    """:math:`v' = 0.04v^2 + 5v + 140 - u + I`, :math:`u' = a(bv - u)`; after a spike
    :math:`v \\to c`, :math:`u \\to u + d`."""

    name, x, y = "Izhikevich", "v", "u"
    current, current_range = 10.0, (-5.0, 20.0)
    box = (-85.0, 35.0, -20.0, 20.0)

    def __init__(self, preset: IzhikevichPreset = IzhikevichPreset.RS) -> None:
        self.preset = preset

    def make(self, **params: float) -> NeuronModel:
        return Izhikevich.preset(self.preset, dt=0.1, **params)

    def field(self, x: np.ndarray, y: np.ndarray, current: float,
              p: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        return 0.04 * x**2 + 5 * x + 140 - y + current, p["a"] * (p["b"] * x - y)

    def nullclines(self, x: np.ndarray, current: float, p: dict[str, float]
                   ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        return [("v-nullcline", x, 0.04 * x**2 + 5 * x + 140 + current),
                ("u-nullcline", x, p["b"] * x)]


class AdaptiveLIFPlane(Plane):
    """:math:`\\tau v' = -(v - v_\\text{rest}) + RI`, :math:`a' = -a/\\tau_a`; a spike when
    :math:`v > v_\\text{th} + a`, then :math:`v \\to v_\\text{reset}`, :math:`a \\to a + b`."""

    name, x, y = "Adaptive LIF", "v", "a"
    current, current_range = 2.5, (0.0, 6.0)
    box = (-75.0, -25.0, -1.0, 25.0)

    def make(self, **params: float) -> NeuronModel:
        params.setdefault("adapt", 4.0)
        params.setdefault("tau_adapt", 100.0)
        return AdaptiveLIF(dt=0.1, **params)

    def field(self, x: np.ndarray, y: np.ndarray, current: float,
              p: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        dv = (-(x - p["v_rest"]) + p["r_mem"] * current) / p["tau_mem"]
        return dv, -y / p["tau_adapt"] + 0 * x

    def nullclines(self, x: np.ndarray, current: float, p: dict[str, float]
                   ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        v0 = p["v_rest"] + p["r_mem"] * current
        y0, y1 = self.box[2], self.box[3]
        return [("v-nullcline", np.array([v0, v0]), np.array([y0, y1])),
                ("a-nullcline", x, np.zeros_like(x)),
                ("threshold v = v_th + a", p["v_th"] + np.array([y0, y1]), np.array([y0, y1]))]


class PhasePlane:
    """Interactive phase plane.

    Args:
        planes: the planes to choose from (default: Izhikevich and adaptive LIF).
        duration: simulated time of the trajectory [ms].
        grid: arrows per axis of the vector field.
    """

    def __init__(self, planes: Sequence[Plane] | None = None, *, duration: float = 300.0,
                 grid: int = 15) -> None:
        planes = list(planes) if planes is not None else [IzhikevichPlane(), AdaptiveLIFPlane()]
        if not planes:
            raise ValueError("PhasePlane: planes must not be empty.")
        if not isinstance(grid, int) or grid < 2:
            raise ValueError(f"PhasePlane: grid must be an int >= 2, got {grid!r}.")
        self.planes = {p.name: p for p in planes}
        self.duration, self.grid = float(duration), grid
        self.plane_select = pn.widgets.Select(label="model", options=list(self.planes))
        self.preset_select = pn.widgets.Select(label="Izhikevich preset",
                                               options=[p.name for p in IzhikevichPreset])
        self.current = pn.widgets.FloatSlider(label="input current", start=0, end=1, value=0,
                                              width=300)
        self.params: ParameterPanel | None = None
        self._param_box = pn.Column()
        self.result: dict[str, Any] = {}
        self._pipe = hv.streams.Pipe(data={})
        self.plane_select.param.watch(lambda e: self._set_plane(), "value")
        self.preset_select.param.watch(lambda e: self._set_plane(), "value")
        self.current.param.watch(lambda e: self.update(), "value")
        self._set_plane()
        view = live_view(self._element, self._pipe, height=420, width=560)
        self.panel = pn.Row(pn.Column("## Phase plane", self.plane_select, self.preset_select,
                                      self.current, self._param_box), pn.pane.HoloViews(view))

    def close(self) -> None:
        """Cancel a pending debounced update (nothing else runs in the background)."""
        if self.params is not None:
            self.params.close()

    @property
    def plane(self) -> Plane:
        plane = self.planes[self.plane_select.value]
        if isinstance(plane, IzhikevichPlane):
            plane.preset = IzhikevichPreset[self.preset_select.value]
        return plane

    def _set_plane(self) -> None:
        plane = self.plane
        self.preset_select.visible = isinstance(plane, IzhikevichPlane)
        if self.params is not None:
            self.params.close()
        self.params = ParameterPanel(plane.make())
        self.params.on_change(lambda values: self.update())
        self._param_box.objects = [self.params.panel]
        lo, hi = plane.current_range
        self.current.param.update(start=lo, end=hi, step=(hi - lo) / 200, value=plane.current)
        self.update()

    def update(self) -> None:
        """Re-simulate and redraw."""
        if self.params is None:
            return
        plane = self.plane
        try:
            model = plane.make(**self.params.values()).double()
        except ValueError as e:
            self.result["error"] = str(e)
            return
        values = {k: float(v.flatten()[0]) for k, v in model.values().items()}
        steps = round(self.duration / model.dt)
        x = torch.full((steps, 1), float(self.current.value), dtype=torch.float64)
        with torch.no_grad():
            rec = model.run(x, record=(plane.x, plane.y))
        xs = rec.traces[plane.x][:, 0].numpy()
        ys = rec.traces[plane.y][:, 0].numpy()
        spiked = np.flatnonzero(rec.spikes[:, 0].numpy()[:-1])
        jumps = [(xs[n], ys[n], xs[n + 1], ys[n + 1]) for n in spiked]
        x0, x1, y0, y1 = plane.box
        gx, gy = np.meshgrid(np.linspace(x0, x1, self.grid), np.linspace(y0, y1, self.grid))
        dx, dy = plane.field(gx, gy, float(self.current.value), values)
        # arrows in screen proportions: scale each axis by its span
        ax, ay = dx / (x1 - x0), dy / (y1 - y0)
        self.result = {"x": xs, "y": ys, "jumps": jumps, "spike_steps": spiked,
                       "spikes": int(rec.spikes.sum()),
                       "nullclines": plane.nullclines(np.linspace(x0, x1, 200),
                                                      float(self.current.value), values),
                       "field": (gx.ravel(), gy.ravel(), np.arctan2(ay, ax).ravel(),
                                 np.ones(gx.size)),
                       "labels": (plane.x, plane.y), "box": plane.box}
        self._pipe.send(self.result)

    def _element(self, data: dict) -> hv.Overlay:
        if not data:
            return hv.Overlay([hv.Curve([])])
        xl, yl = data["labels"]
        x0, x1, y0, y1 = data["box"]
        layers = [hv.VectorField(data["field"], [xl, yl], ["angle", "magnitude"]).opts(
            color="lightgray", magnitude=hv.dim("magnitude") * 0.04, pivot="mid")]
        colours = ["#d62728", "#2ca02c", "#9467bd"]
        for k, (label, xs, ys) in enumerate(data["nullclines"]):
            layers.append(hv.Curve((xs, ys), xl, yl, label=label).opts(
                color=colours[k % 3], line_width=2))
        xs, ys = data["x"], data["y"]
        # the trajectory is continuous between spikes; each reset is drawn as a dashed jump
        paths, start = [], 0
        for j in data["spike_steps"]:
            paths.append(np.column_stack([xs[start:j + 1], ys[start:j + 1]]))
            start = j + 1
        paths.append(np.column_stack([xs[start:], ys[start:]]))
        layers.append(hv.Path(paths, [xl, yl], label="trajectory").opts(color="black",
                                                                         line_width=1.5))
        layers.append(hv.Segments(data["jumps"] or [(np.nan,) * 4], [xl, yl, "x1", "y1"],
                                  label="reset").opts(color="black", line_dash="dashed"))
        return hv.Overlay(layers).opts(xlim=(x0, x1), ylim=(y0, y1),
                                       legend_position="top_left")
