"""PositionedConsumers: once assigned, nothing produced afterwards is missed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import OFFSET_END, KafkaException, Producer, TopicPartition

from jobdash.domain.clock import ManualClock
from jobdash.domain.streams import StreamId
from jobdash.settings import Settings
from jobdash.testing.waiting import wait_until
from jobdash.transport.kafka_config import consumer_config, new_group_id
from jobdash.transport.kafka_positioning import PositionedConsumers
from jobdash.transport.kafka_source import KafkaMessageSource

ProducerFactory = Callable[[str], Producer]
START_NS = 1_764_417_600_000_000_000


class _FakeConsumer:
    """Plays librdkafka's part in a rebalance: lookups answer from tables."""

    def __init__(
        self,
        *,
        ends: dict[tuple[str, int], int],
        by_time: dict[tuple[str, int], int],
        positions: dict[tuple[str, int], int] | None = None,
        fail_lookups: bool = False,
    ) -> None:
        self.ends = ends
        self.by_time = by_time
        self.positions = positions or {}
        self.fail_lookups = fail_lookups
        self.assigned: list[tuple[str, int, int]] = []
        self.asked_times: list[int] = []
        self.callbacks: dict[str, Any] = {}

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.topics = topics
        self.callbacks = callbacks

    def get_watermark_offsets(
        self, tp: TopicPartition, timeout: float
    ) -> tuple[int, int]:
        if self.fail_lookups:
            raise KafkaException("lookup timed out")
        return 0, self.ends[(tp.topic, tp.partition)]

    def offsets_for_times(
        self, partitions: list[TopicPartition], timeout: float
    ) -> list[TopicPartition]:
        self.asked_times += [tp.offset for tp in partitions]
        return [
            TopicPartition(
                tp.topic, tp.partition, self.by_time[(tp.topic, tp.partition)]
            )
            for tp in partitions
        ]

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = [(tp.topic, tp.partition, tp.offset) for tp in partitions]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [
            TopicPartition(
                tp.topic, tp.partition, self.positions[(tp.topic, tp.partition)]
            )
            for tp in partitions
        ]

    def assign_partitions(self, *partitions: tuple[str, int]) -> None:
        """What librdkafka does when the group assigns these partitions."""
        self.callbacks["on_assign"](self, [TopicPartition(t, p) for t, p in partitions])

    def revoke_partitions(self, *partitions: tuple[str, int]) -> None:
        self.callbacks["on_revoke"](self, [TopicPartition(t, p) for t, p in partitions])


def _positioned(fake: _FakeConsumer) -> tuple[PositionedConsumers, Any]:
    positions = PositionedConsumers(START_NS, consumer_class=lambda _config: fake)
    consumer = positions({"group.id": "g"})
    return positions, consumer


