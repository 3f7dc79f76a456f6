"""The one place where widgets schedule work: a periodic callback that can be stopped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn

__all__ = ["LiveLoop"]


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
