"""The legacy job-level model: one row per job, fed by heartbeats.

Seed phase 1 keeps this beside ``JobOrchestrator``; both receive every
``JobStatus`` from the router independently and never call each other, so
phase 2 deletes this module and one constructor argument, nothing else.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

from jobdash.domain.access import AccessPolicy, Actor
from jobdash.domain.clock import Clock
from jobdash.domain.ids import JobId
from jobdash.domain.job_status import JobStatus
from jobdash.services.action_guard import ActionGuard
from jobdash.services.data_service import DataService
from jobdash.services.versioned import VersionedModel


class JobRow(NamedTuple):
    """One job as the job table shows it.

    Attributes
    ----------
    job_id, status
        The job and its latest heartbeat.
    last_update
        When that heartbeat was received (ns since the epoch).
    stale
        Not stopped, and no heartbeat for longer than the stale threshold.
    last_data
        When its last result was received, or ``None`` (no data service, or
        no result yet).
    """

    job_id: JobId
    status: JobStatus
    last_update: int
    stale: bool
    last_data: int | None


class _Entry:
    """What is kept per job; mutated in place so a heartbeat hashes its id once."""

    __slots__ = ("received", "stale", "status")

    def __init__(self, status: JobStatus, received: int) -> None:
        self.status = status
        self.received = received
        # Whether the job was stale at the last tick (tick() publishes flips).
        self.stale = False


@dataclass(frozen=True, slots=True)
class JobServiceSnapshot:
    """A consistent, immutable view of every job, for one table refresh.

    ``rows`` are in the order the jobs were first heard from. ``version`` is
    the service's version when the snapshot was taken; content may be newer
    than it (a bump is on its way), never older. ``display_version`` is
    :attr:`JobService.display_version` at the same moment.
    """

    version: int
    rows: tuple[JobRow, ...]
    display_version: int = 0


class JobService(VersionedModel):
    """Latest heartbeat per ``JobId``, staleness, and the operator's removals.

    The ingestion thread calls :meth:`status_updated` for every heartbeat, so
    it is O(1) and touches one dictionary entry; staleness is computed by
    readers and :meth:`tick`, never per message.

    Parameters
    ----------
    clock
        Source of receipt times and of "now" for staleness.
    stale_after
        Seconds without a heartbeat before a job that is not stopped is stale.
    data_service
        Where :meth:`job_has_data` and :meth:`get_last_data_time` look; optional.
    removed_capacity
        How many removed ids are remembered to ignore their late heartbeats;
        the oldest removal is forgotten first.
    retention
        If set, seconds without a heartbeat after which :meth:`tick` forgets a
        job (it reappears if heard from again). ``None`` keeps jobs until the
        operator removes them, as the legacy view always did.
    guard
        Decides who may remove jobs and records it; by default any operator
        actor may, unaudited.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        stale_after: float = 6.0,
        data_service: DataService | None = None,
        removed_capacity: int = 10_000,
        retention: float | None = None,
        guard: ActionGuard | None = None,
    ) -> None:
        if stale_after <= 0:
            raise ValueError(f"stale_after must be positive, got {stale_after}")
        if removed_capacity < 1:
            raise ValueError(
                f"removed_capacity must be at least 1, got {removed_capacity}"
            )
        if retention is not None and retention <= stale_after:
            raise ValueError(
                f"retention ({retention} s) must exceed stale_after ({stale_after} s)"
            )
        super().__init__()
        self._clock = clock
        self._stale_ns = round(stale_after * 1e9)
        self._retention_ns = None if retention is None else round(retention * 1e9)
        self._data_service = data_service
        self._guard = guard if guard is not None else ActionGuard(AccessPolicy())
        self._removed_capacity = removed_capacity
        # In the order jobs were first heard from (updates keep their place).
        self._entries: dict[JobId, _Entry] = {}
        # Insertion-ordered, so the oldest removal is evicted first.
        self._removed: OrderedDict[JobId, None] = OrderedDict()
        self._display_version = 0
        # tick() scans only from _next_scan on: before it, no job can have
        # gone stale or expired. A clock that went back (below _last_scan)
        # scans at once.
        self._last_scan = 0
        self._next_scan = 0

    # --- writer (ingestion thread) ---------------------------------------

    def status_updated(self, status: JobStatus) -> None:
        """Store a heartbeat, unless its job was removed or it is out of date.

        A heartbeat whose ``timestamp`` is older than the stored one of the
        same job arrived late and is ignored; equal timestamps apply.
        """
        # Hashing a JobId costs about half a microsecond, so a known job's
        # heartbeat does one lookup and updates its entry in place; a removed
        # job never has an entry, so only new ids need the removal check.
        job_id = status.job_id
        with self._lock:
            entry = self._entries.get(job_id)
            if entry is None:
                if job_id in self._removed:
                    return
                now = self._clock.now_ns()
                self._entries[job_id] = _Entry(status, now)
                self._display_version += 1
            else:
                old = entry.status
                if status.timestamp < old.timestamp:
                    return
                # Would a job table show it differently (ages aside)? The
                # decoder shares field objects between repeats of a heartbeat,
                # so ``is`` settles the common case before any (Python-level)
                # id equality.
                if (
                    entry.stale
                    or old.state is not status.state
                    or old.error_message != status.error_message
                    or old.warning_message != status.warning_message
                    or old.start_time != status.start_time
                    or (
                        old.workflow_id is not status.workflow_id
                        and old.workflow_id != status.workflow_id
                    )
                ):
                    self._display_version += 1
                entry.status = status
                entry.received = now = self._clock.now_ns()
                entry.stale = False
            if now < self._last_scan:
                self._next_scan = 0  # the clock went back: tick() scans again
            # _mark_changed() inlined: this is the per-heartbeat hot path.
            self._dirty = True
            if self._batch_depth == 0:
                self._publish()

    def tick(self) -> None:
        """Re-evaluate staleness (bump ``version`` on any flip) and apply retention."""
        with self._lock:
            now = self._clock.now_ns()
            if self._last_scan <= now < self._next_scan:
                return  # no job can have gone stale or expired since the last scan
            changed = False
            if self._retention_ns is not None:
                cutoff = now - self._retention_ns
                expired = [
                    job_id
                    for job_id, entry in self._entries.items()
                    if entry.received < cutoff
                ]
                for job_id in expired:
                    del self._entries[job_id]
                changed = bool(expired)
            # Receipt times only grow (a heartbeat sets ``now``), and a stale
            # or final job changes only through a heartbeat, which clears its
            # flag; so until the oldest fresh job's silence passes the
            # threshold (or the oldest receipt passes retention), a scan finds
            # nothing.
            oldest_fresh = oldest = now
            stale_ns = self._stale_ns
            for entry in self._entries.values():
                received = entry.received
                if received < oldest:
                    oldest = received
                final = entry.status.state.is_final
                stale = now - received > stale_ns and not final
                if stale != entry.stale:
                    entry.stale = stale
                    changed = True
                if not (stale or final) and received < oldest_fresh:
                    oldest_fresh = received
            self._last_scan = now
            self._next_scan = oldest_fresh + self._stale_ns + 1
            if self._retention_ns is not None:
                self._next_scan = min(self._next_scan, oldest + self._retention_ns + 1)
            if changed:
                self._display_version += 1
                self._mark_changed()

    # --- actions (UI threads) ----------------------------------------------

    def remove_job(self, job_id: JobId, *, actor: Actor) -> None:
        """Forget ``job_id`` and ignore its later heartbeats.

        Local to the dashboard (nothing is sent), but it changes what every
        session shows, so it is an operator action: authorized and audited as
        ``remove_job``. The id is remembered among the last
        ``removed_capacity`` removals; removing it again refreshes it.

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not act (``ReadOnlyError`` if nobody may); audited.
        """
        with self._lock:
            entry = self._entries.get(job_id)
        workflow = None if entry is None else entry.status.workflow_id
        self._guard.authorize(
            actor, "remove jobs", "remove_job", workflow=workflow, job=job_id
        )
        with self._lock:
            was_shown = self._entries.pop(job_id, None) is not None
            self._removed[job_id] = None
            self._removed.move_to_end(job_id)
            while len(self._removed) > self._removed_capacity:
                self._removed.popitem(last=False)
            if was_shown:
                self._display_version += 1
                self._mark_changed()
        self._guard.done(actor, "remove_job", workflow=workflow, job=job_id)

    # --- readers (any thread) --------------------------------------------

    @property
    def display_version(self) -> int:
        """Bumped when something a job table *shows* changed, besides ages.

        A job heard from for the first time, removed or forgotten; a change of
        state, error or warning message, start time or workflow; a staleness
        flip (at :meth:`tick`, or a stale job heard from again). Not bumped by
        a heartbeat that only moves the receipt time: with 1,000 jobs that is
        every refresh tick, and re-reading every row four times a second per
        browser session was most of the server's refresh work. A plain
        integer, read without the lock (``version`` still counts every change).
        """
        return self._display_version

    @property
    def job_statuses(self) -> dict[JobId, JobStatus]:
        """The latest heartbeat of every job (a copy)."""
        with self._lock:
            return {job_id: entry.status for job_id, entry in self._entries.items()}

    def get_job_status(self, job_id: JobId) -> JobStatus | None:
        """The latest heartbeat of ``job_id``, or ``None`` if unknown."""
        with self._lock:
            entry = self._entries.get(job_id)
            return None if entry is None else entry.status

    def get_last_status_update_time(self, job_id: JobId) -> int | None:
        """When the latest heartbeat of ``job_id`` was received, or ``None``."""
        with self._lock:
            entry = self._entries.get(job_id)
            return None if entry is None else entry.received

    def is_job_status_stale(self, job_id: JobId) -> bool:
        """Whether ``job_id`` is known, not stopped, and silent too long."""
        with self._lock:
            entry = self._entries.get(job_id)
            return entry is not None and self._is_stale(entry, self._clock.now_ns())

    def get_stale_jobs(self) -> list[JobId]:
        """Every stale job, in the order the jobs were first heard from."""
        with self._lock:
            now = self._clock.now_ns()
            return [
                job_id
                for job_id, entry in self._entries.items()
                if self._is_stale(entry, now)
            ]

    def is_removed(self, job_id: JobId) -> bool:
        """Whether heartbeats of ``job_id`` are being ignored after a removal."""
        with self._lock:
            return job_id in self._removed

    def job_has_data(self, job_id: JobId) -> bool:
        """Whether the data service holds a result of ``job_id``."""
        return self.get_last_data_time(job_id) is not None

    def get_last_data_time(self, job_id: JobId) -> int | None:
        """When the last result of ``job_id`` was received, or ``None``."""
        if self._data_service is None:
            return None
        return self._data_service.last_data_time(job_id)

    def snapshot(self) -> JobServiceSnapshot:
        """Every job as one immutable value; what the job table reads.

        Staleness is evaluated now, so it may run ahead of the last
        :meth:`tick`; the tick then bumps ``version`` and readers re-read.
        """
        data = self._data_service
        last_data = {} if data is None else data.last_data_times()
        with self._lock:
            now = self._clock.now_ns()
            version = self.version
            display_version = self._display_version
            rows = tuple(
                JobRow(
                    job_id,
                    entry.status,
                    entry.received,
                    self._is_stale(entry, now),
                    last_data.get(job_id),
                )
                for job_id, entry in self._entries.items()
            )
        return JobServiceSnapshot(version, rows, display_version)

    # --- internals ---------------------------------------------------------

    def _is_stale(self, entry: _Entry, now: int) -> bool:
        return now - entry.received > self._stale_ns and not entry.status.state.is_final
