"""Where commands go: the protocol every transport's sender implements.

In the domain so that the services (which send) and the transports (which
implement it: simulated, Kafka, in-memory) both depend on it and not on each
other.
"""

from __future__ import annotations

from typing import Protocol

from jobdash.domain.commands import Command

__all__ = ["CommandSendError", "CommandSink"]


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
