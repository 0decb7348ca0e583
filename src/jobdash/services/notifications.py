"""Operator feedback: a bounded, ordered log of toast-style notifications.

Sessions show new entries by remembering the last ``seq`` they displayed and
asking for :meth:`NotificationLog.since` it when ``version`` changes; the log
never pushes to them.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum
from typing import NamedTuple

from jobdash.domain.clock import Clock
from jobdash.services.versioned import VersionedModel


class NotificationLevel(StrEnum):
    """How a notification is shown (colour and persistence of the toast)."""

    info = "info"
    success = "success"
    warning = "warning"
    error = "error"


class Notification(NamedTuple):
    """One notification.

    Attributes
    ----------
    seq
        Position in the log, from 1, strictly increasing; survives eviction.
    time
        When it was added (ns since the epoch, from the injected clock).
    level, text
        How to show it and what to say (plain text, never markup).
    """

    seq: int
    time: int
    level: NotificationLevel
    text: str


class NotificationLog(VersionedModel):
    """The most recent ``maxlen`` notifications, oldest first.

    Written from UI threads (refused actions, send failures) and from the
    ingestion thread (acknowledgements, timeouts), hence the lock.

    Parameters
    ----------
    clock
        Source of the notifications' times.
    maxlen
        How many notifications are kept; older ones are evicted.
    """

    def __init__(self, clock: Clock, maxlen: int = 500) -> None:
        if maxlen < 1:
            raise ValueError(f"maxlen must be at least 1, got {maxlen}")
        super().__init__()
        self._clock = clock
        self._entries: deque[Notification] = deque(maxlen=maxlen)
        self._last_seq = 0

    def add(self, level: NotificationLevel | str, text: str) -> Notification:
        """Append a notification; raise ``ValueError`` for an unknown level."""
        level = NotificationLevel(level)
        with self._lock:
            self._last_seq += 1
            entry = Notification(self._last_seq, self._clock.now_ns(), level, text)
            self._entries.append(entry)
            self._mark_changed()
        return entry

    def since(self, seq: int) -> list[Notification]:
        """Notifications newer than ``seq``, oldest first (``since(0)``: all kept)."""
        with self._lock:
            # seq is dense and increasing, so the newer ones are a suffix.
            newer = self._last_seq - seq
            if newer <= 0:
                return []
            if newer >= len(self._entries):
                return list(self._entries)
            return list(self._entries)[-newer:]

    def recent(self, n: int) -> list[Notification]:
        """The last ``n`` notifications, oldest first."""
        if n <= 0:
            return []
        with self._lock:
            return list(self._entries)[-n:]

    @property
    def last_seq(self) -> int:
        """``seq`` of the newest notification ever added (0 if none)."""
        with self._lock:
            return self._last_seq