def test_each_partition_starts_at_the_first_message_of_the_start_time() -> None:
    fake = _FakeConsumer(
        ends={("hb", 0): 90, ("hb", 1): 40}, by_time={("hb", 0): 75, ("hb", 1): 33}
    )
    positions, consumer = _positioned(fake)
    consumer.subscribe(["hb"])

    fake.assign_partitions(("hb", 0), ("hb", 1))

    assert fake.asked_times == [START_NS // 1_000_000] * 2  # Kafka times are ms
    assert fake.assigned == [("hb", 0, 75), ("hb", 1, 33)]
    assert positions.wait_assigned(0)


def test_without_a_message_since_the_start_time_the_end_read_before_is_taken() -> None:
    # -1: nothing at or after that time (or a broker that cannot look up by
    # time): the end offset read before the lookup still covers every message
    # produced after it.
    fake = _FakeConsumer(ends={("hb", 0): 90}, by_time={("hb", 0): -1})
    _, consumer = _positioned(fake)
    consumer.subscribe(["hb"])

    fake.assign_partitions(("hb", 0))

    assert fake.assigned == [("hb", 0, 90)]


def test_a_partition_assigned_again_after_a_rebalance_resumes_where_it_stopped() -> (
    None
):
    fake = _FakeConsumer(
        ends={("hb", 0): 90, ("hb", 1): 40},
        by_time={("hb", 0): 75, ("hb", 1): 33},
        positions={("hb", 0): 81},
    )
    positions, consumer = _positioned(fake)
    consumer.subscribe(["hb"])
    fake.assign_partitions(("hb", 0))
    fake.revoke_partitions(("hb", 0))
    assert not positions.wait_assigned(0)

    fake.assign_partitions(("hb", 0), ("hb", 1))

    assert fake.assigned == [("hb", 0, 81), ("hb", 1, 33)]
    assert positions.wait_assigned(0)


def test_a_failed_lookup_falls_back_to_the_live_end_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = _FakeConsumer(ends={}, by_time={}, fail_lookups=True)
    positions, consumer = _positioned(fake)
    consumer.subscribe(["hb"])

    with caplog.at_level(logging.WARNING, "jobdash.transport.kafka_positioning"):
        fake.assign_partitions(("hb", 0))

    assert fake.assigned == [("hb", 0, OFFSET_END)]
    assert "offset lookup failed" in caplog.text
    assert positions.wait_assigned(0)


def test_only_a_subscription_whose_every_topic_is_assigned_is_ready() -> None:
    fake = _FakeConsumer(ends={("hb", 0): 1}, by_time={("hb", 0): -1})
    positions, consumer = _positioned(fake)
    assert not positions.wait_assigned(0)  # nothing subscribed yet
    consumer.subscribe(["hb", "responses"])

    fake.assign_partitions(("hb", 0))

    assert positions.assigned_topics == {"hb"}
    assert positions.subscribed_topics == {"hb", "responses"}
    started = time.monotonic()
    assert not positions.wait_assigned(0.05)
    assert time.monotonic() - started >= 0.05


def test_other_consumer_methods_reach_the_consumer() -> None:
    fake = _FakeConsumer(ends={}, by_time={})
    _, consumer = _positioned(fake)

    consumer.assign([TopicPartition("hb", 3, 12)])

    assert fake.assigned == [("hb", 3, 12)]


# --- against the mock cluster ------------------------------------------------------------


@pytest.fixture
def sources() -> Iterator[list[KafkaMessageSource]]:
    created: list[KafkaMessageSource] = []
    yield created
    for source in created:
        source.stop()


@pytest.mark.kafka
def test_a_message_produced_once_after_the_assignment_is_read(
    kafka_settings: Settings,
    make_producer: ProducerFactory,
    sources: list[KafkaMessageSource],
) -> None:
    topic = kafka_settings.topic("heartbeat")
    producer = make_producer(kafka_settings.bootstrap_servers)
    producer.produce(topic, b"before")
    assert producer.flush(10) == 0
    positions = PositionedConsumers(time.time_ns())
    source = KafkaMessageSource(
        kafka_settings,
        ManualClock(),
        streams=[StreamId.status],
        consumer_factory=positions,
    )
    sources.append(source)
    source.start()
    received: list[bytes] = []

    def assigned() -> bool:
        received.extend(m.payload for m in source.get_messages(0.05))
        return positions.wait_assigned(0)

    wait_until(assigned, message="the heartbeat topic to be assigned")
    # Unlike a plain live view (test_kafka_source), no retry: the first
    # message produced after the assignment is read.
    producer.produce(topic, b"after")
    assert producer.flush(10) == 0

    def read_after() -> bool:
        received.extend(m.payload for m in source.get_messages(0.05))
        return b"after" in received

    wait_until(read_after, message="the message produced after the assignment")
    assert b"before" not in received  # the mock cannot look up by time: live end


@pytest.mark.kafka
def test_a_missing_topic_keeps_the_consumer_from_being_ready(
    kafka_settings: Settings, make_producer: ProducerFactory
) -> None:
    existing = kafka_settings.topic("heartbeat")
    missing = kafka_settings.topic("responses")
    producer = make_producer(kafka_settings.bootstrap_servers)
    producer.produce(existing, b"x")
    assert producer.flush(10) == 0
    positions = PositionedConsumers(time.time_ns())
    consumer = positions(
        consumer_config(kafka_settings, group_id=new_group_id(), offset_reset="latest")
    )
    try:
        consumer.subscribe([existing, missing])

        def existing_assigned() -> bool:
            consumer.consume(10, 0.05)
            return existing in positions.assigned_topics

        wait_until(existing_assigned, message="the existing topic to be assigned")
        assert not positions.wait_assigned(0)
    finally:
        consumer.close()
