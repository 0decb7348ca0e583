"""Identifiers of jobs and workflows, with their wire text forms."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeAlias

JobNumber: TypeAlias = uuid.UUID
"""Shared by all jobs committed together for one workflow (a JobSet)."""

SourceName: TypeAlias = str
"""Names the data source a job reduces, e.g. ``mantle_detector``."""


@dataclass(frozen=True, slots=True)
class JobId:
    """One job: a source reduced under one job number.

    Text form ``source_name/job_number``. Source names may themselves contain
    ``/``, so parsing splits on the *last* slash.
    """

    source_name: SourceName
    job_number: JobNumber
    # Every heartbeat looks a JobId up in several dicts; UUID hashing is slow
    # Python code, so hash once at construction.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.source_name, self.job_number)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[JobId], tuple[str, JobNumber]]:
        # String hashes differ between processes: never pickle the cached one.
        return type(self), (self.source_name, self.job_number)

    def __str__(self) -> str:
        return f"{self.source_name}/{self.job_number}"

    @property
    def short(self) -> str:
        """First eight hex digits of the job number, for compact display."""
        return self.job_number.hex[:8]

    @classmethod
    def parse(cls, text: str) -> JobId:
        """Parse ``source_name/job_number``; raise ``ValueError`` if malformed."""
        source, sep, number = text.rpartition("/")
        if not sep or not source:
            raise ValueError(f"not a job id (expected 'source/uuid'): {text!r}")
        return cls(source, uuid.UUID(number))


@dataclass(frozen=True, slots=True)
class WorkflowId:
    """A versioned workflow of an instrument, optionally in a namespace.

    Text forms: ``instrument/name/version`` or
    ``instrument/namespace/name/version``.
    """

    instrument: str
    name: str
    version: int
    namespace: str | None = None
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "_hash",
            hash((self.instrument, self.name, self.version, self.namespace)),
        )

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[WorkflowId], tuple[str, str, int, str | None]]:
        return type(self), (self.instrument, self.name, self.version, self.namespace)

    def __str__(self) -> str:
        if self.namespace is None:
            return f"{self.instrument}/{self.name}/{self.version}"
        return f"{self.instrument}/{self.namespace}/{self.name}/{self.version}"

    @classmethod
    def parse(cls, text: str) -> WorkflowId:
        """Parse the 3- or 4-part text form; raise ``ValueError`` if malformed."""
        parts = text.split("/")
        if len(parts) == 3:
            instrument, name, version = parts
            namespace = None
        elif len(parts) == 4:
            instrument, namespace, name, version = parts
        else:
            raise ValueError(
                f"not a workflow id (expected 3 or 4 '/'-separated parts): {text!r}"
            )
        if not instrument or not name or (namespace is not None and not namespace):
            raise ValueError(f"not a workflow id (empty part): {text!r}")
        if not version.isdigit():
            raise ValueError(
                f"not a workflow id (version must be an integer): {text!r}"
            )
        return cls(instrument, name, int(version), namespace)


def seeded_job_numbers(seed: int) -> Callable[[], JobNumber]:
    """A reproducible source of version-4 job numbers.

    For simulated deployments and tests: the same seed yields the same
    sequence, so a replayed scenario shows the same job numbers. Production
    uses ``uuid.uuid4``.
    """
    rng = random.Random(seed)
    return lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
