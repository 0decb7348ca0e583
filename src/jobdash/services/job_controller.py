"""Row actions of the legacy job view: stop or reset one job."""

from __future__ import annotations

import logging

from jobdash.domain.commands import (
    JobAction,
    JobCommand,
    JobIdentifier,
    WorkflowIdentifier,
)
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.services.access import ReadOnlyError
from jobdash.services.command_tracker import PendingCommandTracker
from jobdash.transport.command_sink import CommandSendError, CommandSink

_logger = logging.getLogger(__name__)

_VERBS = {JobAction.stop: "Stopped", JobAction.reset: "Reset"}


class JobController:
    """Sends one ``job_command`` per action, tracked for operator feedback.

    Stateless apart from its collaborators, so any UI thread may call it; the
    sink and the tracker are thread-safe.

    Parameters
    ----------
    command_sink
        Where commands go.
    tracker
        Reports the outcome ("Stopped 1/1 job for mantle_detector", failures,
        silence); without one, send failures are only logged.
    read_only
        Refuse every action with :class:`~jobdash.services.access.ReadOnlyError`.
    """

    def __init__(
        self,
        command_sink: CommandSink,
        *,
        tracker: PendingCommandTracker | None = None,
        read_only: bool = False,
    ) -> None:
        self._sink = command_sink
        self._tracker = tracker
        self._read_only = read_only

    @property
    def read_only(self) -> bool:
        """Whether actions are refused."""
        return self._read_only

    def stop_job(self, job_id: JobId, workflow_id: WorkflowId | None = None) -> bool:
        """Ask the job's backend to stop it; ``True`` if the command was sent."""
        return self._send(JobAction.stop, job_id, workflow_id)

    def reset_job(self, job_id: JobId, workflow_id: WorkflowId | None = None) -> bool:
        """Ask the job's backend to reset its accumulated results."""
        return self._send(JobAction.reset, job_id, workflow_id)

    def _send(
        self, action: JobAction, job_id: JobId, workflow_id: WorkflowId | None
    ) -> bool:
        if self._read_only:
            raise ReadOnlyError(f"read-only dashboard: cannot {action.value} {job_id}")
        command = JobCommand(
            job_id=JobIdentifier.from_domain(job_id),
            workflow_id=None
            if workflow_id is None
            else WorkflowIdentifier.from_domain(workflow_id),
            action=action,
        )
        if self._tracker is not None:
            # Before sending: an acknowledgement may arrive before send() returns.
            self._tracker.track(
                [command], verb=_VERBS[action], subject=job_id.source_name
            )
        try:
            self._sink.send(command)
        except CommandSendError as exc:
            _logger.warning("could not send %s of %s: %s", action.value, job_id, exc)
            if self._tracker is not None:
                self._tracker.command_failed(command, str(exc))
            return False
        return True
