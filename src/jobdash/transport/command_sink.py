"""Where commands go: the protocol and an in-memory implementation."""

from __future__ import annotations

import threading
from typing import Protocol

from jobdash.domain.commands import Command


class CommandSendError(RuntimeError):
    """A command could not be handed to the transport (never sent)."""


class CommandSink(Protocol):
    """Sends commands to backends.

    ``send`` hands the command over or raises :class:`CommandSendError`;
    asynchronous delivery failures are reported by the transport itself (as a
    notification), never dropped silently.
    """

    def send(self, command: Command) -> None:
        """Send one command."""
        ...


class InMemoryCommandSink:
    """Records the commands sent, for tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: list[Command] = []

    def send(self, command: Command) -> None:
        with self._lock:
            self._sent.append(command)

    @property
    def sent(self) -> list[Command]:
        """A copy of every command sent so far, oldest first."""
        with self._lock:
            return list(self._sent)

    def clear(self) -> None:
        with self._lock:
            self._sent.clear()
