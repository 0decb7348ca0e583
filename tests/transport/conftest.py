"""Fixtures for the Kafka transport tests: a mock Kafka cluster, kcat, settings.

``kafka_cluster`` (session) is librdkafka's mock cluster in a helper process
(see ``kafka_cluster.py``), shared by tests that only produce and consume;
each test gets topics of its own through a unique topic prefix.
``outage_cluster`` is a private one for tests that take the broker down.
Both are always reaped, whatever the test outcome.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Producer
from kafka_cluster import MockKafkaCluster

from jobdash.settings import Settings, TransportKind

#: librdkafka settings that make outages and recoveries visible within a
#: second instead of the production defaults' several seconds.
FAST_KAFKA: dict[str, Any] = {
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 200,
    "statistics.interval.ms": 100,
    "topic.metadata.refresh.interval.ms": 1000,
}


@pytest.fixture(scope="session")
def kafka_cluster() -> Iterator[MockKafkaCluster]:
    with MockKafkaCluster() as cluster:
        yield cluster


@pytest.fixture
def outage_cluster() -> Iterator[MockKafkaCluster]:
    with MockKafkaCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kcat() -> str:
    path = shutil.which("kcat")
    if path is None:
        pytest.fail("kcat is not installed (make system-deps, or apt-get install kcat)")
    return path


KafkaSettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_kafka_settings() -> KafkaSettingsFactory:
    """Settings for a cluster, with topics no other test uses.

    Call with the bootstrap address and any ``Settings`` fields; ``kafka``
    entries are added to :data:`FAST_KAFKA`.
    """
    prefix = f"t{uuid.uuid4().hex[:8]}_"

    def make(bootstrap_servers: str, **fields: Any) -> Settings:
        kafka = {**FAST_KAFKA, **fields.pop("kafka", {})}
        return Settings(
            transport=TransportKind.kafka,
            instrument="dream",
            bootstrap_servers=bootstrap_servers,
            topic_prefix=prefix,
            kafka=kafka,
            **fields,
        )

    return make


@pytest.fixture
def kafka_settings(
    kafka_cluster: MockKafkaCluster, make_kafka_settings: KafkaSettingsFactory
) -> Settings:
    """Settings on the shared cluster with this test's own topics."""
    return make_kafka_settings(kafka_cluster.bootstrap_servers)


ProducerFactory = Callable[[str], Producer]


@pytest.fixture
def make_producer() -> Iterator[ProducerFactory]:
    """Plain confluent-kafka producers, playing a backend; dropped after the test.

    Their librdkafka logs go to Python logging (captured per test) rather
    than to stderr.
    """
    producers: list[Producer] = []

    def make(bootstrap_servers: str) -> Producer:
        producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "logger": logging.getLogger("tests.kafka.producer"),
                **FAST_KAFKA,
            }
        )
        producers.append(producer)
        return producer

    yield make
    for producer in producers:
        producer.purge()
        producer.flush(0)
    # Destroying the handles now stops their reconnect attempts (and logs)
    # before the next test starts.
    producers.clear()
