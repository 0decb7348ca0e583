"""Latest results per job, so the job view can tell "active but silent"."""

from __future__ import annotations

from typing import NamedTuple

from jobdash.domain.clock import Clock
from jobdash.domain.data_result import DataResult
from jobdash.domain.ids import JobId
from jobdash.services.versioned import VersionedModel


class ReceivedResult(NamedTuple):
    """A result and when the dashboard received it (ns since the epoch)."""

    result: DataResult
    received: int


class DataService(VersionedModel):
    """Keeps, per ``(job_id, output_name)``, the latest result and its receipt time.

    Fed by the ingestion thread (``MessagePump.forward`` on the data stream).
    Memory is bounded: the results of a job that published nothing for
    ``retention`` seconds are dropped by :meth:`tick`.

    Parameters
    ----------
    clock
        Source of receipt times.
    retention
        Seconds after a job's last result before its results are forgotten.
    """

    def __init__(self, clock: Clock, *, retention: float = 600.0) -> None:
        if retention <= 0:
            raise ValueError(f"retention must be positive, got {retention}")
        super().__init__()
        self._clock = clock
        self._retention_ns = round(retention * 1e9)
        self._outputs: dict[JobId, dict[str, ReceivedResult]] = {}
        self._last: dict[JobId, int] = {}

    def result_received(self, result: DataResult) -> None:
        """Store ``result`` unless one with a newer ``timestamp`` is already kept.

        Results of one output can arrive out of order; the latest by producer
        timestamp wins (equal timestamps: the later arrival).
        """
        job_id = result.job_id
        with self._lock:
            outputs = self._outputs.get(job_id)
            if outputs is None:
                outputs = self._outputs[job_id] = {}
            kept = outputs.get(result.output_name)
            if kept is not None and result.timestamp < kept.result.timestamp:
                return
            now = self._clock.now_ns()
            outputs[result.output_name] = ReceivedResult(result, now)
            self._last[job_id] = now
            self._mark_changed()

    def last_data_time(self, job_id: JobId) -> int | None:
        """When the last result of ``job_id`` (any output) was received, or ``None``."""
        with self._lock:
            return self._last.get(job_id)

    def last_data_times(self) -> dict[JobId, int]:
        """:meth:`last_data_time` of every job with a result, in one copy.

        For readers of every job at once (the job table's snapshot): one lock
        acquisition instead of one per job.
        """
        with self._lock:
            return dict(self._last)

    def latest(self, job_id: JobId) -> dict[str, DataResult]:
        """The latest result of each output of ``job_id`` (a copy; empty if none)."""
        with self._lock:
            outputs = self._outputs.get(job_id, {})
            return {name: kept.result for name, kept in outputs.items()}

    def received(self, job_id: JobId) -> dict[str, ReceivedResult]:
        """Like :meth:`latest`, with each result's receipt time."""
        with self._lock:
            return dict(self._outputs.get(job_id, {}))

    def jobs_with_data(self) -> set[JobId]:
        """Every job that has a result kept."""
        with self._lock:
            return set(self._last)

    def tick(self) -> None:
        """Forget the results of jobs silent for longer than ``retention``."""
        with self._lock:
            cutoff = self._clock.now_ns() - self._retention_ns
            expired = [job_id for job_id, last in self._last.items() if last < cutoff]
            for job_id in expired:
                del self._last[job_id]
                del self._outputs[job_id]
            if expired:
                self._mark_changed()
