"""Commands to ESS live-data backends over Kafka (docs/production.md §1).

``KafkaCommandSink`` writes each command as JSON (``codec.encode_command``),
without a key, to ``{prefix}{instrument}_livedata_commands``.

Delivery is asynchronous. ``send`` only hands the command to librdkafka's
local queue and raises :class:`CommandSendError` if it cannot (queue full,
read-only instance, sink not started): nothing is dropped silently. What
happens next arrives as a delivery report, served by a small daemon thread
owned by the sink that polls the producer every ``poll_interval``. A thread
rather than polling on each ``send``: a failure is reported when it happens
(``message.timeout.ms`` after the send when the broker stays down), not
whenever the operator next clicks something. A failed delivery is logged and
passed to ``on_failure(command, reason)``; the composition root connects that
to the pending-command tracker, which tells the operator.

``stop`` flushes what is queued for up to ``flush_timeout`` seconds and
reports anything still undelivered through ``on_failure``.

A read-only (viewer) instance creates no producer at all, so it cannot send
even by mistake: the enforcement is on the server, not in the browser.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaException, Producer

from jobdash.domain.command_sink import CommandSendError
from jobdash.domain.commands import Command
from jobdash.settings import Settings
from jobdash.transport.codec import encode_command
from jobdash.transport.kafka_config import producer_config
from jobdash.transport.kafka_health import KafkaHealth

__all__ = ["KafkaCommandSink"]

_log = logging.getLogger(__name__)

FailureCallback = Callable[[Command, str], None]
"""Told about a command that will not reach the broker, and why."""
ProducerFactory = Callable[[dict[str, Any]], Any]
"""Builds the producer from its config (``confluent_kafka.Producer``)."""


class KafkaCommandSink:
    """A :class:`~jobdash.domain.command_sink.CommandSink` writing Kafka.

    Parameters
    ----------
    settings
        Bootstrap servers, topic prefix, instrument, ``read_only``,
        ``command_timeout`` (the delivery timeout) and librdkafka pass-through.
    on_failure
        Called with the command and librdkafka's reason when a delivery fails,
        on the sink's poll thread. It must not block for long; exceptions it
        raises are logged and swallowed.
    health
        Receives the producer's errors (never its connection state: see
        ``kafka_health``).
    poll_interval
        Seconds the poll thread waits for delivery reports per round; bounds
        how long ``stop`` waits for the thread.
    flush_timeout
        Seconds ``stop`` waits for queued commands to be delivered.
    producer_factory
        Builds the producer from its configuration.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        on_failure: FailureCallback | None = None,
        health: KafkaHealth | None = None,
        poll_interval: float = 0.1,
        flush_timeout: float = 5.0,
        producer_factory: ProducerFactory = Producer,
    ) -> None:
        self._topic = settings.topic("commands")
        self._read_only = settings.read_only
        self._on_failure = on_failure
        self._poll_interval = poll_interval
        self._flush_timeout = flush_timeout
        self._config = producer_config(settings)
        if health is not None:
            self._config.update(health.callbacks("producer", connection=False))
        self._producer_factory = producer_factory
        self._producer: Any = None
        self._poller: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._failed = 0
        self._delivered = 0

    @property
    def topic(self) -> str:
        return self._topic

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def in_flight(self) -> int:
        """Commands sent whose delivery report has not arrived yet."""
        with self._lock:
            return self._in_flight

    @property
    def counts(self) -> tuple[int, int]:
        """``(delivered, failed)`` since start."""
        with self._lock:
            return self._delivered, self._failed

    def start(self) -> None:
        """Create the producer and its poll thread (nothing in read-only mode)."""
        if self._read_only:
            _log.info("read-only instance: no Kafka command producer")
            return
        with self._lock:
            if self._producer is not None:
                return
            self._producer = self._producer_factory(self._config)
            self._stopping.clear()
            self._poller = threading.Thread(
                target=self._poll_loop,
                args=(self._producer,),
                name="jobdash-kafka-command-poll",
                daemon=True,
            )
            self._poller.start()
        _log.info(
            "Kafka command producer for %s at %s",
            self._topic,
            self._config.get("bootstrap.servers"),
        )

    def stop(self) -> None:
        """Flush queued commands, report the undelivered ones, stop polling."""
        with self._lock:
            producer, self._producer = self._producer, None
            poller, self._poller = self._poller, None
        if producer is None:
            return
        self._stopping.set()
        if poller is not None:
            poller.join()
        remaining = producer.flush(self._flush_timeout)
        if remaining:
            # Purging triggers delivery reports with a purge error for what
            # is left, so those commands take the normal failure path.
            producer.purge(in_queue=True, in_flight=True)
            producer.poll(0)
        _log.info(
            "Kafka command producer stopped (delivered, failed) = %s", self.counts
        )

    def send(self, command: Command) -> None:
        """Queue ``command`` for delivery; see the module documentation.

        Raises
        ------
        CommandSendError
            Read-only instance, sink not started, or librdkafka refused the
            message (local queue full, message too large).
        """
        if self._read_only:
            raise CommandSendError("this dashboard is read-only: commands are disabled")
        payload = encode_command(command)
        with self._lock:
            producer = self._producer
            if producer is None:
                raise CommandSendError("Kafka command sink is not running")
            try:
                producer.produce(
                    self._topic,
                    value=payload,
                    on_delivery=lambda err, _msg: self._delivery_report(command, err),
                )
            except BufferError:
                raise CommandSendError(
                    "Kafka producer queue is full; command not sent"
                ) from None
            except KafkaException as exc:
                raise CommandSendError(f"Kafka refused the command: {exc}") from None
            self._in_flight += 1
        _log.info("sent %s %s to %s", command.kind, command.message_id, self._topic)

    def _poll_loop(self, producer: Any) -> None:
        while not self._stopping.is_set():
            try:
                producer.poll(self._poll_interval)
            except Exception:  # the loop must outlive any callback bug
                _log.exception("Kafka command producer poll failed")

    def _delivery_report(self, command: Command, error: Any) -> None:
        with self._lock:
            self._in_flight -= 1
            if error is None:
                self._delivered += 1
            else:
                self._failed += 1
        if error is None:
            _log.debug("delivered %s %s", command.kind, command.message_id)
            return
        reason = str(error.str())
        _log.error(
            "command %s %s not delivered to %s: %s",
            command.kind,
            command.message_id,
            self._topic,
            reason,
        )
        if self._on_failure is None:
            return
        try:
            self._on_failure(command, reason)
        except Exception:
            _log.exception("on_failure callback raised for %s", command.message_id)
