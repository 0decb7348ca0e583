"""Settings of a jobdash process: environment (``JOBDASH_*``), CLI flags, defaults.

One ``Settings`` object is built at start-up and handed to the composition
root; nothing else reads the environment.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobdash.domain.access import AccessPolicy, Role

AUDIT_DISABLED = "none"
"""The ``audit_file`` value (``JOBDASH_AUDIT_FILE=none``) that turns auditing off."""


class TransportKind(StrEnum):
    """Where heartbeats come from and commands go to."""

    simulated = "simulated"
    kafka = "kafka"


def default_config_dir() -> Path:
    """``$XDG_CONFIG_HOME/jobdash`` (``~/.config/jobdash`` when unset)."""
    import os

    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "jobdash"


class Settings(BaseSettings):
    """Everything a deployment can configure.

    Every field can be set as ``JOBDASH_<FIELD>`` in the environment (e.g.
    ``JOBDASH_TRANSPORT=kafka``); ``jobdash serve`` flags override them.
    """

    model_config = SettingsConfigDict(
        env_prefix="JOBDASH_", env_nested_delimiter="__", extra="forbid"
    )

    transport: TransportKind = Field(
        TransportKind.simulated, description="simulated (in-process) or kafka"
    )
    instrument: str = Field("dream", min_length=1, description="Instrument name")
    catalogue: Path | None = Field(
        None,
        description="Workflow catalogue file (YAML/JSON); default: the shipped "
        "catalogue of the instrument",
    )
    heartbeat_interval: float = Field(
        2.0, gt=0, description="Seconds between a job's heartbeats"
    )
    stale_after: float | None = Field(
        None,
        gt=0,
        description="Seconds without heartbeat before a job is stale "
        "(default 3 x heartbeat_interval)",
    )
    refresh_interval: float = Field(
        0.25, gt=0, description="Seconds between a browser session's update checks"
    )
    command_timeout: float = Field(
        30.0, gt=0, description="Seconds before an unacknowledged command is reported"
    )
    scenario: str = Field(
        "none", description="Simulated backend fault scenario (see `jobdash serve -h`)"
    )
    seed: int = Field(0, description="Simulated backend random seed")
    clock_speed: float = Field(
        1.0, gt=0, description="Simulated time runs this many times faster"
    )
    frozen_clock: bool = Field(
        False, description="Freeze the clock (deterministic screenshots)"
    )
    read_only: bool = Field(False, description="View only: never send commands")
    config_dir: Path = Field(
        default_factory=default_config_dir,
        description="Where staged configs and job numbers are persisted",
    )
    operators: list[str] | None = Field(
        None,
        description="Users who may send commands, a JSON list "
        '(JOBDASH_OPERATORS=\'["olga","oscar"]\'); "*" = every authenticated '
        "user. Unset: without authentication the local user may act",
    )
    default_role: Role = Field(
        Role.viewer,
        description="Role of authenticated users not listed in operators",
    )
    audit_file: Path | None = Field(
        None,
        description="Audit trail (JSON Lines) of commands and refused actions; "
        "default <config_dir>/<instrument>-audit.jsonl; 'none' disables auditing",
    )
    audit_max_bytes: int = Field(
        50 * 2**20,
        gt=0,
        description="Size in bytes past which the audit file is rotated to <name>.1",
    )
    audit_fsync: bool = Field(
        False,
        description="fsync the audit file after every line (survives a power cut, "
        "at one disk flush per command)",
    )
    bootstrap_servers: str = Field(
        "localhost:9092", description="Kafka bootstrap servers (host:port,...)"
    )
    topic_prefix: str = Field(
        "", description="Prefix before '{instrument}_livedata_*' topic names"
    )
    kafka: dict[str, Any] = Field(
        default_factory=dict,
        description="librdkafka options passed through (security.protocol, sasl.*, "
        "ssl.*), e.g. JOBDASH_KAFKA__SECURITY_PROTOCOL=SASL_SSL",
    )

    @field_validator("kafka", mode="after")
    @classmethod
    def _librdkafka_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Environment variables cannot contain dots: accept security_protocol
        # for security.protocol.
        return {key.lower().replace("_", "."): item for key, item in value.items()}

    @field_validator("audit_file", mode="before")
    @classmethod
    def _audit_file_or_none(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.lower() == AUDIT_DISABLED:
                return None
            if not text:
                # Path("") would be the working directory, never a file.
                raise ValueError(
                    f"empty path: give a file, or {AUDIT_DISABLED!r} to disable "
                    "auditing"
                )
        return value

    @model_validator(mode="after")
    def _default_audit_file(self) -> Self:
        # Not a field default: the default follows config_dir and instrument,
        # whichever way they were set. An explicit None (or 'none') stays None.
        if "audit_file" not in self.model_fields_set:
            self.audit_file = self.config_dir / f"{self.instrument}-audit.jsonl"
        return self

    @property
    def effective_stale_after(self) -> float:
        """The stale threshold in seconds."""
        return (
            self.stale_after
            if self.stale_after is not None
            else 3 * self.heartbeat_interval
        )

    @property
    def config_file(self) -> Path:
        """The persisted-state file of this instrument."""
        return self.config_dir / f"{self.instrument}.json"

    def access_policy(self) -> AccessPolicy:
        """Who may send commands: ``operators``, ``default_role``, ``read_only``.

        Build it once per process and give it to every action service (and to
        the sessions, which ask it for their user's actor).
        """
        return AccessPolicy(
            operators=self.operators,
            read_only=self.read_only,
            default_role=self.default_role,
        )

    def topic(self, kind: str) -> str:
        """Topic name, e.g. ``topic('heartbeat')`` → ``dream_livedata_heartbeat``."""
        return f"{self.topic_prefix}{self.instrument}_livedata_{kind}"
