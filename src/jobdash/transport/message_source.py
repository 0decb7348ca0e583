"""Where messages come from: the protocol and an in-memory implementation."""

from __future__ import annotations

import queue
from typing import NamedTuple, Protocol

from jobdash.domain.streams import StreamId


class Message(NamedTuple):
    """One raw message off a stream, before decoding.

    ``timestamp`` is the envelope time in ns since the epoch (Kafka's message
    timestamp, or the simulated backend's clock).
    """

    stream: StreamId
    payload: bytes
    timestamp: int


class MessageSource(Protocol):
    """A stream of raw messages, drained in batches by the ingestion thread.

    Implementations: ``InMemoryMessageSource`` (tests), ``SimulatedBackend``
    (default, in-process), ``KafkaMessageSource`` (production).
    """

    def start(self) -> None:
        """Connect / begin producing; called once before the first poll."""
        ...

    def stop(self) -> None:
        """Release resources; called once, from the ingestion thread's owner."""
        ...

    def get_messages(self, timeout: float) -> list[Message]:
        """Return the messages available now, waiting up to ``timeout`` s for one.

        Returns an empty list on timeout. Must not raise for a bad message;
        transport failures may raise and are counted by the caller.
        """
        ...


class InMemoryMessageSource:
    """A thread-safe queue of messages; ``publish`` from any thread.

    Parameters
    ----------
    max_batch
        Most messages returned by one ``get_messages`` call.
    """

    def __init__(self, max_batch: int = 1000) -> None:
        self._queue: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._max_batch = max_batch
        self.started = False
        self.stopped = False

    def publish(self, message: Message) -> None:
        self._queue.put(message)

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def get_messages(self, timeout: float) -> list[Message]:
        try:
            batch = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(batch) < self._max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch
