"""Workflow-level status: the aggregate of a JobSet's job states.

Rules: docs/decisions/0002-card-open-questions.md, with PAUSED added by
docs/decisions/0011-paused-aggregate-and-action-support.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from jobdash.domain.job_state import JobState


class WorkflowAggregate(StrEnum):
    """Aggregate status of a workflow, most urgent first."""

    ERROR = "ERROR"
    STALE = "STALE"
    WARNING = "WARNING"
    PENDING = "PENDING"
    STOPPING = "STOPPING"
    PAUSED = "PAUSED"
    ACTIVE = "ACTIVE"
    STOPPED = "STOPPED"
    UNKNOWN = "UNKNOWN"


class JobCondition(NamedTuple):
    """What aggregation needs to know about one job of the current JobSet.

    Attributes
    ----------
    state
        Last reported state, or ``None`` if no heartbeat has arrived yet.
    stale
        It had a heartbeat, is not stopped, and the last one is older than the
        stale threshold.
    has_warning
        Its last heartbeat carried a warning message, whatever its state.
    """

    state: JobState | None
    stale: bool = False
    has_warning: bool = False


@dataclass(frozen=True, slots=True)
class AggregateStatus:
    """The aggregate with its counts, e.g. ``ERROR 1/4``.

    ``count`` is how many jobs are in the condition that decided the aggregate;
    ``total`` is the number of jobs in the current JobSet.
    """

    aggregate: WorkflowAggregate
    count: int
    total: int

    @property
    def label(self) -> str:
        """Badge text: the aggregate name, then ``count/total`` if there are jobs."""
        if self.total == 0:
            return self.aggregate.value
        return f"{self.aggregate.value} {self.count}/{self.total}"


_PENDING_STATES = frozenset({JobState.scheduled, JobState.pending_context})
_RUNNING_STATES = frozenset({JobState.active, JobState.finishing})


def aggregate_status(
    jobs: Sequence[JobCondition], *, committed: bool, stop_requested: bool = False
) -> AggregateStatus:
    """Compute a workflow's aggregate from its current jobs; first rule wins.

    Parameters
    ----------
    jobs
        One condition per job of the current JobSet (empty if there is none).
    committed
        Whether there is a current JobSet (committed or adopted).
    stop_requested
        Whether the operator asked the current JobSet to stop.

    Returns
    -------
    :
        The aggregate and its counts. Rules, in order (docs/decisions/0002-card-open-questions.md): any
        ``error`` → ERROR; any stale → STALE; any ``warning`` state or warning
        message → WARNING; committed with a job not yet heard from or
        ``scheduled``/``pending_context`` → PENDING; stop requested and a job
        not yet ``stopped`` → STOPPING; every job ``paused`` or running
        (``active``/``finishing``), at least one paused → PAUSED, counting
        the paused ones; all ``active``/``finishing`` → ACTIVE; no JobSet or
        all ``stopped`` → STOPPED; otherwise UNKNOWN.
    """
    total = len(jobs)
    if not committed or total == 0:
        return AggregateStatus(WorkflowAggregate.STOPPED, 0, total)

    error = stale = warning = pending = stopped = running = paused = 0
    for job in jobs:
        state = job.state
        if state is JobState.error:
            error += 1
        if job.stale:
            stale += 1
        if state is JobState.warning or job.has_warning:
            warning += 1
        if state is None or state in _PENDING_STATES:
            pending += 1
        if state is JobState.stopped:
            stopped += 1
        elif state in _RUNNING_STATES:
            running += 1
        elif state is JobState.paused:
            paused += 1

    if error:
        return AggregateStatus(WorkflowAggregate.ERROR, error, total)
    if stale:
        return AggregateStatus(WorkflowAggregate.STALE, stale, total)
    if warning:
        return AggregateStatus(WorkflowAggregate.WARNING, warning, total)
    if pending:
        return AggregateStatus(WorkflowAggregate.PENDING, pending, total)
    if stop_requested and stopped < total:
        return AggregateStatus(WorkflowAggregate.STOPPING, total - stopped, total)
    if paused and paused + running == total:
        return AggregateStatus(WorkflowAggregate.PAUSED, paused, total)
    if running == total:
        return AggregateStatus(WorkflowAggregate.ACTIVE, running, total)
    if stopped == total:
        return AggregateStatus(WorkflowAggregate.STOPPED, stopped, total)
    # A mix no rule names (unknown states, or stopped beside running or paused):
    # count the jobs that are not running, so the badge never reads 0/n.
    return AggregateStatus(WorkflowAggregate.UNKNOWN, total - running, total)
