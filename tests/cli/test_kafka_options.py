"""Shared plumbing of the Kafka sub-commands: settings, usage errors, signals."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from jobdash.cli import build_parser, main
from jobdash.cli.kafka_options import (
    EXIT_USAGE,
    UsageError,
    catalogue_for,
    settings_from_args,
    signals_set,
)
from jobdash.settings import Settings, TransportKind


def _settings(*argv: str) -> Settings:
    return settings_from_args(build_parser().parse_args(["status", *argv]))


def test_flags_override_the_environment_which_overrides_the_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBDASH_BOOTSTRAP_SERVERS", "env-kafka:9092")
    monkeypatch.setenv("JOBDASH_TOPIC_PREFIX", "env_")
    monkeypatch.setenv("JOBDASH_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("JOBDASH_TRANSPORT", "simulated")

    settings = _settings(
        "--bootstrap", "flag-kafka:9093", "--heartbeat-interval", "0.5"
    )

    assert settings.bootstrap_servers == "flag-kafka:9093"
    assert settings.topic_prefix == "env_"
    assert settings.kafka == {"security.protocol": "SASL_SSL"}
    assert settings.heartbeat_interval == 0.5
    assert settings.effective_stale_after == 1.5
    assert settings.transport is TransportKind.kafka  # these commands are Kafka's


def test_the_long_serve_flag_name_is_accepted_too() -> None:
    assert _settings("--bootstrap-servers", "a:1,b:2").bootstrap_servers == "a:1,b:2"


def test_a_value_out_of_range_is_a_usage_error_naming_the_setting() -> None:
    with pytest.raises(UsageError, match="heartbeat_interval"):
        _settings("--heartbeat-interval", "-1")


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--no-such-flag"],
        ["start"],  # WORKFLOW missing
        ["stop", "detector_view", "extra"],
        ["simulate", "--scenario", "no-such-scenario"],
        ["status", "--collect", "soon"],
    ],
)
def test_usage_errors_exit_64_not_argparses_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == EXIT_USAGE
    assert f"jobdash {argv[0]}: error:" in capsys.readouterr().err


def test_a_catalogue_of_another_instrument_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "loki.yaml"
    path.write_text(
        "instrument: loki\n"
        "workflows:\n"
        "  - {id: loki/view/1, title: View, source_names: [larmor_detector]}\n",
        encoding="utf-8",
    )

    with pytest.raises(UsageError, match="for instrument 'loki'"):
        catalogue_for(Settings(catalogue=path, instrument="dream"))


def test_signals_set_turns_sigterm_into_an_event_and_restores_the_handler() -> None:
    before = signal.getsignal(signal.SIGTERM)
    event = threading.Event()

    with signals_set(event):
        os.kill(os.getpid(), signal.SIGTERM)
        assert event.wait(10)

    assert signal.getsignal(signal.SIGTERM) == before
