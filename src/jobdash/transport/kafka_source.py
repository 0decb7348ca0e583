"""Messages from ESS live-data backends over Kafka (docs/production.md §1).

``KafkaMessageSource`` subscribes to ``{prefix}{instrument}_livedata_heartbeat``,
``_responses`` and ``_data`` and hands the ingestion thread raw
:class:`~jobdash.transport.message_source.Message` batches. It does not decode:
the ingestion thread does, so decoding costs and errors are counted in one
place whatever the source.

Every process is a consumer group of its own (``jobdash-<uuid4>``) starting
at the live end of the topics (``auto.offset.reset=latest``) and never
committing offsets: a dashboard shows the present, and every dashboard must
see every message. Tools and tests may start from ``earliest`` instead.

Failure model: message-level errors (a subscribed topic that does not exist
yet, partition EOF, a record without a value) are skipped, counted per error
name and logged once per name; ``get_messages`` never raises for them. A
broker outage is not an error here at all: librdkafka reconnects by itself,
``get_messages`` just returns nothing meanwhile, and ``KafkaHealth`` tells
the operator.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError

from jobdash.domain.clock import Clock
from jobdash.domain.streams import StreamId
from jobdash.settings import Settings
from jobdash.transport.kafka_config import OffsetReset, consumer_config, new_group_id
from jobdash.transport.kafka_health import KafkaHealth
from jobdash.transport.message_source import Message

__all__ = ["KafkaMessageSource", "KafkaSourceStats"]

_log = logging.getLogger(__name__)

ConsumerFactory = Callable[[dict[str, Any]], Any]
"""Builds the consumer from its config (``confluent_kafka.Consumer``; tests
may pass a fake)."""

_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class KafkaSourceStats:
    """Counters since start, for the ingestion statistics and the log.

    Attributes
    ----------
    messages
        Messages returned by ``get_messages``.
    skipped
        Records skipped, by reason: a librdkafka error name
        (``UNKNOWN_TOPIC_OR_PART``, ``_PARTITION_EOF``, ...), ``"no value"``,
        or ``"unknown topic"``.
    """

    messages: int = 0
    skipped: Mapping[str, int] = field(default_factory=dict)


class KafkaMessageSource:
    """A :class:`~jobdash.transport.message_source.MessageSource` reading Kafka.

    Parameters
    ----------
    settings
        Bootstrap servers, topic prefix, instrument and librdkafka pass-through.
    clock
        Fallback time for records without a Kafka timestamp.
    health
        Fed with librdkafka's errors and statistics, if given.
    streams
        Which streams to read (default all three; a status-only dashboard can
        leave out the heavy ``data`` topic).
    offset_reset
        ``latest`` (the live view) or ``earliest`` (tools, tests).
    max_batch
        Most messages returned by one ``get_messages`` call.
    group_id
        Consumer group; default a new ``jobdash-<uuid4>``.
    consumer_factory
        Builds the consumer from its configuration.

    Threading: ``get_messages`` is called by the ingestion thread only;
    ``stop`` may be called from another thread and waits for a running
    ``get_messages`` to return (at most its timeout).
    """

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        *,
        health: KafkaHealth | None = None,
        streams: Iterable[StreamId] = tuple(StreamId),
        offset_reset: OffsetReset = "latest",
        max_batch: int = 1000,
        group_id: str | None = None,
        consumer_factory: ConsumerFactory = Consumer,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._clock = clock
        self._max_batch = max_batch
        self._topics: dict[str, StreamId] = {
            settings.topic(stream.value): stream for stream in streams
        }
        if not self._topics:
            raise ValueError("no streams to read")
        self._group_id = group_id or new_group_id()
        self._config = consumer_config(
            settings, group_id=self._group_id, offset_reset=offset_reset
        )
        if health is not None:
            self._config.update(health.callbacks("consumer"))
        self._consumer_factory = consumer_factory
        self._consumer: Any = None
        self._stopped = False
        self._lock = threading.Lock()
        self._messages = 0
        self._skipped: Counter[str] = Counter()

    @property
    def topics(self) -> dict[str, StreamId]:
        """Topic name → stream, as subscribed."""
        return dict(self._topics)

    @property
    def group_id(self) -> str:
        return self._group_id

    def start(self) -> None:
        """Create the consumer and subscribe; returns at once (joining the
        group and fetching happen during ``get_messages``)."""
        with self._lock:
            if self._consumer is not None or self._stopped:
                return
            consumer = self._consumer_factory(self._config)
            consumer.subscribe(list(self._topics))
            self._consumer = consumer
        _log.info(
            "Kafka consumer %s subscribed to %s at %s",
            self._group_id,
            ", ".join(self._topics),
            self._config.get("bootstrap.servers"),
        )

    def stop(self) -> None:
        """Leave the group and close the consumer; later calls return nothing."""
        with self._lock:
            consumer, self._consumer = self._consumer, None
            self._stopped = True
            if consumer is not None:
                consumer.close()
        if consumer is not None:
            _log.info("Kafka consumer %s closed (%s)", self._group_id, self.stats())

    def get_messages(self, timeout: float) -> list[Message]:
        """Messages available now, waiting up to ``timeout`` s for the first.

        librdkafka's ``consume(n, timeout)`` waits until it has ``n`` messages
        or the timeout expires; this returns as soon as there is one.
        """
        with self._lock:
            consumer = self._consumer
            if consumer is None:
                return []
            records = consumer.consume(self._max_batch, 0)
            if not records and timeout > 0:
                records = consumer.consume(1, timeout)
                if records and self._max_batch > 1:
                    records.extend(consumer.consume(self._max_batch - 1, 0))
            return self._convert(records)

    def stats(self) -> KafkaSourceStats:
        with self._lock:
            return KafkaSourceStats(self._messages, dict(self._skipped))

    def _convert(self, records: list[Any]) -> list[Message]:
        topics = self._topics
        messages: list[Message] = []
        append = messages.append
        for record in records:
            try:
                error = record.error()
                if error is not None:
                    self._skip(_error_name(error), error)
                    continue
                stream = topics.get(record.topic())
                payload = record.value()
                if stream is None:
                    self._skip("unknown topic", record.topic())
                    continue
                if payload is None:
                    self._skip("no value", record.topic())
                    continue
                kind, millis = record.timestamp()
                if kind == TIMESTAMP_NOT_AVAILABLE or millis < 0:
                    timestamp = self._clock.now_ns()
                else:
                    timestamp = millis * _NS_PER_MS
            except Exception as exc:  # never let one record break the batch
                self._skip("unreadable record", repr(exc))
                continue
            append(Message(stream, payload, timestamp))
        self._messages += len(messages)
        return messages

    def _skip(self, reason: str, detail: object) -> None:
        self._skipped[reason] += 1
        if self._skipped[reason] == 1:
            _log.warning(
                "skipping Kafka record (%s): %s; further ones are counted",
                reason,
                detail,
            )
        else:
            _log.debug("skipping Kafka record (%s): %s", reason, detail)


def _error_name(error: KafkaError) -> str:
    try:
        return str(error.name())
    except Exception:  # an odd error object must not break the batch
        return "unknown error"
