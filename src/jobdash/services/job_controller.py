"""Row actions of the legacy job view: stop or reset one job, pause or resume some."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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

_VERBS = {
    JobAction.stop: "Stopped",
    JobAction.reset: "Reset",
    JobAction.pause: "Paused",
    JobAction.resume: "Resumed",
}


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

    def pause(
        self,
        job_ids: Iterable[JobId],
        *,
        actor: Actor,
        workflow_ids: Mapping[JobId, WorkflowId] | None = None,
    ) -> int:
        """Ask the backend to pause the jobs; how many commands were sent.

        One ``job_command`` per job, tracked as one group ("Paused 2/2 jobs
        for …"), only for jobs whose source a fresh worker accepts ``pause``
        for (``WorkerRegistry.supports``). ``workflow_ids`` names each job's
        workflow, for the command and the audit trail.

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not send commands (``ReadOnlyError`` if nobody may).
        ActionRefusedError
            No job's worker accepts the action; audited, nothing sent.
        """
        return self._send_all(JobAction.pause, job_ids, workflow_ids, actor)

    def resume(
        self,
        job_ids: Iterable[JobId],
        *,
        actor: Actor,
        workflow_ids: Mapping[JobId, WorkflowId] | None = None,
    ) -> int:
        """Ask the backend to resume paused jobs; as :meth:`pause`."""
        return self._send_all(JobAction.resume, job_ids, workflow_ids, actor)

    def _send_all(
        self,
        action: JobAction,
        job_ids: Iterable[JobId],
        workflow_ids: Mapping[JobId, WorkflowId] | None,
        actor: Actor,
    ) -> int:
        jobs = list(dict.fromkeys(job_ids))
        audit_action = f"{action.value}_job"
        # Before the support check: a viewer learns nothing of the backend.
        self._commands.guard.authorize(actor, f"{action.value} jobs", audit_action)
        if not jobs:
            return 0
        workflow_ids = workflow_ids or {}
        commands = [
            _command(action, job_id, workflow_ids.get(job_id)) for job_id in jobs
        ]
        sources = sorted({job_id.source_name for job_id in jobs})
        return self._commands.dispatch_supported(
            commands,
            self._commands.supporting(action),
            verb=_VERBS[action],
            subject=", ".join(sources) if len(sources) <= 3 else f"{len(jobs)} jobs",
            actor=actor,
            action=audit_action,
            workflow=workflow_ids.get(jobs[0]) if len(jobs) == 1 else None,
        )

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
        sent = self._commands.dispatch(
            [_command(action, job_id, workflow_id)],
            verb=_VERBS[action],
            subject=job_id.source_name,
            actor=actor,
            action=audit_action,
            workflow=workflow_id,
        )
        return sent == 1


def _command(
    action: JobAction, job_id: JobId, workflow_id: WorkflowId | None
) -> JobCommand:
    return JobCommand(
        job_id=JobIdentifier.from_domain(job_id),
        workflow_id=None
        if workflow_id is None
        else WorkflowIdentifier.from_domain(workflow_id),
        action=action,
    )
