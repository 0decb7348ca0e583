"""Where every tracked job lives, by full ``JobId``, and what became of it.

``JobOrchestrator`` matches each heartbeat through this index (DESIGN rule:
on source name *and* job number, in O(1), never by scanning workflows). It
covers the current, previous and orphan JobSets of every workflow, knows which
jobs the last tick found stale, and remembers jobs dropped after reporting
``stopped``, so that a heartbeat overtaken by that ``stopped`` one does not
bring the job back as an orphan. Not thread-safe: the orchestrator locks.
"""

from __future__ import annotations

from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.services.workflow_state import Dropped, JobConfig, JobSet

__all__ = ["FINISHED_CAPACITY", "IndexEntry", "JobIndex"]

FINISHED_CAPACITY = 10_000
"""Stopped-and-dropped job ids remembered to ignore their late heartbeats."""

IndexEntry = tuple[WorkflowId, JobSet, JobConfig]
"""Where an indexed job lives: its workflow, its JobSet, its config."""


class JobIndex:
    """The tracked jobs, the stale ones among them, and the recently finished.

    Attributes
    ----------
    entries
        Every tracked job → where it lives. Read directly on the heartbeat
        hot path; change it through the methods.
    stale
        Jobs found stale by the last :meth:`refresh_stale`.
    finished
        Jobs dropped after reporting ``stopped`` → (that heartbeat's
        timestamp, when dropped); insertion-ordered, so the oldest expire
        first, and at most :data:`FINISHED_CAPACITY`.
    """

    def __init__(self) -> None:
        self.entries: dict[JobId, IndexEntry] = {}
        self.stale: set[JobId] = set()
        self.finished: dict[JobId, tuple[int, int]] = {}
        self.last_scan = 0
        """When :meth:`refresh_stale` last walked the jobs; a heartbeat
        received before it (the clock went back) calls :meth:`rescan`."""
        # refresh_stale() walks the jobs only from _next_scan on (see there).
        self._next_scan = 0
        self._scan_stale_ns = 0

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, job_id: JobId, workflow_id: WorkflowId, job_set: JobSet) -> None:
        """Index one job of ``job_set`` (it must hold it)."""
        self.entries[job_id] = (workflow_id, job_set, job_set.jobs[job_id.source_name])
        self._next_scan = 0  # its last_seen may predate the last scan

    def add_set(self, workflow_id: WorkflowId, job_set: JobSet) -> None:
        """Index every job of ``job_set``."""
        for job_id, job in job_set.indexed_jobs():
            self.entries[job_id] = (workflow_id, job_set, job)
        self._next_scan = 0  # their last_seen may predate the last scan

    def rescan(self) -> None:
        """Make the next :meth:`refresh_stale` walk every job."""
        self._next_scan = 0

    def workflow_of(self, job_id: JobId) -> WorkflowId | None:
        entry = self.entries.get(job_id)
        return None if entry is None else entry[0]

    def forget(self, dropped: Dropped, now: int) -> None:
        """Stop tracking jobs a transition let go of; remember the stopped ones."""
        finished = self.finished
        for job_id, job in dropped:
            self.entries.pop(job_id, None)
            self.stale.discard(job_id)
            if job.status is not None and job.status.state is JobState.stopped:
                finished.pop(job_id, None)
                finished[job_id] = (job.status.timestamp, now)
                if len(finished) > FINISHED_CAPACITY:
                    del finished[next(iter(finished))]

    def finished_before(self, job_id: JobId, timestamp: int) -> bool:
        """Whether a heartbeat of an untracked job predates its recorded stop.

        A newer heartbeat means the job really runs again: its memory goes.
        """
        finished = self.finished.get(job_id)
        if finished is None:
            return False
        if timestamp <= finished[0]:
            return True
        del self.finished[job_id]
        return False

    def refresh_stale(self, now: int, stale_ns: int) -> set[WorkflowId]:
        """Recompute :attr:`stale`; the workflows of the jobs that flipped.

        Called 4 times a second, but walks the tracked jobs only when one
        can have flipped: ``last_seen`` is set to the receipt time by every
        heartbeat (which also takes its job out of :attr:`stale`), so no job
        goes stale before the oldest ``last_seen`` of the jobs that are
        neither stale nor stopped passes the threshold, and a stale or
        stopped job changes only through a heartbeat.
        """
        if self.last_scan <= now < self._next_scan and stale_ns == self._scan_stale_ns:
            return set()
        # JobConfig.is_stale, inlined.
        cutoff = now - stale_ns
        stopped = JobState.stopped
        stale = set()
        oldest_fresh = now
        for job_id, (_, _, job) in self.entries.items():
            seen = job.last_seen
            if seen is None or job.status is None or job.status.state is stopped:
                continue
            if seen < cutoff:
                stale.add(job_id)
            elif seen < oldest_fresh:
                oldest_fresh = seen
        self.last_scan = now
        self._next_scan = oldest_fresh + stale_ns + 1
        self._scan_stale_ns = stale_ns
        flipped = {
            entry[0]
            for job_id in stale.symmetric_difference(self.stale)
            if (entry := self.entries.get(job_id)) is not None
        }
        self.stale = stale
        return flipped

    def expire_finished(self, now: int, forget_ns: int) -> None:
        """Forget stops recorded more than ``forget_ns`` ago."""
        cutoff = now - forget_ns
        finished = self.finished
        while finished:
            oldest = next(iter(finished))
            if finished[oldest][1] >= cutoff:
                break
            del finished[oldest]
