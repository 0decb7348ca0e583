"""Injected time, so staleness, timelines and screenshots are testable."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """A source of wall-clock time in integer nanoseconds since the epoch."""

    def now_ns(self) -> int:
        """Return the current time."""
        ...


class SystemClock:
    """The real wall clock."""

    def now_ns(self) -> int:
        return time.time_ns()


class ManualClock:
    """A clock that moves only when told to; thread-safe.

    Used by tests and by screenshot runs (a frozen clock).
    """

    def __init__(self, start_ns: int = 1_764_374_400_000_000_000) -> None:
        # Default start: 2025-11-29T00:00:00Z, a fixed, recognisable instant.
        self._now = start_ns
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (may be fractional)."""
        with self._lock:
            self._now += round(seconds * 1e9)

    def set(self, now_ns: int) -> None:
        """Jump to an absolute time."""
        with self._lock:
            self._now = now_ns


class ScaledClock:
    """Wall time running ``speed`` times faster from a fixed origin.

    Lets browser tests and demos watch minutes of simulated backend behaviour
    (staleness, timeouts) in seconds, while staying deterministic in order.
    """

    def __init__(self, speed: float, start_ns: int | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self._speed = speed
        self._origin_wall = time.monotonic_ns()
        self._origin = time.time_ns() if start_ns is None else start_ns

    def now_ns(self) -> int:
        elapsed = time.monotonic_ns() - self._origin_wall
        return self._origin + int(elapsed * self._speed)
