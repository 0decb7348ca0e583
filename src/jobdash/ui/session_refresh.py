# mypy: untyped-calls-exclude=panel
"""One periodic pull per browser session: every widget's ``refresh()`` in one hold.

Sessions never receive pushes from the ingestion thread (DESIGN.md §4). Each
session instead owns exactly one :class:`SessionRefresher`, whose periodic
callback runs on the session's IOLoop and asks every widget of the page to
``refresh()``. A widget compares the service versions it last rendered and
returns at once when nothing changed, so an idle tick costs a handful of
integer comparisons; when something did change, the patches of all widgets go
to the browser together, because the tick runs inside one ``pn.io.hold()``.

A process-wide count of started, not yet stopped refreshers
(:func:`live_refreshers`) lets tests and benchmarks prove that closed sessions
leave no callback behind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any, Protocol

import panel as pn
from panel.io.callbacks import PeriodicCallback

__all__ = ["Refreshable", "SessionRefresher", "live_refreshers"]

_logger = logging.getLogger(__name__)

_live_lock = threading.Lock()
_live = 0


def live_refreshers() -> int:
    """How many refreshers in this process are started and not yet stopped.

    One per open browser session; a session that was destroyed must not be
    counted (its callback is gone with it).
    """
    with _live_lock:
        return _live


def _count(delta: int) -> None:
    global _live
    with _live_lock:
        _live += delta


class Refreshable(Protocol):
    """What the refresher drives: anything with a cheap, idempotent ``refresh()``."""

    def refresh(self) -> None:
        """Bring the view up to date with its services; return fast if unchanged."""
        ...


class SessionRefresher:
    """Calls ``refresh()`` on a session's widgets every ``interval`` seconds.

    Each widget is guarded: an exception is logged (with its traceback the
    first time, then once per distinct error) and the other widgets still
    refresh; the failing widget is retried on the next tick. Refreshes run in
    the order given.

    Parameters
    ----------
    widgets
        The session's views, each with ``refresh()``.
    interval
        Seconds between ticks (the ``refresh_interval`` setting).
    """

    def __init__(self, widgets: Iterable[Refreshable], interval: float) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self._widgets = tuple(widgets)
        self._period_ms = max(1, round(interval * 1000))
        self._callback: Any = None
        self._started = False
        # Per widget index: the last error text logged, to log each distinct
        # failure once instead of four times a second.
        self._failing: dict[int, str] = {}
        self._ticks = 0

    @property
    def widgets(self) -> tuple[Refreshable, ...]:
        """The views refreshed on every tick."""
        return self._widgets

    @property
    def running(self) -> bool:
        """Started and not yet stopped."""
        return self._started

    @property
    def ticks(self) -> int:
        """How many ticks have run (for tests and benchmarks)."""
        return self._ticks

    @property
    def period_ms(self) -> int:
        """The callback period in milliseconds."""
        return self._period_ms

    def start(self) -> None:
        """Schedule the periodic callback on the current session; idempotent.

        Must be called while the session's document is current (as it is
        while a page is built for a session). The callback is stopped when
        the session is destroyed.
        """
        if self._started:
            return
        # What pn.state.add_periodic_callback builds, with two options it
        # does not pass on: ``background`` keeps the page's busy indicator
        # from spinning on every tick, and ``log=False`` keeps four INFO lines
        # a second per session out of the server log.
        callback = PeriodicCallback(
            callback=self.refresh_all,
            period=self._period_ms,
            log=False,
            background=True,
        )
        callback.start()
        self._callback = callback
        self._started = True
        _count(+1)
        document = pn.state.curdoc
        if document is not None and document.session_context is not None:
            # Only with a session: without one, Panel would register the
            # callback globally, for every future session.
            pn.state.on_session_destroyed(self._session_destroyed)

    def stop(self) -> None:
        """Stop the periodic callback; idempotent."""
        if not self._started:
            return
        self._started = False
        _count(-1)
        callback, self._callback = self._callback, None
        if callback is not None:
            callback.stop()

    def refresh_all(self) -> None:
        """One tick: refresh every widget inside one ``pn.io.hold()``."""
        self._ticks += 1
        with pn.io.hold():
            for index, widget in enumerate(self._widgets):
                try:
                    widget.refresh()
                except Exception as exc:
                    self._report(index, widget, exc)
                else:
                    if index in self._failing:
                        del self._failing[index]
                        _logger.info("%s refreshes again", type(widget).__name__)

    def _report(self, index: int, widget: Refreshable, exc: Exception) -> None:
        text = f"{type(exc).__name__}: {exc}"
        if self._failing.get(index) == text:
            return
        self._failing[index] = text
        _logger.exception(
            "refresh of %s failed (logged once until it changes or recovers)",
            type(widget).__name__,
        )

    def _session_destroyed(self, session_context: object) -> None:
        self.stop()
