"""KafkaSession: the dashboard's models over Kafka for one terminal command."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from jobdash.catalogue_file import shipped_catalogue
from jobdash.cli.command_outcomes import CommandOutcome
from jobdash.cli.kafka_session import KafkaSession, KafkaUnavailableError
from jobdash.domain.access import Actor, PermissionDeniedError, ReadOnlyError, Role
from jobdash.domain.clock import ManualClock, SystemClock
from jobdash.domain.ids import WorkflowId
from jobdash.services.workflow_state import SourceConfig
from jobdash.settings import Settings
from jobdash.testing.actors import OPERATOR
from jobdash.testing.kafka_cluster import MockKafkaCluster
from jobdash.transport.kafka_backend_bridge import KafkaBackendBridge
from jobdash.transport.simulated import SimulatedBackend

pytestmark = pytest.mark.kafka

CATALOGUE = shipped_catalogue("dream")
MONITORS = WorkflowId("dream", "monitor_histogram", 1)


@pytest.fixture
def settings(
    make_kafka_settings: Callable[..., Settings],
    kafka_cluster: MockKafkaCluster,
    tmp_path: Path,
) -> Settings:
    return make_kafka_settings(
        kafka_cluster.bootstrap_servers, heartbeat_interval=0.2, config_dir=tmp_path
    )


@pytest.fixture
def backend(settings: Settings) -> Iterator[KafkaBackendBridge]:
    """A simulated backend bridged in this process; answers at once."""
    simulated = SimulatedBackend(CATALOGUE, ManualClock(), ack_latency=0.0)
    bridge = KafkaBackendBridge(simulated, settings, SystemClock())
    bridge.start()
    assert bridge.wait_ready(20)
    yield bridge
    bridge.stop()


def test_a_command_sent_as_soon_as_start_returns_gets_its_answer(
    settings: Settings, backend: KafkaBackendBridge
) -> None:
    with KafkaSession(settings, CATALOGUE, SystemClock(), commands=True) as session:
        session.start(connect_timeout=20)
        orchestrator = session.job_orchestrator
        actor = session.actor
        orchestrator.commit_workflow(
            MONITORS,
            actor=actor,
            draft={"monitor_cave": SourceConfig({"toa_bins": 100})},
        )

        assert session.tracker.wait_settled(20)
        assert set(session.tracker.outcomes().values()) == {CommandOutcome.acknowledged}
        lines = [n.text for n in session.notifications.since(0)]
        assert lines == ["Started 1/1 job for Beam monitors"]
    # Persisted in the dashboard's config file, and audited, as a click would be.
    assert "monitor_cave" in settings.config_file.read_text()
    audit = [
        json.loads(line)
        for line in (settings.config_dir / "dream-audit.jsonl").read_text().splitlines()
    ]
    assert [(r["user"], r["role"], r["action"], r["outcome"]) for r in audit] == [
        (getpass.getuser(), "operator", "commit_workflow", "sent"),
        (getpass.getuser(), "operator", "commit_workflow", "acknowledged"),
    ]


def test_start_names_the_topics_kafka_did_not_assign(
    settings: Settings, make_producer: Callable[[str], Producer]
) -> None:
    producer = make_producer(settings.bootstrap_servers)
    producer.list_topics(topic=settings.topic("heartbeat"), timeout=10)

    with (
        KafkaSession(settings, CATALOGUE, SystemClock(), commands=True) as session,
        pytest.raises(KafkaUnavailableError) as raised,
    ):
        session.start(connect_timeout=2)

    text = str(raised.value)
    assert settings.topic("responses") in text
    assert settings.topic("heartbeat") not in text
    assert "within 2 s" in text


def test_a_session_that_sends_nothing_cannot_send(
    settings: Settings, backend: KafkaBackendBridge
) -> None:
    with KafkaSession(settings, CATALOGUE, SystemClock(), commands=False) as session:
        session.start(connect_timeout=20)

        with pytest.raises(ReadOnlyError):
            session.job_orchestrator.stop_workflow(MONITORS, actor=OPERATOR)

        assert session.services.sink.read_only  # no producer either
        assert list(session.services.source.topics) == [settings.topic("heartbeat")]


def test_the_deployments_operator_list_decides_whether_a_terminal_user_may_act(
    settings: Settings, backend: KafkaBackendBridge
) -> None:
    # Was: every terminal user an operator, whatever ``operators`` said.
    settings = settings.model_copy(update={"operators": ["somebody-else"]})
    with KafkaSession(settings, CATALOGUE, SystemClock(), commands=True) as session:
        session.start(connect_timeout=20)
        assert session.actor == Actor(getpass.getuser(), Role.viewer)

        with pytest.raises(PermissionDeniedError, match="viewer"):
            session.job_orchestrator.stop_workflow(MONITORS, actor=session.actor)
        assert session.tracker.outstanding() == []

    listed = settings.model_copy(update={"operators": [getpass.getuser()]})
    with KafkaSession(listed, CATALOGUE, SystemClock(), commands=True) as session:
        assert session.actor == Actor(getpass.getuser(), Role.operator)
