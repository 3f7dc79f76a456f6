"""Panel sliders generated from a model's parameter metadata, with debounced change events.

Every NeuralTide model describes its parameters as :class:`~neuraltide.ParamSpec` (unit, valid
range, typical range, description), so one class serves every model::

    >>> from neuraltide.neurons import Izhikevich
    >>> from neuraltide.widgets import ParameterPanel
    >>> panel = ParameterPanel(Izhikevich.preset("RS"))
    >>> sorted(panel.sliders)
    ['a', 'b', 'c', 'd', 'v_peak']
    >>> panel.sliders["a"].label, panel.sliders["a"].value
    ('a [1/ms]', 0.02)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import panel as pn

from neuraltide import ParamSpec
from neuraltide.neurons import NeuronModel

__all__ = ["ParameterPanel", "nice_step", "panel_slider"]


def nice_step(lo: float, hi: float) -> float:
    """A round slider step giving about 100 to 1000 positions over ``[lo, hi]`` (so steps in
    ms fall on multiples of 0.1 ms, 1 ms, ...)."""
    span = hi - lo
    if span <= 0:
        return 1.0
    return 10.0 ** math.floor(math.log10(span / 100))


def panel_slider(spec: ParamSpec, value: float | None = None) -> pn.widgets.Widget:
    """One slider: label ``"name [unit]"``, range from ``spec.typical`` (widened to include
    ``value``). :class:`ParameterPanel` puts the description beside it as a tooltip."""
    lo, hi = spec.typical or (spec.low if spec.low is not None else -1.0,
                              spec.high if spec.high is not None else 1.0)
    value = float(spec.default if value is None else value)
    lo, hi = min(lo, value), max(hi, value)
    common = dict(label=f"{spec.name} [{spec.unit}]", width=300)
    if spec.integer:
        return pn.widgets.IntSlider(start=int(lo), end=int(hi), value=round(value),
                                    step=1, **common)
    return pn.widgets.FloatSlider(start=float(lo), end=float(hi), value=value,
                                  step=nice_step(lo, hi), format="0[.][000]", **common)


class ParameterPanel:
    """Sliders for a model's parameters; :meth:`on_change` callbacks run after the sliders
    settle.

    Args:
        model: any NeuralTide neuron model (its current values set the sliders).
        names: parameters to show (default: all of ``model.specs``).
        debounce: seconds to wait after the last move before calling back, when a server or
            notebook event loop runs; without one (scripts, tests) callbacks run at once.
    """

    def __init__(self, model: NeuronModel, names: Sequence[str] | None = None, *,
                 debounce: float = 0.15) -> None:
        if not isinstance(model, NeuronModel):
            raise ValueError(f"ParameterPanel: model must be a NeuralTide neuron model, got "
                             f"{type(model).__name__}.")
        specs = model.specs
        names = list(specs) if names is None else list(names)
        unknown = [n for n in names if n not in specs]
        if unknown:
            raise ValueError(f"ParameterPanel: names must be among {list(specs)}, got "
                             f"{unknown}.")
        if not (isinstance(debounce, float | int) and debounce >= 0):
            raise ValueError(f"ParameterPanel: debounce must be >= 0 [s], got {debounce!r}.")
        self.debounce = float(debounce)
        current = model.values()
        self.sliders: dict[str, pn.widgets.Widget] = {
            # float32 parameters print as 0.019999999...: seven digits are what they hold
            n: panel_slider(specs[n], float(f"{float(current[n].detach().flatten()[0]):.7g}"))
            for n in names}
        self._callbacks: list[Callable[[dict[str, float]], None]] = []
        self._pending: Any = None
        self._quiet = False
        for s in self.sliders.values():
            s.param.watch(self._changed, "value")
        self.tooltips = {n: pn.widgets.TooltipIcon(value=specs[n].description) for n in names}
        self.panel = pn.Column(*(pn.Row(self.sliders[n], self.tooltips[n]) for n in names))

    def values(self) -> dict[str, float]:
        """Current values, name -> value."""
        return {n: s.value for n, s in self.sliders.items()}

    def set_values(self, values: dict[str, float]) -> None:
        """Move several sliders at once (one callback), widening a range when needed."""
        self._quiet = True
        try:
            for name, v in values.items():
                s = self.sliders[name]
                s.start, s.end = min(s.start, v), max(s.end, v)
                s.value = v
        finally:
            self._quiet = False
        self._changed()

    def on_change(self, callback: Callable[[dict[str, float]], None]) -> None:
        """Call ``callback(values)`` after the sliders change."""
        self._callbacks.append(callback)

    def _changed(self, *_: object) -> None:
        if self._quiet:
            return
        if self._pending is not None:
            self._pending.stop()
            self._pending = None
        if self.debounce and pn.state.curdoc is not None:
            self._pending = pn.state.add_periodic_callback(
                self._fire, period=int(self.debounce * 1000), count=1)
        else:
            self._fire()

    def _fire(self) -> None:
        self._pending = None
        values = self.values()
        for cb in self._callbacks:
            cb(values)

    def close(self) -> None:
        """Cancel a pending callback."""
        if self._pending is not None:
            self._pending.stop()
            self._pending = None
