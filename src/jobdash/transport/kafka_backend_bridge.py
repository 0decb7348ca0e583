"""The simulated backend as a service on Kafka, for trying a Kafka deployment.

``KafkaBackendBridge`` puts a :class:`~jobdash.transport.simulated.SimulatedBackend`
(or anything that is both a ``MessageSource`` and a ``CommandSink``) where a
fleet of ESS live-data workers would be: it consumes
``{prefix}{instrument}_livedata_commands``, hands each decoded command to the
backend's ``send``, and produces everything the backend's ``get_messages``
emits to the heartbeat, responses and data topics (by ``Message.stream``)
with the message's timestamp. Dashboards and ``jobdash status/start/stop``
then talk to it exactly as to production backends.

Two daemon threads do the work, one per direction, so a slow poll on one side
never delays the other. A command that fails to decode, or that the backend
refuses, is counted and logged (the first of each kind at WARNING, the rest at
DEBUG) and never stops the bridge. ``stop`` stops the backend, closes the
consumer and flushes what is still queued for Kafka.

At start the bridge asks the broker for the metadata of its topics, which
creates them on brokers that auto-create topics (development brokers and the
mock cluster of the tests): a dashboard started next then finds every topic
it subscribes to, including the responses topic before the first answer.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import KafkaException, Producer

from jobdash.domain.clock import Clock
from jobdash.domain.command_sink import CommandSendError
from jobdash.domain.commands import Command
from jobdash.domain.streams import StreamId
from jobdash.settings import Settings
from jobdash.transport.codec import DecodeError, decode_command
from jobdash.transport.kafka_config import (
    consumer_config,
    new_group_id,
    producer_config,
)
from jobdash.transport.kafka_positioning import PositionedConsumers
from jobdash.transport.message_source import Message

__all__ = ["BridgeStats", "KafkaBackendBridge", "SimulatedService"]

_log = logging.getLogger(__name__)

_NS_PER_MS = 1_000_000
#: Seconds to wait for room in librdkafka's queue before dropping a message.
_QUEUE_FULL_WAIT_S = 1.0
#: Seconds to wait for the metadata of a topic at start (creating it).
_METADATA_TIMEOUT_S = 3.0


class SimulatedService(Protocol):
    """What the bridge drives: a backend that is a source and a sink at once."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def get_messages(self, timeout: float) -> list[Message]: ...

    def send(self, command: Command) -> None: ...


@dataclass(frozen=True, slots=True)
class BridgeStats:
    """Counters since start.

    Attributes
    ----------
    commands
        Commands received and handed to the backend.
    bad_commands
        Commands not handed over, by reason (``undecodable``, ``refused``,
        or a librdkafka error name).
    produced
        Messages handed to the producer, by stream value.
    delivered, delivery_failures
        Delivery reports: confirmed by the broker, or given up.
    dropped
        Messages librdkafka's full local queue did not take.
    """

    commands: int = 0
    bad_commands: dict[str, int] = field(default_factory=dict)
    produced: dict[str, int] = field(default_factory=dict)
    delivered: int = 0
    delivery_failures: int = 0
    dropped: int = 0


