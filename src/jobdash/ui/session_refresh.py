# mypy: untyped-calls-exclude=panel
"""One pull per browser session: every widget's ``refresh()`` in one hold.

Sessions never receive data from the ingestion thread (docs/architecture.md, threading rules). Each
session instead owns exactly one :class:`SessionRefresher`, whose periodic
callback runs on the session's IOLoop and asks every widget of the page to
``refresh()``. A widget compares the service versions it last rendered and
returns at once when nothing changed, so an idle tick costs a handful of
integer comparisons; when something did change, the patches of all widgets go
to the browser together, because the tick runs inside one ``pn.io.hold()``.

A change need not wait for the next tick (up to ``refresh_interval``, 250 ms
by default, half of what a change took to show with one session). When a
watched model publishes a new version (:func:`wake_on_change`), every live
refresher gets a data-free wake-up: the same refresh, scheduled with
``Document.add_next_tick_callback`` (the one document method that is safe
from another thread), at most one pending per session however many versions
arrive meanwhile. The periodic tick stays, for time-driven texts and as the
safety net.

A process-wide count of started, not yet stopped refreshers
(:func:`live_refreshers`) lets tests and benchmarks prove that closed sessions
leave no callback behind.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable
from typing import Any, Protocol

import panel as pn
import param
from panel.io.callbacks import PeriodicCallback
from panel.io.state import set_curdoc

__all__ = [
    "Refreshable",
    "SessionRefresher",
    "live_refreshers",
    "wake_on_change",
    "wake_sessions",
]

_logger = logging.getLogger(__name__)

_live_lock = threading.Lock()
_live = 0
# Started refreshers that can be woken (weakly: a session that is gone
# without a clean stop must not be kept alive by this).
_wakeable: weakref.WeakSet[SessionRefresher] = weakref.WeakSet()
# Models whose version changes wake the sessions (each watched once).
_watched: weakref.WeakSet[param.Parameterized] = weakref.WeakSet()


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


def wake_sessions() -> None:
    """Ask every live session to refresh soon; safe from any thread.

    Data-free: it only schedules each session's own refresh on its IOLoop
    (coalesced: one pending wake-up per session at most).
    """
    with _live_lock:
        refreshers = list(_wakeable)
    for refresher in refreshers:
        refresher.wake()


def wake_on_change(*models: param.Parameterized) -> None:
    """Wake every session whenever one of ``models`` bumps its ``version``.

    For the models whose changes an operator waits for (workflow states,
    notifications); idempotent per model. The watcher runs in the writer's
    thread, under the model's lock, and only schedules callbacks.
    """
    with _live_lock:
        new = [model for model in models if model not in _watched]
        _watched.update(new)
    for model in new:
        model.param.watch(_version_changed, "version")


def _version_changed(_event: object) -> None:
    wake_sessions()


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
        self._wakes = 0
        self._document: Any = None
        self._wake_lock = threading.Lock()
        self._wake_pending = False

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
    def wakes(self) -> int:
        """How many wake-ups have run (for tests and benchmarks)."""
        return self._wakes

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
            self._document = document
            with _live_lock:
                _wakeable.add(self)

    def stop(self) -> None:
        """Stop the periodic callback; idempotent."""
        if not self._started:
            return
        self._started = False
        _count(-1)
        with _live_lock:
            _wakeable.discard(self)
        self._document = None
        callback, self._callback = self._callback, None
        if callback is not None:
            callback.stop()

    def wake(self) -> None:
        """Refresh as soon as the session's IOLoop is free; safe from any thread.

        Coalesced: while a wake-up is pending, further calls do nothing.
        """
        document = self._document
        if document is None:
            return
        with self._wake_lock:
            if self._wake_pending:
                return
            self._wake_pending = True
        try:
            document.add_next_tick_callback(self._woken)
        except Exception:  # the session is being torn down
            with self._wake_lock:
                self._wake_pending = False

    def _woken(self) -> None:
        document = self._document
        if document is None or not self._started:
            return
        self._wakes += 1
        # Bokeh runs it with the document lock; Panel's hold and model
        # updates look for the session's document in Panel's state.
        with set_curdoc(document):
            self.refresh_all()

    def refresh_all(self) -> None:
        """One tick: refresh every widget inside one ``pn.io.hold()``.

        Settles a pending wake-up too (this refresh does what it would): a
        wake-up whose callback never ran, say one Bokeh dropped while the
        document was held, then delays the next one by one tick at most.
        """
        with self._wake_lock:
            self._wake_pending = False
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
