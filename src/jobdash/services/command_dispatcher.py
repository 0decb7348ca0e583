"""The one path of an operator command: authorize → track → send → audit.

Both action services (``JobOrchestrator`` for workflows, ``JobController`` for
the legacy job view) send through one :class:`CommandDispatcher`, so the
order that keeps feedback and the audit trail right is written once:

1. the :class:`~jobdash.services.action_guard.ActionGuard` refuses a viewer
   (audited ``refused``) before anything is tracked or sent;
2. the tracker learns of the commands *before* they are sent, since an
   acknowledgement may arrive before ``send()`` returns;
3. each command is sent; one the transport refuses is audited
   ``send_failed`` and then reported to the tracker (whose own
   ``send_failed`` line is then a duplicate the audit log skips);
4. each command sent is audited ``sent``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from jobdash.domain.access import AccessPolicy, Actor
from jobdash.domain.command_sink import CommandSendError, CommandSink
from jobdash.domain.commands import Command, JobCommand
from jobdash.domain.ids import WorkflowId
from jobdash.services.action_guard import ActionGuard
from jobdash.services.audit_log import AuditLog, AuditOutcome

__all__ = ["CommandDispatcher", "CommandTracker"]

logger = logging.getLogger(__name__)


class CommandTracker(Protocol):
    """What the dispatcher needs of ``PendingCommandTracker``."""

    def track(self, commands: list[Command], *, verb: str, subject: str) -> object:
        """Expect answers to ``commands`` (called before sending them)."""
        ...

    def command_failed(self, command: Command, reason: str) -> None:
        """Report a command the transport refused."""
        ...


class CommandDispatcher:
    """Sends operator commands, tracked for feedback and audited.

    Thread-safe as its collaborators are (sink, tracker and audit log lock);
    callers that must keep commands and their own state in step send while
    holding their own lock (lock order: the caller's lock, then the sink's,
    tracker's and audit log's, never the reverse).

    Parameters
    ----------
    sink
        Where commands go.
    policy
        Who may act. By default any operator actor may (no actor is ever
        implied: every call names one).
    tracker
        Reports outcomes ("Stopped 1/1 job for …", failures, silence);
        ``None``: send failures are only logged.
    audit
        Where actions and the commands they send are recorded; ``None``: not
        audited.
    """

    def __init__(
        self,
        sink: CommandSink,
        *,
        policy: AccessPolicy | None = None,
        tracker: CommandTracker | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.guard = ActionGuard(
            policy if policy is not None else AccessPolicy(), audit
        )
        self._sink = sink
        self._tracker = tracker

    @property
    def policy(self) -> AccessPolicy:
        """Who may act."""
        return self.guard.policy

    def dispatch(
        self,
        commands: Sequence[Command],
        *,
        verb: str,
        subject: str,
        actor: Actor,
        action: str,
        workflow: WorkflowId | None = None,
    ) -> int:
        """Track, then send, ``commands``; audit each; report refused ones.

        The caller authorized ``actor`` first (:meth:`ActionGuard.authorize`,
        through :attr:`guard`): an action may need to check before it decides
        which commands to send.

        Parameters
        ----------
        commands
            What to send, in order; nothing happens for none.
        verb, subject
            Wording of the feedback ("Stopped 4/4 jobs for Detector view").
        actor, action
            Who asked and the action's name, for the audit trail.
        workflow
            Recorded for job commands, which do not name their workflow.

        Returns
        -------
        :
            How many commands the transport accepted.
        """
        if not commands:
            return 0
        tracker, audit = self._tracker, self.guard.audit
        if tracker is not None:
            tracker.track(list(commands), verb=verb, subject=subject)
        sent = 0
        for command in commands:
            try:
                self._sink.send(command)
            except CommandSendError as exc:
                logger.warning("could not send %s: %s", _describe(command), exc)
                if audit is not None:
                    audit.command(
                        actor,
                        action,
                        command,
                        AuditOutcome.send_failed,
                        str(exc),
                        workflow=workflow,
                    )
                if tracker is not None:
                    tracker.command_failed(command, str(exc))
                continue
            sent += 1
            if audit is not None:
                audit.command(
                    actor, action, command, AuditOutcome.sent, workflow=workflow
                )
        return sent


def _describe(command: Command) -> str:
    """``reset of mantle_detector/<job number>``: for the log."""
    what = command.action.value if isinstance(command, JobCommand) else command.kind
    return what if command.job_id is None else f"{what} of {command.job_id.to_domain()}"
