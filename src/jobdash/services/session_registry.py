"""The dashboard's open browser sessions: who, since when, last seen.

Operators share one dashboard process; before restarting it (or when a page
misbehaves) they want to know who else has it open. Each session registers
itself when its page is built, tells the registry it is still there on its
refresh ticks while its browser is connected, and unregisters when Bokeh
destroys it.

Unlike the other services, the writers here are the sessions themselves (on
the Bokeh server's IOLoop), not the ingestion thread; the lock makes that
safe from any thread. Opening a page is not an action: registering takes the
session's actor to record *who*, but authorizes and audits nothing (every
user, viewers included, may open a page).

``version`` moves when a session arrives or leaves, not when one is seen:
"last seen" is time-driven text that the system status view re-renders on
its own cadence, and bumping a param on every tick of every session would
cost more than the rest of the tick.
"""

from __future__ import annotations

from typing import NamedTuple

from jobdash.domain.access import Actor, Role
from jobdash.domain.clock import Clock
from jobdash.services.versioned import VersionedModel

__all__ = ["SessionInfo", "SessionRegistry"]


class SessionInfo(NamedTuple):
    """One open dashboard session, as the system status view lists it.

    Attributes
    ----------
    session_id
        Bokeh's id of the session (unique in the process).
    user, role
        Whom the session acts as (its actor).
    since
        When the session registered: its page was built (ns since the epoch).
    last_seen
        When it was last seen alive with a browser connected (ns).
    """

    session_id: str
    user: str
    role: Role
    since: int
    last_seen: int


class SessionRegistry(VersionedModel):
    """Open sessions by id, in the order they registered.

    Parameters
    ----------
    clock
        The dashboard's clock: "since" and "last seen" are its times.
    expire_after
        Seconds unseen after which a session is forgotten at the next
        registration, should its destroy callback never have run. Bokeh
        destroys a disconnected session long before (seconds), so this only
        bounds memory.
    """

    def __init__(self, clock: Clock, *, expire_after: float = 3600.0) -> None:
        if expire_after <= 0:
            raise ValueError(f"expire_after must be positive, got {expire_after}")
        super().__init__()
        self._clock = clock
        self._expire_ns = round(expire_after * 1e9)
        self._sessions: dict[str, SessionInfo] = {}

    def register(self, session_id: str, *, actor: Actor) -> SessionInfo:
        """Record a new session of ``actor``, seen now; return its entry.

        Registering an id again replaces its entry (a page built again for
        the same session starts over). Sessions unseen for ``expire_after``
        are forgotten here.
        """
        with self._lock:
            now = self._clock.now_ns()
            self._expire(now)
            info = SessionInfo(session_id, actor.name, actor.role, now, now)
            self._sessions.pop(session_id, None)
            self._sessions[session_id] = info
            self._mark_changed()
            return info

    def seen(self, session_id: str) -> None:
        """The session is still there; an unknown id is ignored.

        Does not bump ``version`` (see the module documentation).
        """
        with self._lock:
            info = self._sessions.get(session_id)
            if info is not None:
                self._sessions[session_id] = info._replace(
                    last_seen=self._clock.now_ns()
                )

    def unregister(self, session_id: str) -> None:
        """Forget a session (destroyed); idempotent."""
        with self._lock:
            if self._sessions.pop(session_id, None) is not None:
                self._mark_changed()

    def sessions(self) -> tuple[SessionInfo, ...]:
        """Every open session, oldest first (a copy)."""
        with self._lock:
            return tuple(self._sessions.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expire(self, now: int) -> None:
        cutoff = now - self._expire_ns
        expired = [
            key for key, info in self._sessions.items() if info.last_seen < cutoff
        ]
        for key in expired:
            del self._sessions[key]
        if expired:
            self._mark_changed()
