"""``jobdash simulate``: the simulated backend as its own process on Kafka."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from jobdash.cli import main
from jobdash.domain.clock import SystemClock
from jobdash.domain.commands import (
    Acknowledgement,
    JobIdentifier,
    WorkflowConfigCommand,
    WorkflowIdentifier,
)
from jobdash.domain.ids import WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus, ServiceStatus
from jobdash.domain.streams import StreamId
from jobdash.settings import Settings
from jobdash.testing.kafka_cluster import MockKafkaCluster
from jobdash.testing.waiting import wait_until
from jobdash.transport.codec import decode_ack, decode_status
from jobdash.transport.kafka_sink import KafkaCommandSink
from jobdash.transport.kafka_source import KafkaMessageSource
from jobdash.transport.message_source import Message
from kafka_processes import SimulatorProcess, run_jobdash

Simulate = Callable[..., SimulatorProcess]


@pytest.fixture
def settings(
    make_kafka_settings: Callable[..., Settings], kafka_cluster: MockKafkaCluster
) -> Settings:
    return make_kafka_settings(kafka_cluster.bootstrap_servers, heartbeat_interval=0.2)


@pytest.mark.kafka
def test_it_obeys_commands_and_publishes_heartbeats_and_answers(
    settings: Settings, jobdash_simulate: Simulate
) -> None:
    simulator = jobdash_simulate(settings, "--seed", "7")
    assert (
        f"ready: dream backend (none, seed 7) on Kafka {settings.bootstrap_servers}, "
        f"commands from {settings.topic('commands')}"
    ) in simulator.output()
    reader = KafkaMessageSource(settings, SystemClock(), offset_reset="earliest")
    sink = KafkaCommandSink(settings)
    reader.start()
    sink.start()
    received: list[Message] = []
    command = WorkflowConfigCommand(
        identifier=WorkflowIdentifier.from_domain(
            WorkflowId("dream", "monitor_histogram", 1)
        ),
        job_id=JobIdentifier(source_name="monitor_cave", job_number=uuid.uuid4()),
        params={"toa_bins": 100},
    )
    try:
        sink.send(command)

        def answered_and_active() -> bool:
            received.extend(reader.get_messages(0.1))
            acks = [
                decode_ack(m.payload)
                for m in received
                if m.stream is StreamId.responses
            ]
            states = {
                status.state
                for m in received
                if m.stream is StreamId.status
                and isinstance(status := decode_status(m.payload), JobStatus)
                and status.job_id == command.job_id.to_domain()
            }
            return (
                Acknowledgement(
                    message_id=command.message_id,
                    device=str(command.job_id.to_domain()),
                    response="ACK",
                )
                in acks
                and JobState.active in states
            )

        wait_until(
            answered_and_active,
            timeout=30,
            message="the answer and an active heartbeat",
        )
    finally:
        sink.stop()
        reader.stop()
    workers = {
        status.worker_id
        for m in received
        if m.stream is StreamId.status
        and isinstance(status := decode_status(m.payload), ServiceStatus)
    }
    assert workers == {"worker-0", "worker-1"}


@pytest.mark.kafka
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_it_cleanly_with_exit_status_0(
    settings: Settings, jobdash_simulate: Simulate, signum: signal.Signals
) -> None:
    simulator = jobdash_simulate(settings)

    simulator.process.send_signal(signum)

    assert simulator.process.wait(30) == 0
    assert "simulated backend stopped: BridgeStats(" in simulator.log()
    assert "Traceback" not in simulator.log()


@pytest.mark.kafka
def test_an_unreachable_broker_exits_2(settings: Settings) -> None:
    result = run_jobdash(
        settings,
        "simulate",
        "--bootstrap",
        "127.0.0.1:9",
        "--connect-timeout",
        "1",
    )

    assert result.returncode == 2, result.stderr
    assert (
        f"jobdash simulate: error: Kafka at 127.0.0.1:9 did not assign "
        f"{settings.topic('commands')} within 1 s"
    ) in result.stderr


def test_a_bad_catalogue_exits_64_before_connecting(tmp_path: Path) -> None:
    catalogue = tmp_path / "broken.yaml"
    catalogue.write_text("instrument: dream\nworkflows: []\n", encoding="utf-8")
    nowhere = Settings(bootstrap_servers="127.0.0.1:9")

    result = run_jobdash(nowhere, "simulate", "--catalogue", str(catalogue))

    assert result.returncode == 64
    assert "jobdash simulate: error: invalid workflow catalogue" in result.stderr


def test_the_help_lists_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["simulate", "--help"])

    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "flaky (20 % of heartbeats duplicated or late, 30 % of acks lost)" in text
    assert "dying-backend" in text
