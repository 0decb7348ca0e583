"""Row actions of the legacy job view: stop or reset one job."""

from __future__ import annotations

from jobdash.domain.access import Actor
from jobdash.domain.commands import (
    JobAction,
    JobCommand,
    JobIdentifier,
    WorkflowIdentifier,
)
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.services.command_dispatcher import CommandDispatcher

__all__ = ["JobController"]

_VERBS = {JobAction.stop: "Stopped", JobAction.reset: "Reset"}


class JobController:
    """Sends one ``job_command`` per action, through the command dispatcher.

    Stateless apart from its collaborator, so any UI thread may call it.
    Every action names its actor and is checked on the server first: a
    refused action is audited as ``refused`` and raises before anything is
    tracked or sent; an allowed one is tracked, sent, and audited as ``sent``
    or ``send_failed`` (:mod:`jobdash.services.command_dispatcher`).

    Parameters
    ----------
    commands
        The one command path: access policy, tracker, sink and audit log.
    """

    def __init__(self, commands: CommandDispatcher) -> None:
        self._commands = commands

    def stop_job(
        self, job_id: JobId, workflow_id: WorkflowId | None = None, *, actor: Actor
    ) -> bool:
        """Ask the job's backend to stop it; ``True`` if the command was sent.

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not send commands (``ReadOnlyError`` if nobody may).
        """
        return self._send(JobAction.stop, job_id, workflow_id, actor)

    def reset_job(
        self, job_id: JobId, workflow_id: WorkflowId | None = None, *, actor: Actor
    ) -> bool:
        """Ask the job's backend to reset its accumulated results.

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not send commands (``ReadOnlyError`` if nobody may).
        """
        return self._send(JobAction.reset, job_id, workflow_id, actor)

    def _send(
        self,
        action: JobAction,
        job_id: JobId,
        workflow_id: WorkflowId | None,
        actor: Actor,
    ) -> bool:
        audit_action = f"{action.value}_job"
        self._commands.guard.authorize(
            actor,
            f"{action.value} job {job_id}",
            audit_action,
            workflow=workflow_id,
            job=job_id,
        )
        command = JobCommand(
            job_id=JobIdentifier.from_domain(job_id),
            workflow_id=None
            if workflow_id is None
            else WorkflowIdentifier.from_domain(workflow_id),
            action=action,
        )
        sent = self._commands.dispatch(
            [command],
            verb=_VERBS[action],
            subject=job_id.source_name,
            actor=actor,
            action=audit_action,
            workflow=workflow_id,
        )
        return sent == 1
