"""A command sink that records what was sent: the in-memory transport, for tests."""

from __future__ import annotations

import threading

from jobdash.domain.commands import Command

__all__ = ["InMemoryCommandSink"]


class InMemoryCommandSink:
    """Records the commands sent (a :class:`~jobdash.domain.command_sink.CommandSink`)."""

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
