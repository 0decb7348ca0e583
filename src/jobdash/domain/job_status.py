"""Heartbeats: one job's status, or one backend worker's status."""

from __future__ import annotations

from typing import NamedTuple

from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState


class JobStatus(NamedTuple):
    """One heartbeat of one job; immutable.

    A ``NamedTuple`` rather than a frozen dataclass because the ingestion hot
    path builds one per message and tuple construction is several times
    cheaper; it is still immutable and compares by value.

    Attributes
    ----------
    job_id, workflow_id
        Which job, under which workflow.
    state
        Reported state; ``JobState.unknown`` for states this version does not know.
    error_message, warning_message
        Free text from the backend (untrusted: display as text only).
    start_time, end_time
        Job start/end in ns since the epoch, or ``None``.
    timestamp
        When the heartbeat was produced (the message's envelope time, ns since
        the epoch; 0 if unknown). Orders heartbeats of the same job: an older
        one never overwrites a newer one.
    """

    job_id: JobId
    workflow_id: WorkflowId
    state: JobState
    error_message: str | None = None
    warning_message: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    timestamp: int = 0

    @property
    def message(self) -> str | None:
        """The error if any, else the warning, else ``None``."""
        return self.error_message or self.warning_message


def message_summary(text: str, limit: int = 200) -> str:
    """One line that says what went wrong, for toasts, logs and table cells.

    A Python traceback's first line ("Traceback (most recent call last):")
    says nothing, so for tracebacks take the last non-empty line (the
    exception); otherwise the first. Cut at ``limit`` characters with "…".
    """
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


class ServiceStatus(NamedTuple):
    """One heartbeat of a backend worker process (``message_type: service``).

    Attributes
    ----------
    instrument, service_name, worker_id
        Which worker (see :attr:`key`).
    state, error
        What it reports of itself (free text from the backend).
    started_at
        When the worker started (ns since the epoch), or ``None``.
    active_job_count
        How many jobs it runs, or ``None`` if it did not say.
    timestamp
        The message's envelope time (ns since the epoch; 0 if unknown).
    version
        The backend software's version text, or ``None``.
    source_names
        The data sources (streams) the worker serves; empty if it did not say.
    supported_actions
        Job actions it accepts (``"stop"``, ``"pause"``, ...); ``None`` means
        the heartbeat did not say, which is not the same as "none".
    """

    instrument: str
    service_name: str
    worker_id: str
    state: str
    started_at: int | None = None
    active_job_count: int | None = None
    error: str | None = None
    timestamp: int = 0
    version: str | None = None
    source_names: tuple[str, ...] = ()
    supported_actions: frozenset[str] | None = None

    @property
    def key(self) -> str:
        """Identity of the worker across heartbeats."""
        return f"{self.instrument}/{self.service_name}/{self.worker_id}"
