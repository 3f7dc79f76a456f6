"""Parameter sliders generated from model metadata, and a small live neuron explorer.

Every NeuralTide model describes its parameters with :class:`neuraltide.ParamSpec` (unit,
valid range, typical range, description), so sliders need no per-model code::

    from neuraltide.neurons import LIF
    from neuraltide.widgets import NeuronTraceExplorer
    NeuronTraceExplorer(lambda **p: LIF(dt=0.1, **p), current=2.0).widget   # in a notebook
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from neuraltide import ParamSpec
from neuraltide import surrogate as sg
from neuraltide.neurons import NeuronModel
from neuraltide.surrogate import Surrogate

__all__ = ["NeuronTraceExplorer", "ParameterSliders", "SurrogateExplorer", "slider_for"]


def slider_for(spec: ParamSpec, value: float | None = None) -> W.ValueWidget:
    """A slider for one parameter: label ``"name [unit]"``, range from ``spec.typical``
    (or the valid range), the description as tooltip."""
    lo, hi = spec.typical or (spec.low if spec.low is not None else -1.0,
                              spec.high if spec.high is not None else 1.0)
    value = spec.default if value is None else value
    lo, hi = min(lo, value), max(hi, value)
    common = dict(value=value, min=lo, max=hi, description=f"{spec.name} [{spec.unit}]",
                  tooltip=spec.description, continuous_update=False,
                  style={"description_width": "initial"}, layout=W.Layout(width="420px"))
    if spec.integer:
        return W.IntSlider(step=1, **common)
    return W.FloatSlider(step=(hi - lo) / 200, readout_format=".3g", **common)


class ParameterSliders:
    """Sliders for the parameters of ``model``, one per :class:`ParamSpec`.

    Args:
        model: any NeuralTide neuron model (its ``specs`` and current values are used).
        names: which parameters to show; default all non-integer ones.
    """

    def __init__(self, model: NeuronModel, names: Sequence[str] | None = None) -> None:
        specs = model.specs
        names = list(names) if names is not None else [
            n for n, s in specs.items() if not s.integer
        ]
        unknown = [n for n in names if n not in specs]
        if unknown:
            raise ValueError(
                f"ParameterSliders: names must be among {list(specs)}, got {unknown}."
            )
        current = model.values()
        self.sliders: dict[str, W.ValueWidget] = {}
        for n in names:
            v = current[n]
            self.sliders[n] = slider_for(specs[n], float(v.flatten()[0]) if v.numel() else None)
        self.widget = W.VBox(list(self.sliders.values()))

    def values(self) -> dict[str, float]:
        """Current slider values, name -> value."""
        return {n: s.value for n, s in self.sliders.items()}

    def observe(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call ``callback(change)`` whenever any slider value changes."""
        for s in self.sliders.values():
            s.observe(callback, names="value")


