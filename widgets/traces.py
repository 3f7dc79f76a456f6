"""Live membrane traces of chosen neurons, with threshold and reset lines and spikes marked.

Example::

    >>> import torch
    >>> from neuraltide.widgets import MembraneTrace
    >>> trace = MembraneTrace([0, 3], threshold=-50.0, reset=-65.0)
    >>> trace.push(0.1, torch.linspace(-70, -60, 5), spikes=torch.zeros(5))
    >>> trace.data()["v"].shape          # (samples, chosen neurons)
    (1, 2)
"""

from __future__ import annotations

from collections.abc import Sequence

import holoviews as hv
import numpy as np
import panel as pn
import torch
from bokeh.palettes import Category10_10

from ._live import live_view

__all__ = ["MembraneTrace"]


def _array(x: torch.Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    return np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=float)


class MembraneTrace:
    """Streaming membrane potential of a few neurons.

    Args:
        neurons: indices of the neurons to show (into the vectors given to :meth:`push`).
        threshold, reset: drawn as dashed lines when given [mV, or the model's unit].
        window: visible time span [ms].
        height, width: plot size [px].
    """

    def __init__(self, neurons: Sequence[int], *, threshold: float | None = None,
                 reset: float | None = None, window: float = 500.0, height: int = 260,
                 width: int = 700) -> None:
        idx = [int(k) for k in neurons]
        if not idx or min(idx) < 0 or len(set(idx)) != len(idx):
            raise ValueError(f"MembraneTrace: neurons must be distinct indices >= 0, got "
                             f"{neurons!r}.")
        if not (isinstance(window, float | int) and window > 0):
            raise ValueError(f"MembraneTrace: window must be > 0 [ms], got {window!r}.")
        self.neurons = idx
        self.threshold, self.reset, self.window = threshold, reset, float(window)
        self._t = np.empty(0)
        self._v = np.empty((0, len(idx)))
        self._s = np.empty((0, len(idx)), dtype=bool)
        self._pipe = hv.streams.Pipe(data=self.data())
        self.view = live_view(self._element, self._pipe, height=height, width=width)
        self.panel = pn.pane.HoloViews(self.view, sizing_mode="fixed")

    def push(self, t: float | Sequence[float], v: torch.Tensor | np.ndarray,
             spikes: torch.Tensor | np.ndarray | None = None) -> None:
        """Add one sample (``t`` a number, ``v`` all neurons ``(n,)``) or many
        (``t`` ``(T,)``, ``v`` ``(T, n)``); ``spikes`` of the same shape mark spikes."""
        t_arr, v_arr = np.atleast_1d(_array(t)), _array(v)
        if v_arr.ndim == 1:
            v_arr = v_arr[None]
        if v_arr.ndim != 2 or v_arr.shape[0] != t_arr.size:
            raise ValueError(f"MembraneTrace.push: v must be (n,) for one time or (T, n) for "
                             f"T times, got {v_arr.shape} for {t_arr.size} time(s).")
        if v_arr.shape[1] <= max(self.neurons):
            raise ValueError(f"MembraneTrace.push: v has {v_arr.shape[1]} neurons, the trace "
                             f"shows neuron {max(self.neurons)}.")
        s_arr = (np.zeros_like(v_arr, dtype=bool) if spikes is None
                 else _array(spikes).reshape(v_arr.shape) > 0)
        self._t = np.concatenate([self._t, t_arr])
        self._v = np.concatenate([self._v, v_arr[:, self.neurons]])
        self._s = np.concatenate([self._s, s_arr[:, self.neurons]])
        keep = self._t > self._t[-1] - self.window
        self._t, self._v, self._s = self._t[keep], self._v[keep], self._s[keep]
        self._pipe.send(self.data())

    def clear(self) -> None:
        """Forget every sample."""
        self._t = np.empty(0)
        self._v = np.empty((0, len(self.neurons)))
        self._s = np.empty((0, len(self.neurons)), dtype=bool)
        self._pipe.send(self.data())

    def data(self) -> dict[str, np.ndarray]:
        """``t`` ``(T,)``, ``v`` and ``spikes`` ``(T, chosen neurons)`` in the window."""
        return {"t": self._t.copy(), "v": self._v.copy(), "spikes": self._s.copy()}

    def _element(self, data: dict[str, np.ndarray]) -> hv.Overlay:
        t, v, s = data["t"], data["v"], data["spikes"]
        layers = []
        for k, n in enumerate(self.neurons):
            colour = Category10_10[k % 10]
            layers.append(hv.Curve((t, v[:, k]), "time [ms]", "membrane", label=f"neuron {n}")
                          .opts(color=colour, line_width=1.2))
            # a spike is marked where the membrane crossed, at the threshold when known
            ts = t[s[:, k]]
            vs = np.full(ts.size, self.threshold) if self.threshold is not None \
                else v[s[:, k], k]
            layers.append(hv.Scatter((ts, vs), "time [ms]", "membrane").opts(
                color=colour, marker="triangle", size=8))
        for level, dash in ((self.threshold, "dashed"), (self.reset, "dotted")):
            if level is not None:
                layers.append(hv.HLine(level).opts(color="gray", line_dash=dash,
                                                   line_width=1))
        return hv.Overlay(layers).opts(legend_position="top_left", show_legend=True)
