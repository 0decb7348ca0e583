"""Persistence of the operator's workflow configs across dashboard restarts.

What is kept (docs/architecture.md, ConfigStore): per workflow, the staged configs and the current
JobSet's job number with the configs it was started with — so that a restarted
dashboard shows the same staged values, and recognises its own running jobs
(adopting them *with* their config instead of as "config unknown"). Runtime
status is never persisted: after a restart it comes from heartbeats alone.

The file is JSON, validated by pydantic. It is written atomically (temporary
file ``.<name>.<random>.tmp`` in the same directory, fsync, ``os.replace``), so
a crash mid-write leaves the old file intact — and that temporary file, which
the next :meth:`ConfigStore.load` removes. A save holds an exclusive ``flock``
on its temporary file until the rename, so a load in another process (a second
dashboard, the ``jobdash`` CLI) never removes one still being written. A file
that cannot be read, parsed or validated —
corrupt, or written by an incompatible version — is renamed aside as
``<name>.corrupt-<UTC time>``, a warning is recorded, and loading continues
with an empty state: the dashboard must start regardless.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import os
import re
import tempfile
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jobdash.domain.clock import Clock, SystemClock

__all__ = [
    "FORMAT_VERSION",
    "ConfigStore",
    "PersistedJobConfig",
    "PersistedJobSet",
    "PersistedState",
    "PersistedWorkflow",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION: Literal[1] = 1
"""Version of the file format; a file with another version is set aside."""

# tempfile.mkstemp's random part is drawn from [a-z0-9_]: no dot, so the
# temporary files of "dream.json.bak" never match those of "dream.json".
_TEMPORARY_NAME = r"\.{name}\.[a-z0-9_]+\.tmp"
_TEMPORARY_ATTEMPTS = 3


class _Model(BaseModel):
    # Unknown keys are ignored, so a later release may add fields without
    # bumping FORMAT_VERSION; changing the meaning of a field bumps it.
    model_config = ConfigDict(frozen=True, extra="ignore")


class PersistedJobConfig(_Model):
    """The config of one source: what a commit sends for it."""

    params: dict[str, Any] = Field(default_factory=dict)
    aux_source_names: dict[str, str] = Field(default_factory=dict)


class PersistedJobSet(_Model):
    """The current JobSet of a workflow: its job number and per-source configs."""

    job_number: uuid.UUID
    jobs: dict[str, PersistedJobConfig] = Field(default_factory=dict)


class PersistedWorkflow(_Model):
    """What is kept for one workflow.

    ``committed``: the job numbers this dashboard committed, oldest first
    (bounded by the orchestrator), so that after a restart it still tells
    its own orphans from someone else's.
    """

    staged: dict[str, PersistedJobConfig] = Field(default_factory=dict)
    current: PersistedJobSet | None = None
    committed: list[uuid.UUID] = Field(default_factory=list)


class PersistedState(_Model):
    """The whole file: per workflow id text (``dream/detector_view/1``)."""

    version: Literal[1] = 1
    workflows: dict[str, PersistedWorkflow] = Field(default_factory=dict)


class ConfigStore:
    """Loads and atomically saves one :class:`PersistedState` file.

    Never raises for a bad file or a failed write: problems are logged and
    appended to :attr:`warnings` (for the UI to show), and :meth:`load` falls
    back to an empty state. Thread-safe.

    Parameters
    ----------
    path
        The file, e.g. ``~/.config/jobdash/dream.json``; its directory is
        created on the first save.
    clock
        Names the set-aside copy of a corrupt file; the system clock by default.
    """

    def __init__(self, path: Path | str, *, clock: Clock | None = None) -> None:
        self.path = Path(path)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.Lock()
        self._warnings: list[str] = []

    @property
    def warnings(self) -> list[str]:
        """Problems met so far, oldest first (a copy)."""
        with self._lock:
            return list(self._warnings)

    def load(self) -> PersistedState:
        """Read the file; an empty state if it is missing or unusable.

        First removes the temporary files of saves that never finished (their
        writer crashed); other files, and temporary files a save in progress
        holds, are left alone.
        """
        with self._lock:
            self._remove_abandoned_temporaries()
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                return PersistedState()
            except OSError as exc:
                self._set_aside(f"cannot read {self.path}: {exc}")
                return PersistedState()
            try:
                return PersistedState.model_validate_json(data)
            except ValidationError as exc:
                self._set_aside(
                    f"{self.path} is corrupt or incompatible: {_first(exc)}"
                )
                return PersistedState()

    def save(self, state: PersistedState) -> bool:
        """Replace the file with ``state`` atomically; ``False`` if that failed.

        A failed write leaves the previous file as it was.
        """
        text = state.model_dump_json(indent=2) + "\n"
        with self._lock:
            try:
                self._write_atomically(text.encode("utf-8"))
            except OSError as exc:
                self._warn(f"could not save workflow configs to {self.path}: {exc}")
                return False
            return True

    # --- internals (hold the lock) -----------------------------------------

    def _write_atomically(self, data: bytes) -> None:
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = self._create_temporary(directory)
        try:
            # Renamed while still open: the lock is held until the temporary
            # name is gone, so no other process's load() takes it for a leftover.
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
                os.replace(tmp_name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        _fsync_directory(directory)

    def _create_temporary(self, directory: Path) -> tuple[int, str]:
        """A new temporary file beside the store, created and locked by us."""
        for _ in range(_TEMPORARY_ATTEMPTS):
            fd, name = tempfile.mkstemp(
                dir=directory, prefix=f".{self.path.name}.", suffix=".tmp"
            )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_nlink > 0:
                    return fd, name
            except BaseException:
                os.close(fd)
                raise
            # Another process's load() removed it between its creation and
            # our lock: take a new one.
            os.close(fd)
        raise OSError(f"temporary files in {directory} keep disappearing")

    def _remove_abandoned_temporaries(self) -> None:
        """Delete this store's temporary files that no save holds any more."""
        directory = self.path.parent
        pattern = re.compile(_TEMPORARY_NAME.format(name=re.escape(self.path.name)))
        try:
            with os.scandir(directory) as entries:
                names = [
                    entry.name
                    for entry in entries
                    if pattern.fullmatch(entry.name)
                    and entry.is_file(follow_symlinks=False)
                ]
        except OSError:
            return  # no directory yet, or not listable: nothing to clean
        for name in names:
            if _remove_if_abandoned(directory / name):
                logger.info("removed %s, left by a save that did not finish", name)

    def _set_aside(self, problem: str) -> None:
        stamp = datetime.fromtimestamp(self._clock.now_ns() / 1e9, tz=UTC)
        base = f"{self.path.name}.corrupt-{stamp.strftime('%Y%m%dT%H%M%SZ')}"
        target = self.path.with_name(base)
        for n in itertools.count(2):
            if not target.exists():
                break
            target = self.path.with_name(f"{base}.{n}")
        try:
            os.replace(self.path, target)
        except OSError as exc:
            self._warn(f"{problem}; could not set it aside ({exc}); starting empty")
            return
        self._warn(f"{problem}; moved it to {target.name} and started empty")

    def _warn(self, text: str) -> None:
        logger.warning("%s", text)
        self._warnings.append(text)


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"])
    return f"{location}: {error['msg']}" if location else str(error["msg"])


def _remove_if_abandoned(path: Path) -> bool:
    """Unlink ``path`` unless a save holds its lock; whether it was removed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.unlink(path)
    except OSError:
        return False  # held by a save in progress, or gone already
    finally:
        os.close(fd)
    return True


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; not possible everywhere
    # (e.g. Windows), where os.replace is already as durable as it gets.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
