"""KafkaHealth: connected, disconnected and lag, from librdkafka's callbacks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Any

import pytest
from confluent_kafka import KafkaError

from jobdash.domain.clock import ManualClock
from jobdash.settings import Settings
from jobdash.testing.kafka_cluster import MockKafkaCluster
from jobdash.testing.tcp_proxy import TcpProxy
from jobdash.testing.waiting import wait_until
from jobdash.transport.kafka_health import (
    ConnectionState,
    KafkaHealth,
    KafkaHealthSnapshot,
    PartitionLag,
)
from jobdash.transport.kafka_source import KafkaMessageSource

# 2025-11-29T00:00:00Z, ManualClock's default start.
START = 1_764_374_400_000_000_000


def _stats(*broker_states: str, lags: dict[str, int] | None = None) -> str:
    """A librdkafka statistics document with the fields KafkaHealth reads."""
    brokers: dict[str, Any] = {
        f"127.0.0.1:9092/{i}": {"source": "learned", "state": state}
        for i, state in enumerate(broker_states, start=1)
    }
    brokers["GroupCoordinator"] = {"source": "logical", "state": "UP"}
    brokers[":0/internal"] = {"source": "internal", "state": "UP"}
    partitions = {key: {"consumer_lag": lag} for key, lag in (lags or {}).items()}
    partitions["-1"] = {"consumer_lag": 99}  # librdkafka's unassigned partition
    return json.dumps({"brokers": brokers, "topics": {"t": {"partitions": partitions}}})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def health(clock: ManualClock) -> KafkaHealth:
    return KafkaHealth("localhost:9092", clock)


def _feed(
    health: KafkaHealth, client: str = "consumer"
) -> dict[str, Callable[..., None]]:
    return health.callbacks(client)


ALL_DOWN = KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down")
REFUSED = KafkaError(KafkaError._TRANSPORT, "Connect to 127.0.0.1:9092 failed")


def test_a_new_client_is_connecting_until_a_broker_is_up(
    health: KafkaHealth, clock: ManualClock
) -> None:
    callbacks = _feed(health)
    assert health.snapshot().state is ConnectionState.connecting
    callbacks["stats_cb"](_stats("CONNECT"))
    assert health.snapshot().state is ConnectionState.connecting

    clock.advance(1.5)
    callbacks["stats_cb"](_stats("UP"))

    snapshot = health.snapshot()
    assert snapshot.state is ConnectionState.connected
    assert snapshot.since == START + 1_500_000_000


def test_all_brokers_down_disconnects_and_stats_with_a_broker_up_reconnect(
    health: KafkaHealth, clock: ManualClock
) -> None:
    callbacks = _feed(health)
    callbacks["stats_cb"](_stats("UP"))
    clock.advance(3)

    callbacks["error_cb"](REFUSED)
    assert (
        health.snapshot().state is ConnectionState.connected
    )  # one failure is not all
    callbacks["error_cb"](ALL_DOWN)
    down = health.snapshot()
    assert down.state is ConnectionState.disconnected
    assert down.since == START + 3_000_000_000
    assert down.last_error == "1/1 brokers are down"
    assert down.error_count == 2

    clock.advance(1)
    callbacks["error_cb"](REFUSED)  # retries go on: the outage start stays
    assert health.snapshot().since == START + 3_000_000_000

    clock.advance(1)
    callbacks["stats_cb"](_stats("DOWN", "UP"))
    back = health.snapshot()
    assert back.state is ConnectionState.connected
    assert back.since == START + 5_000_000_000


def test_stats_without_any_broker_up_disconnect_a_client_that_was_connected(
    health: KafkaHealth,
) -> None:
    callbacks = _feed(health)
    callbacks["stats_cb"](_stats("UP"))
    callbacks["stats_cb"](_stats("TRY_CONNECT", "DOWN"))
    assert health.snapshot().state is ConnectionState.disconnected


def test_logical_and_internal_brokers_never_count_as_a_connection(
    health: KafkaHealth,
) -> None:
    callbacks = _feed(health)
    callbacks["stats_cb"](_stats("INIT"))  # coordinator and internal are "UP"
    assert health.snapshot().state is ConnectionState.connecting


def test_a_bad_address_from_the_start_is_disconnected_not_connecting(
    health: KafkaHealth,
) -> None:
    _feed(health)["error_cb"](ALL_DOWN)
    assert health.snapshot().state is ConnectionState.disconnected


def test_consumer_lag_sums_known_lags_of_assigned_partitions(
    health: KafkaHealth,
) -> None:
    callbacks = _feed(health)
    callbacks["stats_cb"](_stats("UP"))
    assert health.snapshot().consumer_lag is None

    callbacks["stats_cb"](_stats("UP", lags={"0": 3, "1": -1, "2": 4}))
    assert health.snapshot().consumer_lag == 7


def test_lag_is_kept_per_partition_by_topic_with_the_time_it_arrived(
    health: KafkaHealth, clock: ManualClock
) -> None:
    callbacks = _feed(health)
    assert (health.snapshot().partition_lags, health.snapshot().lag_time) == ((), None)
    clock.advance(2)
    partitions = {
        "10": {"consumer_lag": 5},
        "2": {"consumer_lag": 0},
        "1": {"consumer_lag": -1},  # not known yet
        "-1": {"consumer_lag": 99},  # librdkafka's unassigned partition
        "x": {"consumer_lag": 1},  # not a partition number
    }
    document = {
        "brokers": {"b/1": {"source": "learned", "state": "UP"}},
        "topics": {
            "t_b": {"partitions": partitions},
            "t_a": {"partitions": {"0": {"consumer_lag": 3}}},
        },
    }

    callbacks["stats_cb"](json.dumps(document))

    snapshot = health.snapshot()
    assert snapshot.partition_lags == (
        PartitionLag("t_a", 0, 3),
        PartitionLag("t_b", 2, 0),
        PartitionLag("t_b", 10, 5),
    )
    assert snapshot.consumer_lag == 8
    assert snapshot.lag_time == START + 2_000_000_000


@pytest.mark.parametrize(
    ("offsets", "lag"),
    [
        # What the dashboard's consumer reports (it commits nothing).
        (
            {"consumer_lag": -1, "ls_offset": 50, "hi_offset": 52, "app_offset": 45},
            5,
        ),
        ({"consumer_lag": -1, "hi_offset": 52, "app_offset": 45}, 7),
        # Nothing delivered yet: where an active fetch stands.
        (
            {
                "consumer_lag": -1,
                "ls_offset": 9,
                "app_offset": -1001,
                "next_offset": 9,
                "fetch_state": "active",
            },
            0,
        ),
        (
            {
                "ls_offset": 9,
                "app_offset": -1001,
                "next_offset": 0,
                "fetch_state": "none",
            },
            None,
        ),
        ({"ls_offset": -1001, "hi_offset": -1001, "app_offset": 3}, None),
        # A delivered offset past a stale end offset is no negative lag.
        ({"ls_offset": 3, "app_offset": 5}, 0),
        # librdkafka's own figure, where it has one, wins.
        ({"consumer_lag": 4, "ls_offset": 50, "app_offset": 50}, 4),
    ],
)
def test_the_lag_of_a_partition_comes_from_its_offsets_without_commits(
    health: KafkaHealth, offsets: dict[str, Any], lag: int | None
) -> None:
    callbacks = _feed(health)
    document = {
        "brokers": {"b/1": {"source": "learned", "state": "UP"}},
        "topics": {"t": {"partitions": {"0": offsets}}},
    }

    callbacks["stats_cb"](json.dumps(document))

    expected = () if lag is None else (PartitionLag("t", 0, lag),)
    assert health.snapshot().partition_lags == expected
    assert health.snapshot().consumer_lag == lag


def test_a_producer_s_statistics_add_no_partition_lags(health: KafkaHealth) -> None:
    health.callbacks("consumer")
    producer = health.callbacks("producer", connection=False)

    producer["stats_cb"](_stats("UP", lags={"0": 3}))

    assert health.snapshot().partition_lags == ()


def test_a_producer_reports_errors_but_never_decides_the_connection(
    health: KafkaHealth,
) -> None:
    consumer = _feed(health, "consumer")
    producer = health.callbacks("producer", connection=False)
    consumer["stats_cb"](_stats("UP"))

    producer["error_cb"](ALL_DOWN)  # e.g. an idle connection closed by the broker
    producer["stats_cb"](_stats("INIT"))

    snapshot = health.snapshot()
    assert snapshot.state is ConnectionState.connected
    assert snapshot.last_error == "1/1 brokers are down"


def test_a_fatal_error_disconnects(health: KafkaHealth) -> None:
    callbacks = _feed(health)
    callbacks["stats_cb"](_stats("UP"))
    callbacks["error_cb"](KafkaError(KafkaError._FENCED, "fenced", fatal=True))
    assert health.snapshot().state is ConnectionState.disconnected


def test_malformed_reports_are_logged_and_never_raise_into_the_poll_loop(
    health: KafkaHealth,
) -> None:
    callbacks = _feed(health)
    callbacks["stats_cb"]("{not json")
    callbacks["stats_cb"](json.dumps({"brokers": []}))
    callbacks["error_cb"](object())
    assert health.snapshot().state is ConnectionState.connecting


def test_summary_lines_for_the_header() -> None:
    connected = KafkaHealthSnapshot("localhost:9092", ConnectionState.connected, START)
    assert connected.summary() == "Kafka localhost:9092 · connected"
    with_lag = KafkaHealthSnapshot(
        "localhost:9092", ConnectionState.connected, START, consumer_lag=0
    )
    assert with_lag.summary() == "Kafka localhost:9092 · connected · lag 0"
    down = KafkaHealthSnapshot(
        "localhost:9092", ConnectionState.disconnected, START + 43_203_000_000_000
    )
    assert (
        down.summary(tz=UTC)
        == "Kafka localhost:9092 · disconnected since 12:00:03 — retrying"
    )
    assert not down.ok
    assert (
        KafkaHealthSnapshot("b:1", ConnectionState.connecting, START)
        .summary()
        .startswith("Kafka b:1 · connecting")
    )


def test_snapshots_are_immutable_values(health: KafkaHealth) -> None:
    first, second = health.snapshot(), health.snapshot()
    assert first == second
    with pytest.raises(AttributeError):
        first.state = ConnectionState.connected  # type: ignore[misc]


# --- a real consumer against the mock cluster --------------------------------


@pytest.fixture
def watched_source(
    outage_cluster: MockKafkaCluster, make_kafka_settings: Callable[..., Settings]
) -> Iterator[tuple[KafkaMessageSource, KafkaHealth]]:
    settings = make_kafka_settings(outage_cluster.bootstrap_servers)
    health = KafkaHealth(settings.bootstrap_servers, ManualClock(START))
    source = KafkaMessageSource(settings, ManualClock(START), health=health)
    source.start()
    yield source, health
    source.stop()


def _poll_until(
    source: KafkaMessageSource, health: KafkaHealth, state: ConnectionState
) -> None:
    def reached() -> bool:
        # librdkafka serves the callbacks inside consume(): poll as the
        # ingestion thread would.
        source.get_messages(0.05)
        return health.snapshot().state is state

    wait_until(reached, message=lambda: f"{state}, still {health.snapshot()}")


@pytest.mark.kafka
def test_health_follows_the_broker_going_down_and_coming_back(
    outage_cluster: MockKafkaCluster,
    watched_source: tuple[KafkaMessageSource, KafkaHealth],
) -> None:
    source, health = watched_source
    _poll_until(source, health, ConnectionState.connected)

    outage_cluster.set_down()
    _poll_until(source, health, ConnectionState.disconnected)
    assert health.snapshot().last_error is not None
    assert "disconnected since" in health.snapshot().summary()

    outage_cluster.set_up()
    _poll_until(source, health, ConnectionState.connected)


@pytest.mark.kafka
def test_health_follows_a_network_cut_and_its_repair(
    outage_cluster: MockKafkaCluster, make_kafka_settings: Callable[..., Settings]
) -> None:
    with TcpProxy(("127.0.0.1", outage_cluster.port)) as proxy:
        outage_cluster.advertise("127.0.0.1", proxy.port)
        settings = make_kafka_settings(proxy.address)
        health = KafkaHealth(settings.bootstrap_servers, ManualClock(START))
        source = KafkaMessageSource(settings, ManualClock(START), health=health)
        source.start()
        try:
            _poll_until(source, health, ConnectionState.connected)
            proxy.cut()
            _poll_until(source, health, ConnectionState.disconnected)
            proxy.restore()
            _poll_until(source, health, ConnectionState.connected)
        finally:
            source.stop()