class NeuronTraceExplorer:
    """Membrane trace of one neuron under a current step, redrawn as sliders move.

    Args:
        make_model: ``make_model(**params) -> NeuronModel``; called with no arguments once to
            read the parameter metadata, then with the slider values.
        current: amplitude of the current step (the model's input unit).
        duration: simulated time [ms].
        onset: start of the step [ms].
        names: parameters to expose (default: all non-integer ones).
        current_range: range of the current slider.
    """

    def __init__(
        self,
        make_model: Callable[..., NeuronModel],
        *,
        current: float = 2.0,
        duration: float = 200.0,
        onset: float = 20.0,
        names: Sequence[str] | None = None,
        current_range: tuple[float, float] = (0.0, 5.0),
    ) -> None:
        self.make_model = make_model
        self.duration = duration
        self.onset = onset
        model = make_model()
        self.params = ParameterSliders(model, names)
        self.current = W.FloatSlider(
            value=current, min=current_range[0], max=current_range[1],
            step=(current_range[1] - current_range[0]) / 200, description="I (input)",
            continuous_update=False, style={"description_width": "initial"},
            layout=W.Layout(width="420px"),
        )
        self.readout = W.Label()
        self.out = W.Output()
        self.fig, self.ax = plt.subplots(figsize=(7, 3))
        plt.close(self.fig)  # shown through self.out only
        (self.line,) = self.ax.plot([], [], lw=1.2)
        self.th_line = self.ax.axhline(0.0, ls="--", color="gray", lw=0.8, label="threshold")
        self.ax.set_xlabel("time [ms]")
        self.ax.set_ylabel("membrane")
        self.params.observe(self._update)
        self.current.observe(self._update, names="value")
        self.widget = W.HBox([W.VBox([*self.params.sliders.values(), self.current,
                                      self.readout]), self.out])
        self.n_updates = 0
        self._update(None)

    def simulate(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, NeuronModel]:
        """Run the model with the current slider values: ``(t, v, spikes, model)``."""
        model = self.make_model(**self.params.values())
        steps = round(self.duration / model.dt)
        x = torch.zeros(steps, 1, dtype=torch.float64)
        x[round(self.onset / model.dt):] = self.current.value
        rec = model.double().run(x, record=("v",))
        return rec.t, rec.traces["v"][:, 0], rec.spikes[:, 0], model

    def _update(self, _change: Any) -> None:
        t, v, s, model = self.simulate()
        self.line.set_data(t.numpy(), v.detach().numpy())
        vals = model.values()
        th = vals.get("v_th", vals.get("threshold", vals.get("v_peak")))
        if th is not None:
            self.th_line.set_ydata([float(th.flatten()[0])] * 2)
        self.ax.relim()
        self.ax.autoscale_view()
        rate = float(s.sum()) / (self.duration - self.onset) * 1000.0
        self.readout.value = f"{int(s.sum())} spikes, {rate:.1f} spikes/s after onset"
        self.n_updates += 1
        with self.out:
            self.out.clear_output(wait=True)
            display(self.fig)


class SurrogateExplorer:
    """Pick a surrogate and its sharpness; see its derivative and primitive redrawn.

    Args:
        surrogates: the classes to choose from (default: every built-in surrogate).
        alpha: initial sharpness.
        x_range: plotted range of :math:`x = v - \\vartheta`.
    """

    def __init__(
        self,
        surrogates: Sequence[type[Surrogate]] = (
            sg.ATan, sg.Sigmoid, sg.FastSigmoid, sg.Gaussian, sg.Triangle, sg.StraightThrough,
        ),
        *,
        alpha: float = 2.0,
        x_range: tuple[float, float] = (-2.0, 2.0),
    ) -> None:
        self.kind = W.Dropdown(options=[(c.__name__, c) for c in surrogates],
                               value=surrogates[0], description="surrogate")
        self.alpha = W.FloatLogSlider(value=alpha, base=10, min=-1, max=2, step=0.02,
                                      description="alpha", continuous_update=False)
        self.out = W.Output()
        self.x = torch.linspace(x_range[0], x_range[1], 401, dtype=torch.float64)
        self.fig, (self.ax_d, self.ax_p) = plt.subplots(1, 2, figsize=(8, 3),
                                                        layout="constrained")
        plt.close(self.fig)
        (self.line_d,) = self.ax_d.plot([], [])
        (self.line_p,) = self.ax_p.plot([], [])
        self.ax_d.set(xlabel="x = v - threshold", ylabel="surrogate derivative g(x)")
        self.ax_p.set(xlabel="x = v - threshold", ylabel="primitive")
        self.kind.observe(self._update, names="value")
        self.alpha.observe(self._update, names="value")
        self.widget = W.VBox([W.HBox([self.kind, self.alpha]), self.out])
        self._update(None)

    @property
    def surrogate(self) -> Surrogate:
        """The surrogate object the controls describe."""
        return self.kind.value(alpha=self.alpha.value)

    def _update(self, _change: Any) -> None:
        s = self.surrogate
        xs = self.x.numpy()
        self.line_d.set_data(xs, s.derivative(self.x).numpy())
        self.line_p.set_data(xs, s.primitive(self.x).numpy())
        for ax in (self.ax_d, self.ax_p):
            ax.relim()
            ax.autoscale_view()
        self.ax_d.set_title(repr(s))
        with self.out:
            self.out.clear_output(wait=True)
            display(self.fig)
