"""``jobdash serve``: flags over environment, start-up errors, and a real server."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdash.app import reset_services_for_tests
from jobdash.cli import build_parser, main
from jobdash.cli.serve import _SETTINGS_FLAGS, settings_from_args
from jobdash.settings import Settings
from jobdash.testing.ports import LOOPBACK, free_port
from jobdash.testing.processes import JOBDASH
from jobdash.testing.servers import ServerProcess, http_status, spawn


@pytest.fixture
def no_process_services() -> Iterator[None]:
    """No process-wide services before and after the test."""
    reset_services_for_tests()
    yield
    reset_services_for_tests()


BAD_CATALOGUE = """\
instrument: dream
workflows:
  - id: dream/detector_view/1
    title: Detector view
    source_names: [mantle_detector]
    parameters:
      - {name: resolution, type: int, default: 128, min: 16, max: 1024}
  - id: dream/monitor_histogram/1
    title: Beam monitors
    source_names: monitor_bunker
"""


@pytest.mark.usefixtures("no_process_services")
def test_serve_reports_a_bad_catalogue_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalogue = tmp_path / "bad.yaml"
    catalogue.write_text(BAD_CATALOGUE, encoding="utf-8")
    status = main(
        ["serve", "--catalogue", str(catalogue), "--config-dir", str(tmp_path)]
    )
    assert status == 2
    error = capsys.readouterr().err
    assert error.startswith("jobdash serve: error: invalid workflow catalogue")
    assert "field 'workflows.1.source_names'" in error


def test_serve_reports_an_invalid_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["serve", "--heartbeat-interval", "-1", "--config-dir", str(tmp_path)]
    )
    assert status == 2
    error = capsys.readouterr().err
    assert "invalid setting: heartbeat_interval" in error


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBDASH_SEED", "5")
    monkeypatch.setenv("JOBDASH_SCENARIO", "warnings")
    args = build_parser().parse_args(["serve", "--seed", "7", "--frozen-clock"])
    settings = settings_from_args(args)
    assert settings.seed == 7
    assert settings.scenario == "warnings"
    assert settings.frozen_clock is True
    assert settings.read_only is False
    assert (args.port, args.address, args.show) == (5006, None, False)


def test_help_lists_the_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "flaky (20 % of heartbeats" in text


def test_every_setting_but_the_kafka_options_has_a_flag() -> None:
    assert set(_SETTINGS_FLAGS) == set(Settings.model_fields) - {"kafka"}


@pytest.mark.slow
def test_serve_answers_until_interrupted_then_stops_ingestion(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "serve.log"
    command = [
        JOBDASH,
        "serve",
        "--address",
        LOOPBACK,
        "--port",
        str(port),
        "--frozen-clock",
        "--config-dir",
        str(tmp_path / "config"),
    ]
    url = f"http://{LOOPBACK}:{port}/"
    server = ServerProcess(url, port, log_path, spawn(command, log_path))
    try:
        server.wait_until_live("/", timeout=120)
        assert http_status(url, timeout=60) == 200
        server.process.send_signal(signal.SIGINT)
        server.process.wait(30)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(10)
    log = log_path.read_text()
    assert "jobdash services started: simulated transport, instrument dream" in log
    assert "jobdash-ingestion stopped" in log
