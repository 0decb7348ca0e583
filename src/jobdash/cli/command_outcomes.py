"""What became of each command a terminal command sent, for its exit status.

The dashboard only needs operator feedback from
:class:`~jobdash.services.command_tracker.PendingCommandTracker` (its
notifications). A script also needs a verdict: ``jobdash start`` exits 0 only
if every command was acknowledged. :class:`OutcomeTracker` is that tracker,
recording the outcome of each command it tracks as the answers, send failures
and timeouts come in; the notifications are unchanged, so the terminal prints
exactly the lines the dashboard would show.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from enum import StrEnum

from jobdash.domain.clock import Clock
from jobdash.domain.commands import Acknowledgement, Command
from jobdash.services.audit_log import AuditLog
from jobdash.services.command_tracker import PendingCommandTracker
from jobdash.services.notifications import NotificationLog

__all__ = ["CommandOutcome", "OutcomeTracker"]


class CommandOutcome(StrEnum):
    """The fate of one command; ``pending`` until one of the others."""

    pending = "pending"
    acknowledged = "acknowledged"
    failed = "failed"
    """A backend answered ``ERR``."""
    send_failed = "send_failed"
    """The transport refused it or could not deliver it."""
    no_response = "no_response"
    """No answer within the command timeout."""


class OutcomeTracker(PendingCommandTracker):
    """A ``PendingCommandTracker`` that also keeps each command's outcome.

    An ``ERR`` or a send failure is final; an ``ACK`` is final unless an
    ``ERR`` for the same command follows (several backends may answer a
    command; one refusal is a failure). Timeouts are recorded when
    :meth:`tick` reports them. Thread-safe, like its base.
    """

    def __init__(
        self,
        clock: Clock,
        notifications: NotificationLog,
        *,
        timeout: float = 30.0,
        audit: AuditLog | None = None,
    ) -> None:
        super().__init__(clock, notifications, timeout=timeout, audit=audit)
        self._settled = threading.Condition()
        self._outcomes: dict[uuid.UUID, CommandOutcome] = {}
        self._group_ids: dict[uuid.UUID, int] = {}

    def track(
        self,
        commands: Sequence[Command],
        *,
        verb: str,
        subject: str,
        noun: str | None = None,
    ) -> int:
        group = super().track(commands, verb=verb, subject=subject, noun=noun)
        with self._settled:
            for command in commands:
                self._outcomes[command.message_id] = CommandOutcome.pending
                self._group_ids[command.message_id] = group
        return group

    def ack_received(self, ack: Acknowledgement) -> None:
        with self._settled:
            outcome = self._outcomes.get(ack.message_id)
            if outcome is not None and outcome not in _FINAL:
                self._set(
                    ack.message_id,
                    CommandOutcome.acknowledged if ack.ok else CommandOutcome.failed,
                )
        super().ack_received(ack)

    def command_failed(self, command: Command, reason: str) -> None:
        with self._settled:
            outcome = self._outcomes.get(command.message_id)
            if outcome is not None and outcome not in _FINAL:
                self._set(command.message_id, CommandOutcome.send_failed)
        super().command_failed(command, reason)

    def tick(self) -> None:
        super().tick()
        # A command still pending whose group the base class no longer lists
        # was in a group that timed out. Candidates are taken first: a group
        # tracked meanwhile is not listed yet, but is no candidate either.
        with self._settled:
            candidates = [
                message_id
                for message_id, outcome in self._outcomes.items()
                if outcome is CommandOutcome.pending
            ]
        if not candidates:
            return
        waiting = {group.group_id for group in self.outstanding()}
        with self._settled:
            for message_id in candidates:
                if (
                    self._outcomes[message_id] is CommandOutcome.pending
                    and self._group_ids[message_id] not in waiting
                ):
                    self._set(message_id, CommandOutcome.no_response)

    def outcomes(self) -> dict[uuid.UUID, CommandOutcome]:
        """Every tracked command's outcome so far (a copy)."""
        with self._settled:
            return dict(self._outcomes)

    def settled(self) -> bool:
        """Whether no tracked command is still waiting for its outcome."""
        with self._settled:
            return CommandOutcome.pending not in self._outcomes.values()

    def wait_settled(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until :meth:`settled`; return it."""
        deadline = time.monotonic() + timeout
        with self._settled:
            while CommandOutcome.pending in self._outcomes.values():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._settled.wait(remaining)
            return True

    def _set(self, message_id: uuid.UUID, outcome: CommandOutcome) -> None:
        # Hold self._settled.
        self._outcomes[message_id] = outcome
        self._settled.notify_all()


#: Outcomes nothing later changes (an ``ACK`` may still be followed by an ``ERR``).
_FINAL = frozenset(
    {CommandOutcome.failed, CommandOutcome.send_failed, CommandOutcome.no_response}
)
