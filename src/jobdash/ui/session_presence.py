# mypy: untyped-calls-exclude=panel
"""This browser session's entry in the process's session registry.

The System status view lists who has the dashboard open. Each session's page
owns one :class:`SessionPresence`: :meth:`~SessionPresence.start` registers
the session (its Bokeh id and actor) when the page is started for it, the
refresh tick tells the registry it is still there while its browser is
connected, and Bokeh's session-destroyed hook unregisters it. A session
whose browser went away stops being seen at once (no connection), and Bokeh
destroys it seconds later.
"""

from __future__ import annotations

from typing import Any, Protocol

import panel as pn

from jobdash.domain.access import Actor

__all__ = ["SessionPresence", "SessionRecorder"]


class SessionRecorder(Protocol):
    """The writing half of ``SessionRegistry``."""

    def register(self, session_id: str, *, actor: Actor) -> object: ...
    def seen(self, session_id: str) -> None: ...
    def unregister(self, session_id: str) -> None: ...


def _connected(document: Any) -> bool:
    """Whether a browser is connected to the session of ``document`` now."""
    context = getattr(document, "session_context", None)
    session = getattr(context, "session", None)
    return session is not None and session.connection_count > 0


class SessionPresence:
    """Registers one session, marks it seen, unregisters it when destroyed.

    Parameters
    ----------
    registry
        The process-wide session registry.
    actor
        Whom the session acts as (shown as its user and role).
    update_every
        Mark the session seen on every n-th refresh tick (a second is plenty
        for a "last seen" written in 5 s steps).
    """

    def __init__(
        self, registry: SessionRecorder, actor: Actor, *, update_every: int = 4
    ) -> None:
        self._registry = registry
        self._actor = actor
        self._update_every = max(1, update_every)
        self._ticks = 0
        self._document: Any = None
        self.session_id: str | None = None

    def start(self) -> None:
        """Register the current session; nothing outside a session. Idempotent.

        Call it while the session's document is current (as the page's
        ``start`` is).
        """
        if self.session_id is not None:
            return
        document = pn.state.curdoc
        context = getattr(document, "session_context", None)
        if context is None:
            return
        self._document = document
        self.session_id = str(context.id)
        self._registry.register(self.session_id, actor=self._actor)
        pn.state.on_session_destroyed(self._destroyed)

    def refresh(self) -> None:
        """Mark the session seen every ``update_every`` ticks, if connected."""
        self._ticks += 1
        if self.session_id is None or self._ticks % self._update_every:
            return
        if _connected(self._document):
            self._registry.seen(self.session_id)

    def _destroyed(self, session_context: object) -> None:
        session_id, self.session_id = self.session_id, None
        self._document = None
        if session_id is not None:
            self._registry.unregister(session_id)
