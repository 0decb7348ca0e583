"""librdkafka configuration from Settings: defaults, pass-through, log filter."""

from __future__ import annotations

import logging

import pytest
from confluent_kafka import Consumer, Producer

from jobdash.domain.clock import ManualClock
from jobdash.settings import Settings
from jobdash.testing.kafka_cluster import MockKafkaCluster
from jobdash.transport.kafka_config import (
    LIBRDKAFKA_LOGGER,
    RepeatedLogFilter,
    consumer_config,
    install_repeated_log_filter,
    new_group_id,
    producer_config,
)


def test_the_consumer_reads_the_live_end_in_a_group_of_its_own() -> None:
    config = consumer_config(
        Settings(bootstrap_servers="kafka1:9092,kafka2:9092", instrument="loki"),
        group_id="jobdash-x",
    )

    assert config["bootstrap.servers"] == "kafka1:9092,kafka2:9092"
    assert config["group.id"] == "jobdash-x"
    assert config["auto.offset.reset"] == "latest"
    assert config["enable.auto.commit"] is False
    assert config["socket.keepalive.enable"] is True
    assert config["client.id"] == "jobdash-loki-consumer"
    assert config["logger"] is logging.getLogger(LIBRDKAFKA_LOGGER)


def test_tools_can_start_from_the_earliest_offset() -> None:
    config = consumer_config(Settings(), group_id="g", offset_reset="earliest")
    assert config["auto.offset.reset"] == "earliest"


def test_pass_through_options_are_added_and_win_over_defaults() -> None:
    settings = Settings(
        kafka={
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-256",
            "reconnect.backoff.max.ms": 1000,
        }
    )

    for config in (consumer_config(settings, group_id="g"), producer_config(settings)):
        assert config["security.protocol"] == "SASL_SSL"
        assert config["sasl.mechanism"] == "SCRAM-SHA-256"
        assert config["reconnect.backoff.max.ms"] == 1000


def test_environment_style_pass_through_keys_become_librdkafka_keys() -> None:
    settings = Settings(kafka={"SECURITY_PROTOCOL": "SSL"})
    assert producer_config(settings)["security.protocol"] == "SSL"


def test_a_command_not_delivered_within_the_command_timeout_fails() -> None:
    assert (
        producer_config(Settings(command_timeout=12.5))["message.timeout.ms"] == 12_500
    )
    assert (
        producer_config(Settings(kafka={"message.timeout.ms": 5}))["message.timeout.ms"]
        == 5
    )


def test_every_process_gets_a_new_group() -> None:
    first, second = new_group_id(), new_group_id()
    assert first != second
    assert first.startswith("jobdash-")


@pytest.mark.kafka
def test_librdkafka_accepts_every_key_of_both_configurations(
    kafka_cluster: MockKafkaCluster,
) -> None:
    # librdkafka rejects unknown keys and bad values when the client is built.
    settings = Settings(bootstrap_servers=kafka_cluster.bootstrap_servers)
    consumer = Consumer(consumer_config(settings, group_id=new_group_id()))
    consumer.close()
    producer = Producer(producer_config(settings))
    assert producer.flush(1) == 0


# --- RepeatedLogFilter ----------------------------------------------------------


def _record(text: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(
        LIBRDKAFKA_LOGGER, logging.ERROR, __file__, 1, text, args, None
    )


def test_identical_messages_pass_once_per_window_with_a_count_of_the_rest() -> None:
    clock = ManualClock()
    repeated = RepeatedLogFilter(clock, window=10)

    assert repeated.filter(_record("Connect to %s failed", "b:1"))
    assert not repeated.filter(_record("Connect to %s failed", "b:1"))
    assert not repeated.filter(_record("Connect to %s failed", "b:1"))
    assert repeated.filter(_record("another message"))

    clock.advance(10)
    again = _record("Connect to %s failed", "b:1")
    assert repeated.filter(again)
    assert (
        again.getMessage()
        == "Connect to b:1 failed (2 identical message(s) suppressed)"
    )


def test_the_filter_remembers_a_bounded_number_of_messages() -> None:
    repeated = RepeatedLogFilter(ManualClock(), window=10, max_messages=2)
    for text in ("a", "b", "c"):
        assert repeated.filter(_record(text))

    assert repeated.filter(_record("a"))  # forgotten, so let through again
    assert not repeated.filter(_record("c"))


def test_the_filter_is_installed_once_on_the_librdkafka_logger() -> None:
    librdkafka_logger = logging.getLogger(LIBRDKAFKA_LOGGER)
    installed = install_repeated_log_filter(ManualClock())
    try:
        assert install_repeated_log_filter(ManualClock()) is installed
        assert librdkafka_logger.filters.count(installed) == 1
    finally:
        librdkafka_logger.removeFilter(installed)
