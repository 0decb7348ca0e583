"""Immutable views of the workflow-level model, what the UI reads.

A browser session polls ``JobOrchestrator`` versions and, when one changed,
reads a :class:`WorkflowSnapshot`: a consistent value built under the
orchestrator's lock, safe to keep and compare on another thread while the
ingestion thread moves on. Nothing here refers to live state: mappings are
read-only proxies over dicts the orchestrator never mutates (it replaces
them), tuples hold the rest.

Building is cheap (a few small objects per job, no copying of parameter
dicts), so a refresh can snapshot every workflow of a large catalogue. For the
same reason the snapshot types are ``NamedTuple``s, like ``JobStatus``: several
times cheaper to build than frozen dataclasses, and just as immutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from jobdash.domain.ids import JobId, JobNumber, SourceName, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.domain.workflow_catalogue import WorkflowSpec
from jobdash.domain.workflow_status import (
    AggregateStatus,
    JobCondition,
    aggregate_status,
)
from jobdash.services.workflow_state import JobConfig, JobSet, WorkflowState

__all__ = [
    "JobSetSnapshot",
    "JobSnapshot",
    "StagedConfig",
    "WorkflowSnapshot",
    "build_workflow_snapshot",
    "job_condition",
    "jobset_aggregate",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class StagedConfig(NamedTuple):
    """A config staged for the next commit of one source."""

    params: Mapping[str, Any]
    aux_source_names: Mapping[str, str]


class JobSnapshot(NamedTuple):
    """One job of a JobSet at snapshot time.

    Attributes
    ----------
    source_name, job_id
        Which job.
    status
        Its latest heartbeat, or ``None`` if it has not reported yet.
    stale
        It had a heartbeat, is not stopped, and has been silent for longer than
        the stale threshold.
    last_seen
        When its latest heartbeat was received (ns), or ``None``.
    config_known
        ``False`` for an adopted job started by someone else: ``params`` and
        ``aux_source_names`` are then empty ("running, config unknown").
    params, aux_source_names
        What it was started with.
    """

    source_name: SourceName
    job_id: JobId
    status: JobStatus | None
    stale: bool
    last_seen: int | None
    config_known: bool
    params: Mapping[str, Any]
    aux_source_names: Mapping[str, str]

    @property
    def state(self) -> JobState | None:
        """The reported state, or ``None`` before the first heartbeat."""
        return None if self.status is None else self.status.state


class JobSetSnapshot(NamedTuple):
    """One JobSet (current, previous or orphan) at snapshot time.

    Attributes
    ----------
    job_number
        Shared by its jobs.
    jobs
        In catalogue source order.
    aggregate
        The §5 aggregate of these jobs alone, with its counts.
    committed_at
        When this dashboard committed it (ns); ``None`` if adopted.
    started_at
        The earliest ``start_time`` its jobs reported, or ``None``.
    stop_requested, adopted
        As on :class:`~jobdash.services.workflow_state.JobSet`.
    """

    job_number: JobNumber
    jobs: tuple[JobSnapshot, ...]
    aggregate: AggregateStatus
    committed_at: int | None
    started_at: int | None
    stop_requested: bool
    adopted: bool

    @property
    def job_ids(self) -> tuple[JobId, ...]:
        return tuple(job.job_id for job in self.jobs)

    @property
    def config_known(self) -> bool:
        """Whether the parameters of at least one job are known."""
        return any(job.config_known for job in self.jobs)

    def job(self, source_name: SourceName) -> JobSnapshot | None:
        """The job reducing ``source_name``, or ``None``."""
        for job in self.jobs:
            if job.source_name == source_name:
                return job
        return None


class WorkflowSnapshot(NamedTuple):
    """Everything a workflow card shows, as one consistent value.

    Attributes
    ----------
    workflow_id, spec
        Which workflow, and its catalogue entry (title, sources, schema).
    version
        The workflow's version when the snapshot was taken. The content may be
        newer than that version (its bump is on the way), never older.
    aggregate
        The workflow's status: the aggregate of the *current* JobSet.
    current, previous
        The running JobSet and the one winding down after a recommit.
    staged
        The configs the next commit will start, by source, in catalogue order.
    orphans
        Ids of jobs found running outside current and previous, to be stopped.
    orphan_jobs
        The same jobs with their status, in the order of ``orphans``.
    orphans_started_here
        The job numbers of those orphans that this dashboard committed (the
        others were started by someone else): a commit offers to stop them,
        checked by default.
    """

    workflow_id: WorkflowId
    spec: WorkflowSpec
    version: int
    aggregate: AggregateStatus
    current: JobSetSnapshot | None
    previous: JobSetSnapshot | None
    staged: Mapping[SourceName, StagedConfig]
    orphans: tuple[JobId, ...]
    orphan_jobs: tuple[JobSnapshot, ...] = ()
    orphans_started_here: frozenset[JobNumber] = frozenset()

    @property
    def title(self) -> str:
        return self.spec.title

    def started_here(self, job_id: JobId) -> bool:
        """Whether the orphan ``job_id`` belongs to a JobSet this dashboard committed."""
        return job_id.job_number in self.orphans_started_here

    def staged_differences(self) -> frozenset[SourceName]:
        """Sources where a commit would change what runs.

        A source differs if it is staged but not running, running but not
        staged, or staged with other params/aux sources than it runs with
        (a job with unknown config always differs). Empty when nothing runs
        and nothing is staged.
        """
        running = (
            {}
            if self.current is None
            else {j.source_name: j for j in self.current.jobs}
        )
        changed = set(running.keys() ^ self.staged.keys())
        for source, staged in self.staged.items():
            job = running.get(source)
            if job is not None and (
                not job.config_known
                or job.params != staged.params
                or job.aux_source_names != staged.aux_source_names
            ):
                changed.add(source)
        return frozenset(changed)


def job_condition(job: JobConfig, now: int, stale_ns: int) -> JobCondition:
    """What aggregation needs to know about ``job`` at time ``now``."""
    status = job.status
    if status is None:
        return JobCondition(None)
    return JobCondition(
        status.state, job.is_stale(now, stale_ns), bool(status.warning_message)
    )


def jobset_aggregate(
    job_set: JobSet | None, now: int, stale_ns: int
) -> AggregateStatus:
    """The §5 aggregate of ``job_set`` (STOPPED 0/0 when there is none)."""
    if job_set is None:
        return aggregate_status((), committed=False)
    return aggregate_status(
        [job_condition(job, now, stale_ns) for job in job_set.jobs.values()],
        committed=True,
        stop_requested=job_set.stop_requested,
    )


def _job_snapshot(
    source: SourceName, job_number: JobNumber, job: JobConfig, now: int, stale_ns: int
) -> JobSnapshot:
    status = job.status
    return JobSnapshot(
        source,
        # The heartbeat carries the very id (built once by the codec, its hash
        # cached); building a new one per snapshot would hash a UUID again.
        JobId(source, job_number) if status is None else status.job_id,
        status,
        job.is_stale(now, stale_ns),
        job.last_seen,
        job.config_known,
        MappingProxyType(job.params) if job.params else _EMPTY,
        MappingProxyType(job.aux_source_names) if job.aux_source_names else _EMPTY,
    )


def _jobset_snapshot(job_set: JobSet, now: int, stale_ns: int) -> JobSetSnapshot:
    number = job_set.job_number
    jobs = tuple(
        _job_snapshot(source, number, job, now, stale_ns)
        for source, job in job_set.jobs.items()
    )
    return JobSetSnapshot(
        number,
        jobs,
        aggregate_status(
            [JobCondition(j.state, j.stale, _has_warning(j.status)) for j in jobs],
            committed=True,
            stop_requested=job_set.stop_requested,
        ),
        job_set.committed_at,
        job_set.started_at,
        job_set.stop_requested,
        job_set.adopted,
    )


def _has_warning(status: JobStatus | None) -> bool:
    return status is not None and bool(status.warning_message)


def build_workflow_snapshot(
    spec: WorkflowSpec, state: WorkflowState, version: int, now: int, stale_ns: int
) -> WorkflowSnapshot:
    """Snapshot ``state``; the caller holds the lock that guards it.

    Parameters
    ----------
    spec
        The workflow's catalogue entry.
    state
        Its live state (only read).
    version
        The workflow's current version.
    now, stale_ns
        Time of the snapshot and the stale threshold, both in ns.
    """
    current = (
        None
        if state.current is None
        else _jobset_snapshot(state.current, now, stale_ns)
    )
    previous = (
        None
        if state.previous is None
        else _jobset_snapshot(state.previous, now, stale_ns)
    )
    orphan_jobs = tuple(
        _job_snapshot(source, orphan.job_number, job, now, stale_ns)
        for orphan in state.orphans.values()
        for source, job in orphan.jobs.items()
    )
    staged = MappingProxyType(
        {
            source: StagedConfig(
                MappingProxyType(job.params), MappingProxyType(job.aux_source_names)
            )
            for source, job in state.staged_jobs.items()
        }
    )
    return WorkflowSnapshot(
        spec.workflow_id,
        spec,
        version,
        current.aggregate
        if current is not None
        else aggregate_status((), committed=False),
        current,
        previous,
        staged,
        tuple(job.job_id for job in orphan_jobs),
        orphan_jobs,
        frozenset(
            number for number in state.orphans if state.orphan_started_here(number)
        )
        if state.orphans
        else frozenset(),
    )
