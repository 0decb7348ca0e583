"""Backend worker processes, known from their service heartbeats."""

from __future__ import annotations

from typing import NamedTuple

from jobdash.domain.clock import Clock
from jobdash.domain.job_status import ServiceStatus
from jobdash.services.versioned import VersionedModel


class WorkerInfo(NamedTuple):
    """One backend worker as the UI shows it.

    Attributes
    ----------
    key
        ``instrument/service_name/worker_id``, its identity across heartbeats.
    service_name, worker_id, state, active_job_count, error
        From its latest heartbeat.
    last_seen
        When that heartbeat was received (ns since the epoch).
    stale
        No heartbeat for longer than the stale threshold.
    version, started_at, source_names, supported_actions
        From its latest heartbeat (see ``ServiceStatus``); ``None``/empty
        when it did not say.
    """

    key: str
    service_name: str
    worker_id: str
    state: str
    last_seen: int
    active_job_count: int | None
    error: str | None
    stale: bool
    version: str | None = None
    started_at: int | None = None
    source_names: tuple[str, ...] = ()
    supported_actions: frozenset[str] | None = None


class WorkerRegistry(VersionedModel):
    """Latest service heartbeat per worker, with staleness.

    Parameters
    ----------
    clock
        Source of receipt times and of "now" for staleness.
    stale_after
        Seconds without a heartbeat before a worker is stale.
    retention
        Seconds without a heartbeat before a worker is forgotten (it went
        away: restarted under a new id, or scaled down).
    """

    def __init__(
        self, clock: Clock, *, stale_after: float = 6.0, retention: float = 3600.0
    ) -> None:
        if stale_after <= 0:
            raise ValueError(f"stale_after must be positive, got {stale_after}")
        if retention <= stale_after:
            raise ValueError(
                f"retention ({retention} s) must exceed stale_after ({stale_after} s)"
            )
        super().__init__()
        self._clock = clock
        self._stale_ns = round(stale_after * 1e9)
        self._retention_ns = round(retention * 1e9)
        self._statuses: dict[str, ServiceStatus] = {}
        self._last_seen: dict[str, int] = {}
        self._stale: set[str] = set()
        # action -> (fresh worker keys, sources); cleared on every change.
        self._supporting: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

    def service_status_updated(self, status: ServiceStatus) -> None:
        """Store a worker's heartbeat unless a newer one is already stored."""
        key = status.key
        with self._lock:
            stored = self._statuses.get(key)
            if stored is not None and status.timestamp < stored.timestamp:
                return
            self._statuses[key] = status
            self._last_seen[key] = self._clock.now_ns()
            self._stale.discard(key)
            self._supporting.clear()
            self._mark_changed()

    def workers(self) -> list[WorkerInfo]:
        """Every known worker, sorted by key."""
        with self._lock:
            now = self._clock.now_ns()
            return [
                WorkerInfo(
                    key,
                    status.service_name,
                    status.worker_id,
                    status.state,
                    self._last_seen[key],
                    status.active_job_count,
                    status.error,
                    now - self._last_seen[key] > self._stale_ns,
                    status.version,
                    status.started_at,
                    status.source_names,
                    status.supported_actions,
                )
                for key, status in sorted(self._statuses.items())
            ]

    def supports(self, source_name: str, action: str) -> bool:
        """Whether a fresh worker serving ``source_name`` accepts ``action``.

        True when a worker that is not stale lists ``source_name`` in its
        ``source_names`` and ``action`` in its ``supported_actions``. A worker
        that did not say which actions it accepts supports none: the dashboard
        offers an action only where the backend reported it.
        """
        return source_name in self.sources_supporting(action)

    def sources_supporting(self, action: str) -> frozenset[str]:
        """Every source a fresh worker serves that accepts ``action``.

        One call per refresh answers the question for a whole table or card
        page; the answer is cached until a heartbeat arrives or a worker's
        freshness flips (by the clock, not only at :meth:`tick`).
        """
        with self._lock:
            now = self._clock.now_ns()
            fresh = frozenset(
                key
                for key, seen in self._last_seen.items()
                if now - seen <= self._stale_ns
            )
            cached = self._supporting.get(action)
            if cached is not None and cached[0] == fresh:
                return cached[1]
            sources = frozenset(
                source
                for key in fresh
                if action in (self._statuses[key].supported_actions or ())
                for source in self._statuses[key].source_names
            )
            self._supporting[action] = (fresh, sources)
            return sources

    def tick(self) -> None:
        """Forget workers gone for ``retention``; bump ``version`` on stale flips."""
        with self._lock:
            now = self._clock.now_ns()
            cutoff = now - self._retention_ns
            expired = [key for key, seen in self._last_seen.items() if seen < cutoff]
            for key in expired:
                del self._statuses[key]
                del self._last_seen[key]
            if expired:
                self._supporting.clear()
            stale = {
                key
                for key, seen in self._last_seen.items()
                if now - seen > self._stale_ns
            }
            if expired or stale != self._stale:
                self._stale = stale
                self._mark_changed()
