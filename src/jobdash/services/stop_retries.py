"""Stops that keep working: re-sending a stop while the job still runs.

A stop command can be lost (a dropped message, a backend that restarted and
forgot it), and a job that outlives its stop keeps consuming a detector's
data. So ``JobOrchestrator`` remembers each stop it sent and, while the job's
heartbeats say it still runs, sends it again every ``retry_interval``, up to
:data:`MAX_STOP_RETRIES` times; then the operator is warned, once, to stop it
at the backend.

The orchestrator owns the lock under which this is called and tells what it
knows of each job (:class:`JobProgress`); re-sent stops go through the one
command path, audited as ``stop_retry`` under the actor who asked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass

from jobdash.domain.access import Actor
from jobdash.domain.commands import Command, JobAction, JobCommand, JobIdentifier
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.services.command_dispatcher import CommandDispatcher

__all__ = [
    "MAX_STOP_RETRIES",
    "STOP_RETRY_ACTION",
    "DueStops",
    "JobProgress",
    "StopRetries",
]

logger = logging.getLogger(__name__)

MAX_STOP_RETRIES = 10
"""Re-sent stops of one job at most; then the operator is warned, once."""

STOP_RETRY_ACTION = "stop_retry"
"""The audit action of a re-sent stop (its actor is the one who asked)."""


@dataclass(frozen=True, slots=True)
class JobProgress:
    """What the orchestrator knows of a job asked to stop."""

    workflow_id: WorkflowId
    workflow_title: str
    state: JobState | None
    """The last reported state; ``None`` if never heard from."""
    stale: bool


@dataclass(frozen=True, slots=True)
class DueStops:
    """What :meth:`StopRetries.due` found.

    Attributes
    ----------
    resend
        Jobs whose stop is due again, grouped by (workflow, its title, the
        actor who asked, the retry number), so each group is sent and
        reported as one.
    exhausted
        Jobs given up on after :data:`MAX_STOP_RETRIES` re-sends, with what
        was known of them.
    """

    resend: dict[tuple[WorkflowId, str, Actor, int], list[JobId]]
    exhausted: list[tuple[JobId, JobProgress]]


@dataclass(eq=False, slots=True)
class _Request:
    actor: Actor
    sent_at: int
    retries: int = 0


class StopRetries:
    """The stops sent and not yet obeyed, by job. Not thread-safe: the caller locks.

    Never holds more entries than the caller tracks jobs: the caller
    :meth:`forget`\\ s a job when it stops tracking it.

    Parameters
    ----------
    retry_interval_ns
        Time after a stop (or its last re-send) at which a job that still
        runs gets it again.
    """

    def __init__(self, retry_interval_ns: int) -> None:
        if retry_interval_ns <= 0:
            raise ValueError(
                f"stop_retry_interval must be positive, got {retry_interval_ns} ns"
            )
        self._interval = retry_interval_ns
        self._requests: dict[JobId, _Request] = {}
        self.retries = 0
        """Stops re-sent since start."""
        self.exhausted = 0
        """Jobs given up on since start."""

    def __len__(self) -> int:
        return len(self._requests)

    def retries_of(self, job_id: JobId) -> int | None:
        """How often the stop of ``job_id`` was re-sent; ``None`` if none pends."""
        request = self._requests.get(job_id)
        return None if request is None else request.retries

    def remember(
        self,
        stops: Iterable[Command],
        actor: Actor,
        now: int,
        tracked: Container[JobId],
    ) -> None:
        """Note stops just sent by ``actor``, of the jobs the caller tracks.

        A new stop of a job already asked restarts its count: the operator
        asked again.
        """
        for command in stops:
            if command.job_id is None:
                continue
            job_id = command.job_id.to_domain()
            if job_id in tracked:
                self._requests[job_id] = _Request(actor, now)

    def forget(self, job_id: JobId) -> None:
        """The job is no longer tracked: nothing to re-send."""
        self._requests.pop(job_id, None)

    def due(
        self, now: int, progress: Callable[[JobId], JobProgress | None]
    ) -> DueStops:
        """The stops to re-send now, and the jobs to give up on.

        A stop is due ``retry_interval`` after it (or its last re-send) went
        out, if the job's latest heartbeat says it runs and it is not stale.
        A stale job has nothing listening (its backend is dead or cut off):
        its stop waits, and is re-sent at once if the job is heard from again
        still running, since a command sent to a dead backend is lost. A job
        never heard from gets no re-send: nothing says it runs. Returned
        re-sends count as sent (their clock restarts).

        Parameters
        ----------
        now
            The orchestrator's clock.
        progress
            What is known of a job, ``None`` if it is no longer tracked.
        """
        resend: dict[tuple[WorkflowId, str, Actor, int], list[JobId]] = {}
        exhausted: list[tuple[JobId, JobProgress]] = []
        for job_id, request in list(self._requests.items()):
            known = progress(job_id)
            if known is None or known.state is JobState.stopped:
                del self._requests[job_id]
                continue
            if (
                known.state is None
                or known.stale
                or now - request.sent_at < self._interval
            ):
                continue
            if request.retries >= MAX_STOP_RETRIES:
                del self._requests[job_id]
                self.exhausted += 1
                exhausted.append((job_id, known))
                continue
            request.retries += 1
            request.sent_at = now
            self.retries += 1
            key = (
                known.workflow_id,
                known.workflow_title,
                request.actor,
                request.retries,
            )
            resend.setdefault(key, []).append(job_id)
        return DueStops(resend, exhausted)

    def resend_due(
        self,
        now: int,
        progress: Callable[[JobId], JobProgress | None],
        commands: CommandDispatcher,
    ) -> list[str]:
        """Re-send the stops that are :meth:`due`; warnings about given-up jobs.

        Each (workflow, actor, retry) group is sent and reported as one
        ("Stopped 2/2 jobs for Detector view (stop retry 1/10)").
        """
        due = self.due(now, progress)
        for (workflow_id, title, actor, retry), job_ids in due.resend.items():
            logger.info(
                "stop of %d job(s) of %s re-sent (retry %d of %d)",
                len(job_ids),
                workflow_id,
                retry,
                MAX_STOP_RETRIES,
            )
            commands.dispatch(
                [
                    JobCommand(
                        job_id=JobIdentifier.from_domain(job_id), action=JobAction.stop
                    )
                    for job_id in job_ids
                ],
                verb="Stopped",
                subject=f"{title} (stop retry {retry}/{MAX_STOP_RETRIES})",
                actor=actor,
                action=STOP_RETRY_ACTION,
                workflow=workflow_id,
            )
        return [
            f"{job_id.source_name} of {job.workflow_title} "
            f"still runs after {MAX_STOP_RETRIES} re-sent stops "
            f"(job {job_id}); stop it at the backend"
            for job_id, job in due.exhausted
        ]
