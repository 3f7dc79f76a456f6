"""What every live widget shares: the periodic callback that runs it (and stops for real), and
the streamed plot whose axes follow the data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import holoviews as hv
import panel as pn

__all__ = ["LiveExplorer", "LiveLoop", "live_view"]


class LiveLoop:
    """Calls ``step()`` every ``period`` ms on the notebook's or server's event loop between
    :meth:`start` and :meth:`stop`; :meth:`stop` unregisters the callback, so nothing keeps
    running after a widget is closed."""

    def __init__(self, step: Callable[[], None], period: int) -> None:
        if not isinstance(period, int) or period < 10:
            raise ValueError(f"LiveLoop: period must be an int >= 10 [ms], got {period!r}.")
        self.step, self.period = step, period
        self._callback: Any = None

    @property
    def running(self) -> bool:
        return self._callback is not None

    def start(self) -> None:
        if self._callback is None:
            self._callback = pn.state.add_periodic_callback(self.step, period=self.period)

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None


def _framewise(obj: Any) -> Any:
    # in place on every element: an overlay keeps its own options (legend position, ...)
    for element in obj if isinstance(obj, hv.Overlay) else [obj]:
        element.opts(framewise=True)
    return obj


def live_view(callback: Callable[[Any], Any], pipe: Any, *, height: int, width: int) -> Any:
    """A ``hv.DynamicMap`` redrawn from ``pipe`` whose axes follow every new frame
    (``framewise`` on each element, overlays included) instead of keeping the ranges of the
    first, possibly empty, frame. Options are applied when a frame is drawn, so this works
    before any plotting extension is loaded."""

    def frame(data: Any) -> Any:
        return _framewise(callback(data))

    return hv.DynamicMap(frame, streams=[pipe]).opts(height=height, width=width)


class LiveExplorer:
    """Start / Stop / Reset around a chunked simulation. Subclasses call
    :meth:`_init_controls` and define ``step_chunk()``, ``reset()`` and ``_status()``."""

    def _init_controls(self, period: int) -> None:
        self.loop = LiveLoop(self.step_chunk, period)
        self.start_button = pn.widgets.Button(label="Start", color="success", width=90)
        self.stop_button = pn.widgets.Button(label="Stop", color="warning", width=90)
        self.reset_button = pn.widgets.Button(label="Reset", width=90)
        self.start_button.on_click(lambda e: self.start())
        self.stop_button.on_click(lambda e: self.stop())
        self.reset_button.on_click(lambda e: self.reset())
        self.controls = pn.Row(self.start_button, self.stop_button, self.reset_button)

    def step_chunk(self) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def _status(self) -> None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self.loop.running

    def start(self) -> None:
        """Run chunks periodically until :meth:`stop`."""
        self.loop.start()
        self._status()

    def stop(self) -> None:
        """Stop after the current chunk; no callback stays registered."""
        self.loop.stop()
        self._status()

    def close(self) -> None:
        """Stop and release the periodic callback (call when the widget is discarded)."""
        self.stop()
