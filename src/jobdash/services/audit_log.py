"""The audit trail: who asked for which command, and what became of it.

One JSON object per line (JSON Lines), appended to a file an administrator can
``grep``, ``tail -f`` or load into a spreadsheet::

    {"time": "2025-11-29T00:00:00.000000Z", "user": "alice", "role": "operator",
     "action": "stop_job", "workflow": "dream/detector_view/1",
     "job": "mantle_detector/6f1c…", "message_id": "0b7e…", "outcome": "sent"}

A line is written when a command is sent (``sent``), when the transport
refuses it (``send_failed: <reason>``), when an action is refused before
anything is sent (``refused``, without ``message_id``), and when an action that
sends nothing (staging, removing a job from the view) is done (``done``,
without ``message_id``). What becomes of a sent
command is appended later, on a line with the same ``message_id``:
``acknowledged``, ``failed: <backend message>`` or ``no_response``
(``PendingCommandTracker`` reports these). Those later lines repeat the user,
role, action, workflow and job of the command when it is among the last
``memo_size`` commands recorded; otherwise those fields are ``null``. (The
``sent`` line is written once ``send()`` returns, so an in-process backend that
answers inside ``send()`` gets its answer logged first, without the user; the
Kafka sink and the simulated backend answer later.)

The audit log must never take the dashboard down: a file that cannot be
written is reported once (``logging.ERROR``), the lines are counted as
dropped, and writing is retried after ``retry_after`` seconds.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from jobdash.domain.access import Actor
from jobdash.domain.clock import Clock
from jobdash.domain.commands import Command, JobCommand
from jobdash.domain.ids import JobId, WorkflowId

__all__ = ["DEFAULT_MAX_BYTES", "AuditLog", "AuditOutcome"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
"""Size past which the file is rotated to ``<name>.1``."""


class AuditOutcome(StrEnum):
    """What happened to an action; written as ``<outcome>`` or ``<outcome>: <detail>``."""

    sent = "sent"
    done = "done"
    refused = "refused"
    send_failed = "send_failed"
    acknowledged = "acknowledged"
    failed = "failed"
    no_response = "no_response"


class _Context(NamedTuple):
    """What an outcome line repeats about its command."""

    user: str | None
    role: str | None
    action: str | None
    workflow: str | None
    job: str | None


_UNKNOWN = _Context(None, None, None, None, None)


class AuditLog:
    """Appends audit lines to one file; thread-safe, never raises on I/O.

    Parameters
    ----------
    path
        The file (``.jsonl``); its directory is created when needed.
    clock
        Stamps each line (UTC, microseconds) and paces retries.
    max_bytes
        When the next line would take the file past this size, the file is
        renamed to ``<name>.1`` (replacing an older one) and a new file begun,
        so the trail uses at most about twice this much disk.
    fsync
        ``fsync`` after every line: the line survives a power cut, at the cost
        of a disk flush per command. Without it a line survives a crash of the
        process (it is handed to the OS at once), not of the machine.
    memo_size
        How many recent commands are remembered to fill in the user, role,
        action, workflow and job of their later outcome lines, and to write
        each outcome of a command once.
    retry_after
        Seconds after a write failure before the file is tried again.
    """

    def __init__(
        self,
        path: Path | str,
        clock: Clock,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        fsync: bool = False,
        memo_size: int = 10_000,
        retry_after: float = 60.0,
    ) -> None:
        if max_bytes <= 0 or memo_size < 0 or retry_after < 0:
            raise ValueError("need max_bytes > 0, memo_size >= 0 and retry_after >= 0")
        self.path = Path(path)
        self._clock = clock
        self._max_bytes = max_bytes
        self._fsync = fsync
        self._memo_size = memo_size
        self._retry_ns = round(retry_after * 1e9)
        self._lock = threading.Lock()
        # message id → (its context, the outcome texts written for it)
        self._memo: OrderedDict[uuid.UUID, tuple[_Context, set[str]]] = OrderedDict()
        self._written = 0
        self._dropped = 0
        self._failing_since: int | None = None
        self._last_error: str | None = None

    # --- what callers record ---------------------------------------------------

    def command(
        self,
        actor: Actor,
        action: str,
        command: Command,
        outcome: AuditOutcome,
        detail: str | None = None,
        *,
        workflow: WorkflowId | None = None,
    ) -> None:
        """Record the fate of one command at send time (``sent``/``send_failed``).

        Parameters
        ----------
        actor
            Who asked for it.
        action
            The operator action it belongs to (``"stop_job"``,
            ``"commit_workflow"``); one action may send several commands.
        command
            The command; its message id, job and workflow are recorded.
        outcome, detail
            What happened, and why (a send failure's reason).
        workflow
            The workflow, when the command does not name it (a ``job_command``
            for one job).
        """
        context = _Context(
            actor.name,
            actor.role.value,
            action,
            _command_workflow(command, workflow),
            _command_job(command),
        )
        self._write(context, command.message_id, _outcome_text(outcome, detail))

    def refused(
        self,
        actor: Actor,
        action: str,
        *,
        workflow: WorkflowId | None = None,
        job: JobId | None = None,
        reason: str | None = None,
    ) -> None:
        """Record an action refused before anything changed or was sent
        (``refused``, or ``refused: <reason>`` when not for lack of rights)."""
        self._local(actor, action, AuditOutcome.refused, workflow, job, reason)

    def done(
        self,
        actor: Actor,
        action: str,
        *,
        workflow: WorkflowId | None = None,
        job: JobId | None = None,
    ) -> None:
        """Record an action that changed the dashboard and sent nothing.

        Staging a config, removing a job from the view: they change what the
        next commit starts or what every session shows, so who did them is
        recorded like a command, without a ``message_id``.
        """
        self._local(actor, action, AuditOutcome.done, workflow, job)

    def _local(
        self,
        actor: Actor,
        action: str,
        outcome: AuditOutcome,
        workflow: WorkflowId | None,
        job: JobId | None,
        detail: str | None = None,
    ) -> None:
        context = _Context(
            actor.name,
            actor.role.value,
            action,
            None if workflow is None else str(workflow),
            None if job is None else str(job),
        )
        self._write(context, None, _outcome_text(outcome, detail))

    def outcome(
        self,
        message_id: uuid.UUID,
        outcome: AuditOutcome,
        detail: str | None = None,
        *,
        known_only: bool = False,
    ) -> None:
        """Record what became of a sent command (ack, error, silence, late failure).

        The same outcome text is written once per message id (the sender and
        the tracker may both learn of one send failure).

        Parameters
        ----------
        message_id
            The command's id, as on its ``sent`` line.
        outcome, detail
            What happened (``failed`` with the backend's message as detail).
        known_only
            Write only if the command is among the remembered ones: for
            answers the tracker no longer waits for, which may belong to
            another dashboard's commands.
        """
        with self._lock:
            remembered = self._memo.get(message_id)
        if remembered is None and known_only:
            return
        context = _UNKNOWN if remembered is None else remembered[0]
        self._write(context, message_id, _outcome_text(outcome, detail))

    # --- health ------------------------------------------------------------------

    @property
    def written(self) -> int:
        """Lines written since start."""
        with self._lock:
            return self._written

    @property
    def dropped(self) -> int:
        """Lines lost because the file could not be written."""
        with self._lock:
            return self._dropped

    @property
    def last_error(self) -> str | None:
        """The last write problem, or ``None`` if the last write succeeded."""
        with self._lock:
            return self._last_error

    # --- internals -----------------------------------------------------------------

    def _write(
        self, context: _Context, message_id: uuid.UUID | None, outcome: str
    ) -> None:
        now = self._clock.now_ns()
        line = (
            json.dumps(
                {
                    "time": _iso_utc(now),
                    "user": context.user,
                    "role": context.role,
                    "action": context.action,
                    "workflow": context.workflow,
                    "job": context.job,
                    "message_id": None if message_id is None else str(message_id),
                    "outcome": outcome,
                },
                ensure_ascii=True,  # untrusted names: one line, plain ASCII
            )
            + "\n"
        ).encode("ascii")
        with self._lock:
            if message_id is not None and not self._remember(
                message_id, context, outcome
            ):
                return
            if (
                self._failing_since is not None
                and now - self._failing_since < self._retry_ns
            ):
                self._dropped += 1
                return
            try:
                self._append(line)
            except OSError as exc:
                self._dropped += 1
                self._last_error = f"{type(exc).__name__}: {exc}"
                if self._failing_since is None:
                    logger.error(
                        "cannot write the audit log %s (%s); audit lines are "
                        "dropped until it is writable again",
                        self.path,
                        self._last_error,
                    )
                self._failing_since = now
                return
            if self._failing_since is not None:
                logger.warning(
                    "audit log %s is writable again; %d line(s) were lost",
                    self.path,
                    self._dropped,
                )
                self._failing_since = None
            self._last_error = None
            self._written += 1

    def _remember(self, message_id: uuid.UUID, context: _Context, outcome: str) -> bool:
        """Note ``outcome`` for ``message_id``; ``False`` if already written."""
        memo = self._memo
        entry = memo.get(message_id)
        if entry is None:
            if self._memo_size == 0:
                return True
            memo[message_id] = (context, {outcome})
            if len(memo) > self._memo_size:
                memo.popitem(last=False)
            return True
        if outcome in entry[1]:
            return False
        entry[1].add(outcome)
        return True

    def _append(self, line: bytes) -> None:
        # Opened per line: commands are rare, and nothing stays open to leak,
        # to outlive a rename by logrotate, or to need closing at shutdown.
        # Unbuffered, so the line is one write() with O_APPEND: handed to the
        # OS at once, never interleaved with another process's lines.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "ab", buffering=0)  # noqa: SIM115
        try:
            size = os.fstat(file.fileno()).st_size
            if size > 0 and size + len(line) > self._max_bytes:
                file.close()
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
                file = open(self.path, "ab", buffering=0)  # noqa: SIM115
            file.write(line)
            if self._fsync:
                os.fsync(file.fileno())
        finally:
            file.close()


def _outcome_text(outcome: AuditOutcome, detail: str | None) -> str:
    if not detail:
        return outcome.value
    # One line per record even for multi-line backend messages.
    return f"{outcome.value}: {' '.join(detail.split())}"


def _command_workflow(command: Command, workflow: WorkflowId | None) -> str | None:
    if isinstance(command, JobCommand):
        if command.workflow_id is not None:
            return str(command.workflow_id.to_domain())
    else:
        return str(command.identifier.to_domain())
    return None if workflow is None else str(workflow)


def _command_job(command: Command) -> str | None:
    return None if command.job_id is None else str(command.job_id.to_domain())


def _iso_utc(now_ns: int) -> str:
    seconds, ns = divmod(now_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=ns // 1000)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
