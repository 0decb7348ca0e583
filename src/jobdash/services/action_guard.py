"""The server-side gate every operator action passes: authorize, then audit.

One place decides and records who did what, for every service that acts
(``JobOrchestrator``, ``JobController``, ``JobService``): a refused action is
audited as ``refused`` and raises before anything changes; an allowed action
that sends nothing is audited as ``done`` by its service once it took effect.
Actions that send commands go through
:class:`~jobdash.services.command_dispatcher.CommandDispatcher`, which audits
each command instead.
"""

from __future__ import annotations

from typing import NoReturn

from jobdash.domain.access import AccessPolicy, Actor, PermissionDeniedError
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.services.audit_log import AuditLog

__all__ = ["ActionGuard", "ActionRefusedError"]


class ActionRefusedError(ValueError):
    """An operator's action its target does not allow (a reset of a workflow
    the catalogue says has none); the message says why."""


class ActionGuard:
    """Refuses actions the policy forbids, and records every action taken.

    Thread-safe: the policy is immutable and the audit log locks.

    Parameters
    ----------
    policy
        Who may act; a read-only policy refuses everyone.
    audit
        Where actions are recorded; ``None``: not audited.
    """

    def __init__(self, policy: AccessPolicy, audit: AuditLog | None = None) -> None:
        self.policy = policy
        self.audit = audit

    def authorize(
        self,
        actor: Actor,
        phrase: str,
        action: str,
        *,
        workflow: WorkflowId | None = None,
        job: JobId | None = None,
    ) -> None:
        """Refuse ``action`` unless ``actor`` may act; audit a refusal.

        Call it first, before any lock is taken or state read for the action,
        so that a refused action changes, tracks and sends nothing.

        Parameters
        ----------
        actor
            Who asks.
        phrase
            Completes the error text: ``"viewer 'bob' may not <phrase>"``.
        action
            The action's name in the audit trail (``"stop_workflow"``).
        workflow, job
            What it is about, for the audit trail.

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not act (``ReadOnlyError`` if nobody may).
        """
        try:
            self.policy.require_operator(actor, phrase)
        except PermissionDeniedError:
            if self.audit is not None:
                self.audit.refused(actor, action, workflow=workflow, job=job)
            raise

    def refuse(
        self,
        actor: Actor,
        action: str,
        reason: str,
        *,
        workflow: WorkflowId | None = None,
        job: JobId | None = None,
    ) -> NoReturn:
        """Refuse an authorized ``action`` its target does not allow.

        Audited ``refused: <reason>``; call it before anything changes.

        Raises
        ------
        ActionRefusedError
            Always, with ``reason``.
        """
        if self.audit is not None:
            self.audit.refused(actor, action, workflow=workflow, job=job, reason=reason)
        raise ActionRefusedError(reason)

    def done(
        self,
        actor: Actor,
        action: str,
        *,
        workflow: WorkflowId | None = None,
        job: JobId | None = None,
    ) -> None:
        """Record an allowed action that took effect without sending anything."""
        if self.audit is not None:
            self.audit.done(actor, action, workflow=workflow, job=job)
