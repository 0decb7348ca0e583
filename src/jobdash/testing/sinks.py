"""Command sinks that misbehave on purpose, for tests of the command path."""

from __future__ import annotations

from jobdash.domain.command_sink import CommandSendError
from jobdash.domain.commands import Command
from jobdash.transport.in_memory_sink import InMemoryCommandSink

__all__ = ["RefusingSink"]


class RefusingSink(InMemoryCommandSink):
    """Refuses commands for the given source names (as a dead broker would);
    records the rest."""

    def __init__(self, *refused: str) -> None:
        super().__init__()
        self.refused = set(refused)

    def send(self, command: Command) -> None:
        if command.job_id is not None and command.job_id.source_name in self.refused:
            raise CommandSendError("broker unreachable")
        super().send(command)
