"""docs/production.md: its settings examples mean what the page says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from jobdash.settings import Settings
from jobdash.transport.kafka_config import (
    consumer_config,
    new_group_id,
    producer_config,
)

PAGE = Path(__file__).resolve().parents[1] / "docs" / "production.md"
#: A CA bundle every Debian host has, standing in for the site's CA.
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def _example_environment() -> dict[str, str]:
    """The ``KEY=value`` lines of the page's SASL_SSL environment file."""
    for block in re.findall(
        r"```bash\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S
    ):
        if "JOBDASH_KAFKA__SECURITY_PROTOCOL=SASL_SSL" in block:
            return dict(
                line.split("=", 1) for line in block.splitlines() if "=" in line
            )
    raise AssertionError("no SASL_SSL example in docs/production.md")


def test_the_sasl_ssl_example_becomes_options_librdkafka_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environment = _example_environment()
    # Nothing outside loopback, and a CA file that exists on this machine.
    environment["JOBDASH_BOOTSTRAP_SERVERS"] = "127.0.0.1:9"
    environment["JOBDASH_KAFKA__SSL_CA_LOCATION"] = CA_BUNDLE
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    settings = Settings()

    assert settings.transport.value == "kafka"
    assert settings.config_file == Path("/var/lib/jobdash/dream.json")
    assert settings.kafka == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "jobdash-dream",
        "sasl.password": "change-me",
        "ssl.ca.location": CA_BUNDLE,
    }
    # Building the clients is where librdkafka refuses unknown or bad options
    # (and loads the CA file); neither connects anywhere but loopback here.
    producer = Producer(producer_config(settings))
    consumer = Consumer(consumer_config(settings, group_id=new_group_id()))
    consumer.close()
    assert producer.flush(0) == 0


def test_librdkafka_options_can_also_be_one_json_mapping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBDASH_KAFKA", '{"security.protocol": "SASL_SSL"}')

    assert Settings().kafka == {"security.protocol": "SASL_SSL"}


def test_topic_names_follow_the_documented_pattern() -> None:
    settings = Settings(instrument="dream", topic_prefix="staging_")

    assert [
        settings.topic(kind) for kind in ("heartbeat", "responses", "data", "commands")
    ] == [
        "staging_dream_livedata_heartbeat",
        "staging_dream_livedata_responses",
        "staging_dream_livedata_data",
        "staging_dream_livedata_commands",
    ]
