"""Live loss, accuracy and firing rates while a :class:`~neuraltide.training.Trainer` runs.

It is a trainer callback::

    monitor = TrainingMonitor()
    monitor.panel                                   # show it (notebook or app)
    Trainer(model, optimizer, loss, callbacks=[monitor]).fit(train, epochs=10, val=test)
"""

from __future__ import annotations

import math

import holoviews as hv
import numpy as np
import panel as pn

from neuraltide.training import EpochMetrics

from ._live import live_view

__all__ = ["TrainingMonitor"]


class TrainingMonitor:
    """Plots one point per epoch: loss and accuracy (training and validation), and each
    spiking layer's firing rate and silent fraction."""

    def __init__(self, *, height: int = 220, width: int = 360) -> None:
        self.history: list[EpochMetrics] = []
        self._pipe = hv.streams.Pipe(data=[])
        self.status = pn.pane.Markdown("waiting for the first epoch")
        views = [pn.pane.HoloViews(live_view(f, self._pipe, height=height, width=width))
                 for f in (self._loss, self._accuracy, self._rates, self._silent)]
        self.panel = pn.Column(pn.Row(*views[:2]), pn.Row(*views[2:]), self.status)

    def on_epoch_end(self, trainer: object, metrics: EpochMetrics) -> None:
        """The :class:`~neuraltide.training.Callback` hook."""
        self.history.append(metrics)
        self._pipe.send(list(self.history))
        m = metrics
        val = "" if math.isnan(m.val_accuracy) else f", validation {m.val_accuracy:.1%}"
        self.status.object = (f"epoch {m.epoch}: loss {m.loss:.4f}, accuracy {m.accuracy:.1%}"
                              f"{val} ({m.seconds:.1f} s)")

    def series(self, name: str) -> np.ndarray:
        """One metric over the epochs, e.g. ``"loss"`` or ``"val_accuracy"``."""
        return np.array([getattr(m, name) for m in self.history], dtype=float)

    def _curves(self, data: list[EpochMetrics], names: list[tuple[str, str]],
                ylabel: str) -> hv.Overlay:
        epochs = [m.epoch for m in data]
        layers = [hv.Curve((epochs, [getattr(m, attr) for m in data]), "epoch", ylabel,
                           label=label) for attr, label in names]
        return hv.Overlay(layers).opts(legend_position="top_right")

    def _loss(self, data: list[EpochMetrics]) -> hv.Overlay:
        return self._curves(data, [("loss", "training"), ("val_loss", "validation")], "loss")

    def _accuracy(self, data: list[EpochMetrics]) -> hv.Overlay:
        return self._curves(data, [("accuracy", "training"), ("val_accuracy", "validation")],
                            "accuracy")

    def _per_layer(self, data: list[EpochMetrics], attr: str, ylabel: str) -> hv.Overlay:
        epochs = [m.epoch for m in data]
        layers = sorted({k for m in data for k in getattr(m, attr)})
        curves = [hv.Curve((epochs, [getattr(m, attr).get(k, np.nan) for m in data]), "epoch",
                           ylabel, label=k) for k in layers]
        return hv.Overlay(curves or [hv.Curve([], "epoch", ylabel)]).opts(
            legend_position="top_right")

    def _rates(self, data: list[EpochMetrics]) -> hv.Overlay:
        return self._per_layer(data, "rate", "spikes per step")

    def _silent(self, data: list[EpochMetrics]) -> hv.Overlay:
        return self._per_layer(data, "silent", "silent fraction")
