"""Operator feedback for commands: acknowledgements, failures and silence.

Backends answer a command only when they own its job, and may not answer at
all, so acknowledgements drive feedback (notifications), never job state
(docs/production.md §1). Commands sent together for one operator action (starting a
workflow's four jobs, stopping one job) form a *group* that reports its
outcome once: all acknowledged, some failed, or some silent after the timeout.

Given an :class:`~jobdash.services.audit_log.AuditLog`, the tracker also
appends what became of each command to the audit trail, by message id:
``acknowledged``, ``failed: <message>``, ``no_response``, or
``send_failed: <reason>`` for a command the transport gave up on.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from jobdash.domain.clock import Clock
from jobdash.domain.commands import Acknowledgement, Command, JobCommand
from jobdash.domain.ids import JobId
from jobdash.services.audit_log import AuditLog, AuditOutcome
from jobdash.services.notifications import NotificationLevel, NotificationLog

# The action noun of a past-tense verb, for "Start of mantle_detector failed".
_NOUNS = {
    "Started": "Start",
    "Stopped": "Stop",
    "Reset": "Reset",
    "Paused": "Pause",
    "Resumed": "Resume",
    "Committed": "Commit",
    "Configured": "Configuration",
    "Removed": "Removal",
}


def action_noun(verb: str) -> str:
    """The noun of a past-tense verb: ``Started`` → ``Start``, ``Reset`` → ``Reset``.

    Known verbs come from a table; others lose their ``-ed`` and a doubled
    final consonant (``Restarted`` → ``Restart``, ``Dropped`` → ``Drop``).
    Pass ``noun=`` to :meth:`PendingCommandTracker.track` when this guesses
    wrong.
    """
    if verb in _NOUNS:
        return _NOUNS[verb]
    if len(verb) > 4 and verb.endswith("ed"):
        stem = verb[:-2]
        if stem[-1] == stem[-2] and stem[-1] not in "aeioulsz":
            stem = stem[:-1]
        return stem
    return verb


class GroupProgress(NamedTuple):
    """Where an outstanding group stands (a copy, for tests and the UI).

    ``pending`` commands have neither an answer nor a send failure yet.
    """

    group_id: int
    verb: str
    subject: str
    sent_at: int
    total: int
    acked: int
    failed: int

    @property
    def pending(self) -> int:
        return self.total - self.acked - self.failed


@dataclass(eq=False)
class _Group:
    group_id: int
    verb: str
    noun: str
    subject: str
    sent_at: int
    # message id → what the command acts on (a source name, else the subject)
    labels: dict[uuid.UUID, str]
    acked: set[uuid.UUID] = field(default_factory=set)
    failed: set[uuid.UUID] = field(default_factory=set)

    @property
    def pending(self) -> int:
        return len(self.labels) - len(self.acked) - len(self.failed)

    def progress(self) -> GroupProgress:
        return GroupProgress(
            self.group_id,
            self.verb,
            self.subject,
            self.sent_at,
            len(self.labels),
            len(self.acked),
            len(self.failed),
        )


class _Note(NamedTuple):
    level: NotificationLevel
    text: str


class _Outcome(NamedTuple):
    """An audit line to write once the lock is released."""

    message_id: uuid.UUID
    outcome: AuditOutcome
    detail: str | None = None
    known_only: bool = False


class PendingCommandTracker:
    """Turns acknowledgements, send failures and timeouts into notifications.

    Thread-safe: UI threads call :meth:`track` and :meth:`command_failed`, the
    ingestion thread :meth:`ack_received` and :meth:`tick`. A group is dropped
    as soon as it reported its outcome, so memory is bounded by the commands
    sent within one ``timeout``; later answers to it are ignored and counted.

    Parameters
    ----------
    clock
        Source of send times and of "now" for the timeout.
    notifications
        Where feedback goes.
    timeout
        Seconds after which a command without an answer is reported as
        "no response".
    audit
        Where the outcome of each command is also recorded; ``None``: nowhere.
    """

    def __init__(
        self,
        clock: Clock,
        notifications: NotificationLog,
        *,
        timeout: float = 30.0,
        audit: AuditLog | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self._clock = clock
        self._notifications = notifications
        self._audit = audit
        self._timeout = timeout
        self._timeout_ns = round(timeout * 1e9)
        self._lock = threading.RLock()
        self._groups: dict[int, _Group] = {}
        self._group_of: dict[uuid.UUID, int] = {}
        self._next_group_id = 1
        self._ignored_acks = 0

    def track(
        self,
        commands: Sequence[Command],
        *,
        verb: str,
        subject: str,
        noun: str | None = None,
    ) -> int:
        """Start waiting for the answers to ``commands``, sent for one action.

        Call it *before* sending, so that an immediate answer is not missed;
        report a command the transport could not take with
        :meth:`command_failed`.

        Parameters
        ----------
        commands
            The commands of one operator action (at least one, unique ids).
        verb
            Past tense for the summary, e.g. ``"Started"`` → "Started 4/4 jobs
            for Detector view".
        subject
            What the action was for: a workflow title, or a job's source name.
        noun
            The action as a noun ("Start of … failed"); derived from ``verb``
            by :func:`action_noun` when omitted.

        Returns
        -------
        :
            The group's id, as in :meth:`outstanding`.
        """
        if not commands:
            raise ValueError("track() needs at least one command")
        labels = {command.message_id: _label(command, subject) for command in commands}
        if len(labels) != len(commands):
            raise ValueError("commands of one group must have distinct message ids")
        with self._lock:
            already = [str(mid) for mid in labels if mid in self._group_of]
            if already:
                raise ValueError(f"commands already tracked: {', '.join(already)}")
            group = _Group(
                group_id=self._next_group_id,
                verb=verb,
                noun=noun if noun is not None else action_noun(verb),
                subject=subject,
                sent_at=self._clock.now_ns(),
                labels=labels,
            )
            self._next_group_id += 1
            self._groups[group.group_id] = group
            for message_id in labels:
                self._group_of[message_id] = group.group_id
            return group.group_id

    def ack_received(self, ack: Acknowledgement) -> None:
        """Record a backend's answer; an ``ERR`` is reported at once.

        Answers to unknown (or already reported) commands are ignored and
        counted in :attr:`ignored_acks`.
        """
        notes: list[_Note] = []
        outcomes: list[_Outcome] = []
        with self._lock:
            group = self._group_for(ack.message_id)
            if group is None:
                self._ignored_acks += 1
                # A late answer to one of our commands is still worth auditing;
                # answers to other dashboards' commands are not ours to record.
                outcomes.append(_answer_outcome(ack, known_only=True))
                self._record(outcomes)
                return
            outcomes.append(_answer_outcome(ack))
            if ack.ok:
                if ack.message_id not in group.failed:
                    group.acked.add(ack.message_id)
            else:
                group.acked.discard(ack.message_id)
                group.failed.add(ack.message_id)
                label = _device_label(ack.device) or group.labels[ack.message_id]
                reason = f": {ack.message}" if ack.message else ""
                notes.append(
                    _Note(
                        NotificationLevel.error,
                        f"{group.noun} of {label} failed{reason}",
                    )
                )
            if group.pending == 0:
                notes.extend(self._finish(group, timed_out=False))
        self._notify(notes)
        self._record(outcomes)

    def command_failed(self, command: Command, reason: str) -> None:
        """Report a command the transport could not send, e.g. broker unreachable.

        It counts as failed in its group (if tracked); it will get no answer.
        """
        notes: list[_Note] = []
        with self._lock:
            group = self._group_for(command.message_id)
            if group is None:
                noun, label = _command_noun(command), _label(command, "")
            else:
                noun, label = group.noun, group.labels[command.message_id]
                group.acked.discard(command.message_id)
                group.failed.add(command.message_id)
            target = f"{noun} of {label}" if label else noun
            notes.append(
                _Note(NotificationLevel.error, f"Could not send {target}: {reason}")
            )
            if group is not None and group.pending == 0:
                notes.extend(self._finish(group, timed_out=False))
        self._notify(notes)
        self._record([_Outcome(command.message_id, AuditOutcome.send_failed, reason)])

    def tick(self) -> None:
        """Report the groups whose unanswered commands passed the timeout."""
        notes: list[_Note] = []
        outcomes: list[_Outcome] = []
        with self._lock:
            deadline = self._clock.now_ns() - self._timeout_ns
            for group in [g for g in self._groups.values() if g.sent_at <= deadline]:
                outcomes.extend(
                    _Outcome(message_id, AuditOutcome.no_response)
                    for message_id in group.labels
                    if message_id not in group.acked and message_id not in group.failed
                )
                notes.extend(self._finish(group, timed_out=True))
        self._notify(notes)
        self._record(outcomes)

    def pending_count(self) -> int:
        """How many tracked commands still wait for an answer."""
        with self._lock:
            return sum(group.pending for group in self._groups.values())

    def outstanding(self) -> list[GroupProgress]:
        """The groups that have not reported their outcome yet, oldest first."""
        with self._lock:
            return [group.progress() for group in self._groups.values()]

    @property
    def ignored_acks(self) -> int:
        """Answers received for commands not (or no longer) tracked."""
        with self._lock:
            return self._ignored_acks

    # --- internals ---------------------------------------------------------

    def _group_for(self, message_id: uuid.UUID) -> _Group | None:
        group_id = self._group_of.get(message_id)
        return None if group_id is None else self._groups[group_id]

    def _finish(self, group: _Group, *, timed_out: bool) -> list[_Note]:
        """Drop ``group`` and return its one summary (none if already told)."""
        del self._groups[group.group_id]
        for message_id in group.labels:
            del self._group_of[message_id]
        total = len(group.labels)
        acked, failed, silent = len(group.acked), len(group.failed), group.pending
        jobs = "job" if total == 1 else "jobs"
        failures = f"; {failed} failed" if failed else ""
        if timed_out and silent:
            after = f"after {self._timeout:g} s"
            if acked:
                text = (
                    f"{group.verb} {acked}/{total} {jobs} for {group.subject}; "
                    f"{silent} with no response {after}{failures}"
                )
            elif total == 1:
                text = f"No response {after} to {group.noun} of {_only(group.labels)}"
            elif silent == total:
                text = f"No response {after} to {group.noun} of {total} jobs for {group.subject}"
            else:
                text = (
                    f"No response {after} to {group.noun} of {silent}/{total} jobs "
                    f"for {group.subject}{failures}"
                )
            return [_Note(NotificationLevel.warning, text)]
        summary = f"{group.verb} {acked}/{total} {jobs} for {group.subject}{failures}"
        if not failed:
            return [_Note(NotificationLevel.success, summary)]
        if acked:
            return [_Note(NotificationLevel.warning, summary)]
        if total == 1:
            return []  # its failure, already reported, is the whole outcome
        return [_Note(NotificationLevel.error, summary)]

    def _notify(self, notes: list[_Note]) -> None:
        # Outside our lock: the log has its own, and a slow reader of it must
        # not hold up acknowledgement handling.
        for note in notes:
            self._notifications.add(note.level, note.text)

    def _record(self, outcomes: list[_Outcome]) -> None:
        # Outside our lock too: writing a file must not hold up acknowledgements.
        if self._audit is None:
            return
        for item in outcomes:
            self._audit.outcome(
                item.message_id, item.outcome, item.detail, known_only=item.known_only
            )


def _answer_outcome(ack: Acknowledgement, *, known_only: bool = False) -> _Outcome:
    if ack.ok:
        return _Outcome(ack.message_id, AuditOutcome.acknowledged, None, known_only)
    return _Outcome(ack.message_id, AuditOutcome.failed, ack.message, known_only)


def _label(command: Command, subject: str) -> str:
    """What a command acts on: its job's source name, else ``subject``."""
    return command.job_id.source_name if command.job_id is not None else subject


def _command_noun(command: Command) -> str:
    if isinstance(command, JobCommand):
        return command.action.value.capitalize()
    return "Start"


def _device_label(device: str) -> str:
    """An ack's ``device`` as a short label: a job id text becomes its source name."""
    try:
        return JobId.parse(device).source_name
    except ValueError:
        return device


def _only(labels: dict[uuid.UUID, str]) -> str:
    (label,) = labels.values()
    return label