class KafkaBackendBridge:
    """Connects a simulated backend to the Kafka topics of one instrument.

    Parameters
    ----------
    backend
        The backend (started and stopped by the bridge).
    settings
        Bootstrap servers, topic prefix, instrument and librdkafka
        pass-through; ``command_timeout`` bounds each delivery.
    clock
        The wall clock (``SystemClock`` outside tests): the commands consumer
        reads commands produced from the bridge's start on. The backend may
        run on a clock of its own (a ``ManualClock`` in tests).
    poll_timeout
        Seconds each thread waits per poll; bounds how long ``stop`` takes.
    flush_timeout
        Seconds ``stop`` waits for queued messages to be delivered.
    consumer_class, producer_class
        Build the Kafka clients from their configuration (tests may wrap them).
    """

    def __init__(
        self,
        backend: SimulatedService,
        settings: Settings,
        clock: Clock,
        *,
        poll_timeout: float = 0.1,
        flush_timeout: float = 5.0,
        consumer_class: Callable[[dict[str, Any]], Any] | None = None,
        producer_class: Callable[[dict[str, Any]], Any] = Producer,
    ) -> None:
        self._backend = backend
        self._settings = settings
        self._clock = clock
        self._poll_timeout = poll_timeout
        self._flush_timeout = flush_timeout
        self._consumer_class = consumer_class
        self._producer_class = producer_class
        self._commands_topic = settings.topic("commands")
        self._topics = {stream: settings.topic(stream.value) for stream in StreamId}
        self._positions: PositionedConsumers | None = None
        self._consumer: Any = None
        self._producer: Any = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._commands = 0
        self._bad: Counter[str] = Counter()
        self._produced: Counter[str] = Counter()
        self._delivered = 0
        self._delivery_failures = 0
        self._dropped = 0

    @property
    def commands_topic(self) -> str:
        return self._commands_topic

    @property
    def topics(self) -> dict[StreamId, str]:
        """Where each stream of the backend goes."""
        return dict(self._topics)

    def start(self) -> None:
        """Create the clients and topics, start the backend and both threads.

        Returns at once; :meth:`wait_ready` tells when commands are read.
        """
        if self._threads:
            return
        producer = self._producer_class(producer_config(self._settings))
        self._create_topics(producer)
        positions = PositionedConsumers(self._clock.now_ns(), **self._consumer_kwargs())
        consumer = positions(
            consumer_config(
                self._settings, group_id=new_group_id(), offset_reset="latest"
            )
        )
        consumer.subscribe([self._commands_topic])
        self._producer, self._consumer, self._positions = producer, consumer, positions
        self._stopping.clear()
        self._backend.start()
        self._threads = [
            threading.Thread(
                target=self._commands_loop, name="jobdash-bridge-commands", daemon=True
            ),
            threading.Thread(
                target=self._messages_loop, name="jobdash-bridge-messages", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()
        _log.info(
            "simulated backend on Kafka %s: commands from %s, messages to %s",
            self._settings.bootstrap_servers,
            self._commands_topic,
            ", ".join(self._topics.values()),
        )

    def wait_ready(self, timeout: float) -> bool:
        """Whether the commands topic is assigned (commands sent from now on
        are received) within ``timeout`` seconds."""
        positions = self._positions
        return positions is not None and positions.wait_assigned(timeout)

    def stop(self) -> None:
        """Stop the backend and both threads, then flush the producer."""
        threads, self._threads = self._threads, []
        if not threads:
            return
        self._stopping.set()
        self._backend.stop()  # wakes a get_messages waiting for due events
        for thread in threads:
            thread.join()
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        if consumer is not None:
            consumer.close()
        if producer is not None:
            remaining = producer.flush(self._flush_timeout)
            if remaining:
                _log.warning("%d message(s) not delivered before stopping", remaining)
        _log.info("simulated backend stopped: %s", self.stats())

    def stats(self) -> BridgeStats:
        with self._lock:
            return BridgeStats(
                commands=self._commands,
                bad_commands=dict(self._bad),
                produced=dict(self._produced),
                delivered=self._delivered,
                delivery_failures=self._delivery_failures,
                dropped=self._dropped,
            )

    # --- commands: Kafka → backend ----------------------------------------------

    def _commands_loop(self) -> None:
        consumer = self._consumer
        while not self._stopping.is_set():
            try:
                records = consumer.consume(100, self._poll_timeout)
            except Exception:  # the loop must outlive a broken poll
                _log.exception("polling the commands topic failed")
                self._stopping.wait(self._poll_timeout)
                continue
            for record in records:
                self._receive(record)

    def _receive(self, record: Any) -> None:
        error = record.error()
        if error is not None:
            self._count_bad(str(error.name()), error)
            return
        try:
            command = decode_command(record.value() or b"")
        except DecodeError as exc:
            self._count_bad("undecodable", exc)
            return
        try:
            self._backend.send(command)
        except CommandSendError as exc:
            self._count_bad("refused", exc)
            return
        with self._lock:
            self._commands += 1
        _log.info("received %s %s", command.kind, command.message_id)

    def _count_bad(self, reason: str, detail: object) -> None:
        with self._lock:
            self._bad[reason] += 1
            first = self._bad[reason] == 1
        level = logging.WARNING if first else logging.DEBUG
        _log.log(level, "command skipped (%s): %s", reason, detail)

    # --- messages: backend → Kafka --------------------------------------------------

    def _messages_loop(self) -> None:
        producer = self._producer
        while not self._stopping.is_set():
            try:
                messages = self._backend.get_messages(self._poll_timeout)
            except Exception:  # a backend bug must not end the simulation
                _log.exception("the simulated backend failed to produce messages")
                self._stopping.wait(self._poll_timeout)
                continue
            for message in messages:
                self._produce(producer, message)
            producer.poll(0)

    def _produce(self, producer: Any, message: Message) -> None:
        topic = self._topics[message.stream]
        kwargs = {
            "value": message.payload,
            "timestamp": message.timestamp // _NS_PER_MS,
            "on_delivery": self._delivery_report,
        }
        try:
            producer.produce(topic, **kwargs)
        except BufferError:
            # librdkafka's queue is full (the broker is away): wait for room once.
            producer.poll(_QUEUE_FULL_WAIT_S)
            try:
                producer.produce(topic, **kwargs)
            except BufferError:
                with self._lock:
                    self._dropped += 1
                _log.debug("dropped a %s message: producer queue full", message.stream)
                return
        with self._lock:
            self._produced[message.stream.value] += 1

    def _delivery_report(self, error: Any, _message: Any) -> None:
        with self._lock:
            if error is None:
                self._delivered += 1
                return
            self._delivery_failures += 1
            first = self._delivery_failures == 1
        level = logging.WARNING if first else logging.DEBUG
        _log.log(level, "message not delivered: %s", error)

    # --- set-up ----------------------------------------------------------------------

    def _create_topics(self, producer: Any) -> None:
        for topic in (self._commands_topic, *self._topics.values()):
            try:
                metadata = producer.list_topics(
                    topic=topic, timeout=_METADATA_TIMEOUT_S
                )
            except KafkaException as exc:
                # The broker is not reachable yet: the clients keep trying by
                # themselves, and so would every further lookup.
                _log.warning("no metadata for topic %s yet: %s", topic, exc)
                return
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                reason = "missing" if found is None else found.error
                _log.warning("topic %s is not available (%s)", topic, reason)

    def _consumer_kwargs(self) -> dict[str, Any]:
        if self._consumer_class is None:
            return {}
        return {"consumer_class": self._consumer_class}
