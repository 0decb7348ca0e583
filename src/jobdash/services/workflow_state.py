"""The workflow-level model's data: jobs, JobSets and a workflow's state.

These are the design card's ``JobConfig``/``JobSet``/``WorkflowState``, grown
by what status tracking needs (receipt time, how a JobSet came to be, its
orphans). They are mutable and internal to ``JobOrchestrator``, which owns
them under its lock; anything handed to another thread is a :meth:`copy` or
an immutable snapshot (``snapshots.py``).

Invariant the orchestrator keeps: the ``params`` and ``aux_source_names``
dicts of a ``JobConfig`` are never mutated after construction, only replaced,
so snapshots may wrap them in read-only proxies without copying.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from jobdash.domain.ids import JobId, JobNumber, SourceName
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus

__all__ = ["JobConfig", "JobSet", "WorkflowState"]


@dataclass(slots=True)
class JobConfig:
    """What one job was (or will be) started with, and how it is doing.

    The card's option B: the runtime ``status`` lives beside the config, so the
    two can never fall out of step. Staged configs have ``status=None``.

    Attributes
    ----------
    params, aux_source_names
        The validated parameter values and auxiliary source choices.
    status
        The latest heartbeat, or ``None`` before the first one.
    last_seen
        When that heartbeat was *received* (ns, from the orchestrator's clock);
        staleness is measured from it, not from the backend's timestamp.
    config_known
        ``False`` for an adopted job whose parameters this dashboard never saw
        ("running, config unknown"); ``params`` are then empty.
    """

    params: dict[str, Any]
    aux_source_names: dict[str, str]
    status: JobStatus | None = None
    last_seen: int | None = None
    config_known: bool = True

    @property
    def state(self) -> JobState | None:
        """The last reported state, or ``None`` before the first heartbeat."""
        return None if self.status is None else self.status.state

    def is_stale(self, now: int, stale_ns: int) -> bool:
        """Had a heartbeat, is not stopped, and the last one arrived too long ago.

        A job that never reported is not stale (it is pending); a stopped one
        stopped heartbeating on purpose.
        """
        return (
            self.last_seen is not None
            and now - self.last_seen > stale_ns
            and self.status is not None
            and self.status.state is not JobState.stopped
        )

    def copy(self) -> JobConfig:
        """A copy that shares nothing mutable with this one."""
        return JobConfig(
            dict(self.params),
            dict(self.aux_source_names),
            self.status,
            self.last_seen,
            self.config_known,
        )


@dataclass(slots=True)
class JobSet:
    """The jobs of one commit (or one adopted job number) of a workflow.

    Attributes
    ----------
    job_number
        Shared by every job of the set.
    jobs
        One entry per source, in the catalogue's source order.
    committed_at
        When this dashboard committed it (ns); ``None`` if adopted.
    stop_requested
        The operator asked it to stop (a stop was sent for its jobs).
    adopted
        Found running rather than committed by this process: through
        heartbeats of a job number it did not know, possibly matched to the
        persisted config of the previous dashboard run.
    retired_at
        When it stopped being the current JobSet (ns), or ``None`` while it
        is current; jobs that never reported get this long to do so before
        the set can be dropped.
    """

    job_number: JobNumber = field(default_factory=uuid.uuid4)
    jobs: dict[SourceName, JobConfig] = field(default_factory=dict)
    committed_at: int | None = None
    stop_requested: bool = False
    adopted: bool = False
    retired_at: int | None = None

    def job_ids(self) -> list[JobId]:
        """The full id of every job of the set."""
        return [JobId(source, self.job_number) for source in self.jobs]

    @property
    def config_known(self) -> bool:
        """Whether the parameters of at least one job are known."""
        return any(job.config_known for job in self.jobs.values())

    @property
    def all_stopped(self) -> bool:
        """Every job has reported ``stopped`` (vacuously true when empty)."""
        return all(job.state is JobState.stopped for job in self.jobs.values())

    @property
    def started_at(self) -> int | None:
        """The earliest ``start_time`` its jobs reported, or ``None``."""
        starts = [
            job.status.start_time
            for job in self.jobs.values()
            if job.status is not None and job.status.start_time is not None
        ]
        return min(starts) if starts else None

    def copy(self) -> JobSet:
        """A deep copy: new ``JobConfig`` objects and dicts."""
        return JobSet(
            self.job_number,
            {source: job.copy() for source, job in self.jobs.items()},
            self.committed_at,
            self.stop_requested,
            self.adopted,
            self.retired_at,
        )


@dataclass(slots=True)
class WorkflowState:
    """Everything the orchestrator holds for one workflow of the catalogue.

    Attributes
    ----------
    current
        The JobSet the card shows as running (committed or adopted), or
        ``None``.
    previous
        The JobSet the last commit replaced, kept while its jobs wind down
        (until all report ``stopped`` or go stale), then dropped.
    staged_jobs
        The configs the next commit will start, by source (``status`` unused).
        They stay staged after a commit, so "Commit & Restart" reuses them.
    orphans
        JobSets found running that are neither current nor previous (an older
        adopted job number, or a previous JobSet outlived by another commit),
        by job number; the operator can stop them.
    """

    current: JobSet | None = None
    previous: JobSet | None = None
    staged_jobs: dict[SourceName, JobConfig] = field(default_factory=dict)
    orphans: dict[JobNumber, JobSet] = field(default_factory=dict)

    def copy(self) -> WorkflowState:
        """A deep copy, safe to hand to another thread."""
        return WorkflowState(
            None if self.current is None else self.current.copy(),
            None if self.previous is None else self.previous.copy(),
            {source: job.copy() for source, job in self.staged_jobs.items()},
            {number: orphan.copy() for number, orphan in self.orphans.items()},
        )
