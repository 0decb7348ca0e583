"""Commands the dashboard sends to backends, and their acknowledgements.

Pydantic models whose JSON is exactly the ESS live-data wire format (docs/production.md §1); the
codec (``jobdash.transport.codec``) turns them into bytes and back. Commands
are rare (operator actions), so validation cost does not matter here.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from jobdash.domain.ids import JobId, WorkflowId


class _WireModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class WorkflowIdentifier(_WireModel):
    """A ``WorkflowId`` as it travels in commands (an object, not text)."""

    instrument: str
    name: str
    version: int
    # Omitted from the JSON when absent: ESS backends expect exactly three keys.
    namespace: str | None = Field(default=None, exclude_if=lambda v: v is None)

    @classmethod
    def from_domain(cls, workflow_id: WorkflowId) -> WorkflowIdentifier:
        return cls(
            instrument=workflow_id.instrument,
            name=workflow_id.name,
            version=workflow_id.version,
            namespace=workflow_id.namespace,
        )

    def to_domain(self) -> WorkflowId:
        return WorkflowId(self.instrument, self.name, self.version, self.namespace)


class JobIdentifier(_WireModel):
    """A ``JobId`` as it travels in commands."""

    source_name: str
    job_number: uuid.UUID

    @classmethod
    def from_domain(cls, job_id: JobId) -> JobIdentifier:
        return cls(source_name=job_id.source_name, job_number=job_id.job_number)

    def to_domain(self) -> JobId:
        return JobId(self.source_name, self.job_number)


class Schedule(_WireModel):
    """When a job should run; ``None`` means now / until stopped."""

    start_time: int | None = None
    end_time: int | None = None


class WorkflowConfigCommand(_WireModel):
    """Start one job: a source under a workflow with parameters."""

    kind: Literal["workflow_config"] = "workflow_config"
    message_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    identifier: WorkflowIdentifier
    job_id: JobIdentifier
    schedule: Schedule = Schedule()
    aux_source_names: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)


class JobAction(StrEnum):
    """What a ``job_command`` asks a backend to do."""

    stop = "stop"
    reset = "reset"
    pause = "pause"
    resume = "resume"


class JobCommand(_WireModel):
    """Act on one job, or on every job of a workflow when ``job_id`` is null."""

    kind: Literal["job_command"] = "job_command"
    message_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    job_id: JobIdentifier | None = None
    workflow_id: WorkflowIdentifier | None = None
    action: JobAction


Command = Annotated[WorkflowConfigCommand | JobCommand, Field(discriminator="kind")]
"""Anything on the commands topic, told apart by ``kind``."""


class Acknowledgement(_WireModel):
    """A backend's answer to one command (responses topic).

    Only the backend owning the job answers; silence is normal. Acks drive
    operator feedback, never job state.
    """

    message_id: uuid.UUID
    device: str
    response: Literal["ACK", "ERR"]
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.response == "ACK"
