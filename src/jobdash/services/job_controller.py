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
from jobdash.services.access import (
    AccessPolicy,
    Actor,
    PermissionDeniedError,
    ReadOnlyError,
)
from jobdash.services.audit_log import AuditLog, AuditOutcome
from jobdash.services.command_tracker import PendingCommandTracker
from jobdash.transport.command_sink import CommandSendError, CommandSink

_logger = logging.getLogger(__name__)

_VERBS = {JobAction.stop: "Stopped", JobAction.reset: "Reset"}
_SYSTEM = Actor.system()


class JobController:
    """Sends one ``job_command`` per action, tracked for operator feedback.

    Stateless apart from its collaborators, so any UI thread may call it; the
    sink, the tracker and the audit log are thread-safe.

    Every action is checked first, on the server, against the caller's
    :class:`~jobdash.services.access.Actor`: a refused action is audited as
    ``refused`` and raises before anything is tracked or sent. An allowed one
    is tracked, sent, and audited as ``sent`` or ``send_failed``.

    Parameters
    ----------
    command_sink
        Where commands go.
    tracker
        Reports the outcome ("Stopped 1/1 job for mantle_detector", failures,
        silence); without one, send failures are only logged.
    read_only
        Refuse every action with :class:`~jobdash.services.access.ReadOnlyError`
        (as does a read-only ``policy``).
    policy
        Decides who may act; by default any operator actor may (the default
        actor, :meth:`Actor.system`, is one).
    audit
        Where actions and their outcomes are recorded; ``None``: not audited.
    """

    def __init__(
        self,
        command_sink: CommandSink,
        *,
        tracker: PendingCommandTracker | None = None,
        read_only: bool = False,
        policy: AccessPolicy | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self._sink = command_sink
        self._tracker = tracker
        self._policy = policy if policy is not None else AccessPolicy()
        self._read_only = read_only or self._policy.read_only
        self._audit = audit

    @property
    def read_only(self) -> bool:
        """Whether actions are refused."""
        return self._read_only

    def stop_job(
        self,
        job_id: JobId,
        workflow_id: WorkflowId | None = None,
        *,
        actor: Actor = _SYSTEM,
    ) -> bool:
        """Ask the job's backend to stop it; ``True`` if the command was sent.

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not send commands (``ReadOnlyError`` if nobody may).
        """
        return self._send(JobAction.stop, job_id, workflow_id, actor)

    def reset_job(
        self,
        job_id: JobId,
        workflow_id: WorkflowId | None = None,
        *,
        actor: Actor = _SYSTEM,
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
        try:
            self._authorize(actor, f"{action.value} job {job_id}")
        except PermissionDeniedError:
            if self._audit is not None:
                self._audit.refused(
                    actor, audit_action, workflow=workflow_id, job=job_id
                )
            raise
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
            # Audited before the tracker hears of it: the tracker's own
            # send_failed line for the same command is then a duplicate, skipped.
            if self._audit is not None:
                self._audit.command(
                    actor,
                    audit_action,
                    command,
                    AuditOutcome.send_failed,
                    str(exc),
                    workflow=workflow_id,
                )
            if self._tracker is not None:
                self._tracker.command_failed(command, str(exc))
            return False
        if self._audit is not None:
            self._audit.command(
                actor, audit_action, command, AuditOutcome.sent, workflow=workflow_id
            )
        return True

    def _authorize(self, actor: Actor, action: str) -> None:
        if self._read_only:
            raise ReadOnlyError(
                f"read-only dashboard: {actor.name!r} may not {action}",
                actor=actor,
                action=action,
            )
        self._policy.require_operator(actor, action)
