"""Fixtures shared by every test directory: librdkafka's mock cluster and friends.

The Kafka test rig lives in :mod:`jobdash.testing` (``kafka_cluster``,
``tcp_proxy``, ``kcat_client``, ``waiting``; see
``docs/decisions/0001-kafka-outage-testing.md``), which tests anywhere import
by its package name. This file defines the fixtures over it:

``kafka_cluster`` (session)
    The mock cluster in a helper process, shared by tests that only produce
    and consume; every test gets topics of its own through a unique prefix.
``outage_cluster``
    A private cluster, for tests that take the broker down.
``make_kafka_settings`` / ``kafka_settings``
    ``Settings`` on a cluster with this test's own topic prefix and
    :data:`FAST_KAFKA` timings.
``make_producer``, ``kcat``
    A plain producer playing a backend; Debian's ``kcat``.
``jobdash_simulate``
    ``jobdash simulate`` as a subprocess (see ``kafka_processes.py``).

Every cluster and process is reaped, whatever the test outcome.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Producer

from jobdash.settings import Settings, TransportKind
from jobdash.testing.kafka_cluster import MockKafkaCluster
from kafka_processes import FAST_KAFKA, SimulatorProcess, start_simulator

__all__ = ["FAST_KAFKA"]


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


@pytest.fixture
def jobdash_simulate(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., SimulatorProcess]]:
    """Factory: ``jobdash_simulate(settings, "--seed", "3")`` → a ready simulator.

    Runs ``jobdash simulate`` on the settings' cluster and topics, waits for
    its ready line, and stops it (SIGTERM, expecting exit 0) after the test.
    """
    started: list[SimulatorProcess] = []

    def start(settings: Settings, *flags: str) -> SimulatorProcess:
        workdir = tmp_path_factory.mktemp("jobdash-simulate")
        process = start_simulator(settings, workdir, *flags)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
