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

Actions not every backend worker accepts (pause, resume) are checked against
what the workers report (:meth:`CommandDispatcher.supporting`,
:meth:`CommandDispatcher.dispatch_supported`): views offer them only where a
fresh worker reported support, and the server refuses them (audited) when no
job of the request runs on such a worker
(docs/decisions/0011-paused-aggregate-and-action-support.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from jobdash.domain.access import AccessPolicy, Actor
from jobdash.domain.command_sink import CommandSendError, CommandSink
from jobdash.domain.commands import Command, JobAction, JobCommand
from jobdash.domain.ids import WorkflowId
from jobdash.services.action_guard import ActionGuard
from jobdash.services.audit_log import AuditLog, AuditOutcome

__all__ = ["ActionSupport", "CommandDispatcher", "CommandTracker"]

logger = logging.getLogger(__name__)


class CommandTracker(Protocol):
    """What the dispatcher needs of ``PendingCommandTracker``."""

    def track(self, commands: list[Command], *, verb: str, subject: str) -> object:
        """Expect answers to ``commands`` (called before sending them)."""
        ...

    def command_failed(self, command: Command, reason: str) -> None:
        """Report a command the transport refused."""
        ...


class ActionSupport(Protocol):
    """What the support check reads of ``WorkerRegistry``."""

    def sources_supporting(self, action: str) -> frozenset[str]:
        """Every source a fresh worker serves that accepts ``action``."""
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
    support
        Which job actions the backend workers accept (the composition root
        passes the ``WorkerRegistry``); ``None``: no information, so the
        support check passes everything (tests and tools without workers).
    """

    def __init__(
        self,
        sink: CommandSink,
        *,
        policy: AccessPolicy | None = None,
        tracker: CommandTracker | None = None,
        audit: AuditLog | None = None,
        support: ActionSupport | None = None,
    ) -> None:
        self.guard = ActionGuard(
            policy if policy is not None else AccessPolicy(), audit
        )
        self._sink = sink
        self._tracker = tracker
        self._support = support

    def supporting(self, action: JobAction) -> frozenset[str] | None:
        """The sources whose fresh workers accept ``action``; ``None``: unchecked.

        It reads the workers' registry under that registry's lock: call it
        before taking your own (service locks never nest).
        """
        if self._support is None:
            return None
        return self._support.sources_supporting(action.value)

    def dispatch_supported(
        self,
        commands: Sequence[Command],
        supporting: frozenset[str] | None,
        *,
        verb: str,
        subject: str,
        actor: Actor,
        action: str,
        workflow: WorkflowId | None = None,
    ) -> int:
        """:meth:`dispatch` the ``commands`` whose job's source is in ``supporting``.

        ``supporting`` comes from :meth:`supporting` (``None``: all pass).
        Jobs no fresh worker accepts the action for get no command.

        Raises
        ------
        ActionRefusedError
            There were commands and none is supported: audited
            ``refused: <why>``, nothing tracked or sent.
        """
        kept = [
            command
            for command in commands
            if supporting is None
            or (command.job_id is not None and command.job_id.source_name in supporting)
        ]
        if commands and not kept:
            what = _what(commands[0])
            sources = list(
                dict.fromkeys(c.job_id.source_name for c in commands if c.job_id)
            )
            self.guard.refuse(
                actor,
                action,
                f"{what.capitalize()} is not supported: no backend worker heard "
                f"recently accepts {what} for {_listed(sources)}",
                workflow=workflow,
            )
        return self.dispatch(
            kept,
            verb=verb,
            subject=subject,
            actor=actor,
            action=action,
            workflow=workflow,
        )

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


def _listed(names: Sequence[str], limit: int = 3) -> str:
    """``a, b, c`` or ``a, b, c and 4 more``: sources in a message."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def _what(command: Command) -> str:
    """``pause`` for a job command, else the command's kind."""
    return command.action.value if isinstance(command, JobCommand) else command.kind


def _describe(command: Command) -> str:
    """``reset of mantle_detector/<job number>``: for the log."""
    what = _what(command)
    return what if command.job_id is None else f"{what} of {command.job_id.to_domain()}"
