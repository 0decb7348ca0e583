"""The status report: the dashboard's snapshots as a table and as stable JSON."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from jobdash.catalogue_file import shipped_catalogue
from jobdash.cli.status_report import SCHEMA, build_report, render_table
from jobdash.domain.access import AccessPolicy
from jobdash.domain.clock import ManualClock
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus, ServiceStatus
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.job_service import JobService
from jobdash.services.worker_registry import WorkerRegistry
from jobdash.transport.in_memory_sink import InMemoryCommandSink
from jobdash.transport.kafka_health import ConnectionState, KafkaHealthSnapshot

DETECTOR = WorkflowId("dream", "detector_view", 1)
MONITORS = WorkflowId("dream", "monitor_histogram", 1)
BANKS = (
    "mantle_detector",
    "endcap_backward_detector",
    "endcap_forward_detector",
    "high_resolution_detector",
)
START = 1_764_374_400_000_000_000


class _Heard:
    """The dashboard's models after some heartbeats (no Kafka needed)."""

    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.orchestrator = JobOrchestrator(
            shipped_catalogue("dream"),
            CommandDispatcher(
                InMemoryCommandSink(), policy=AccessPolicy(read_only=True)
            ),
            self.clock,
            stale_after=6.0,
        )
        self.jobs = JobService(self.clock, stale_after=6.0)
        self.workers = WorkerRegistry(self.clock, stale_after=6.0)

    def beat(self, status: JobStatus) -> None:
        status = status._replace(timestamp=self.clock.now_ns())
        self.orchestrator.status_updated(status)
        self.jobs.status_updated(status)

    def report(self, **changes: Any) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "instrument": "dream",
            "bootstrap_servers": "kafka:9092",
            "now": self.clock.now_ns(),
            "listened_s": 6.0,
            "health": KafkaHealthSnapshot(
                "kafka:9092", ConnectionState.connected, START
            ),
            "workflows": self.orchestrator.snapshots(),
            "jobs": self.jobs.snapshot(),
            "workers": self.workers.workers(),
        }
        arguments.update(changes)
        return build_report(**arguments)


def _status(
    source: str,
    number: uuid.UUID,
    state: JobState = JobState.active,
    workflow: WorkflowId = DETECTOR,
    **changes: Any,
) -> JobStatus:
    return JobStatus(
        JobId(source, number), workflow, state, start_time=START - 60_000_000_000
    )._replace(**changes)


@pytest.fixture
def heard() -> _Heard:
    return _Heard()


def test_running_jobs_are_reported_per_workflow_with_the_badge_text(
    heard: _Heard,
) -> None:
    number = uuid.uuid4()
    for bank in BANKS:
        heard.beat(_status(bank, number))
    heard.clock.advance(1.5)

    report = heard.report()

    detector = report["workflows"][0]
    assert {k: detector[k] for k in ("id", "name", "title", "label", "job_number")} == {
        "id": "dream/detector_view/1",
        "name": "detector_view",
        "title": "Detector view",
        "label": "ACTIVE 4/4",
        "job_number": str(number),
    }
    assert (detector["status"], detector["count"], detector["total"]) == (
        "ACTIVE",
        4,
        4,
    )
    assert detector["adopted"] is True
    assert detector["config_known"] is False  # adopted, no config file entry
    assert [job["source_name"] for job in detector["jobs"]] == list(BANKS)
    assert detector["jobs"][0] == {
        "source_name": "mantle_detector",
        "job_id": f"mantle_detector/{number}",
        "job_number": str(number),
        "workflow_id": "dream/detector_view/1",
        "state": "active",
        "stale": False,
        "message": None,
        "error": None,
        "warning": None,
        "start_time": "2025-11-28T23:59:00.000000Z",
        "end_time": None,
        "last_seen_s": 1.5,
    }
    monitors = report["workflows"][1]
    assert (monitors["label"], monitors["jobs"], monitors["job_number"]) == (
        "STOPPED",
        [],
        None,
    )
    assert [w["id"] for w in report["workflows"]] == [
        str(wid) for wid in heard.orchestrator.workflow_ids
    ]


def test_the_json_is_versioned_and_round_trips(heard: _Heard) -> None:
    heard.workers.service_status_updated(
        ServiceStatus(
            "dream", "data_reduction", "worker-0", "running", active_job_count=2
        )
    )

    report = heard.report()

    assert json.loads(json.dumps(report)) == report
    assert (report["schema"], report["instrument"], report["kafka"]) == (
        SCHEMA,
        "dream",
        "connected",
    )
    assert report["time"] == "2025-11-29T00:00:00.000000Z"
    assert report["workers"] == [
        {
            "key": "dream/data_reduction/worker-0",
            "state": "running",
            "active_job_count": 2,
            "stale": False,
        }
    ]


def test_the_table_has_a_line_per_job_with_short_job_numbers(heard: _Heard) -> None:
    number = uuid.UUID("6f1c2a4e-8a53-4c1b-9d2e-0123456789ab")
    for bank in BANKS[:2]:
        heard.beat(_status(bank, number))

    lines = render_table(heard.report()).splitlines()

    assert lines[0].split() == [
        "WORKFLOW",
        "STATUS",
        "JOB",
        "SOURCE",
        "STATE",
        "MESSAGE",
    ]
    assert lines[1].split() == [
        "Detector",
        "view",
        "(detector_view)",
        "ACTIVE",
        "2/2",
        "6f1c2a4e",
        "mantle_detector",
        "active",
    ]
    assert lines[2].split() == ["6f1c2a4e", "endcap_backward_detector", "active"]
    assert lines[3].split() == ["Beam", "monitors", "(monitor_histogram)", "STOPPED"]
    assert lines[-1] == (
        "dream on Kafka kafka:9092 (connected); listened 6 s to the heartbeats; "
        "as of 2025-11-29T00:00:00.000000Z"
    )


def test_errors_show_their_first_line_and_silent_jobs_are_stale(heard: _Heard) -> None:
    number = uuid.uuid4()
    heard.beat(
        _status(
            "mantle_detector",
            number,
            JobState.error,
            error_message="Traceback (most recent call last):\n  File 'x.py'",
        )
    )
    heard.beat(_status("endcap_backward_detector", number))
    heard.clock.advance(3.0)
    heard.beat(_status("mantle_detector", number, JobState.error, error_message="boom"))
    heard.clock.advance(4.0)  # endcap silent for 7 s > 6 s

    report = heard.report()
    table = render_table(report)

    mantle, endcap = report["workflows"][0]["jobs"]
    assert (mantle["message"], mantle["stale"]) == ("boom", False)
    assert (endcap["state"], endcap["stale"]) == ("active", True)
    assert report["workflows"][0]["label"] == "ERROR 1/2"
    assert "active (stale)" in table


def test_a_multi_line_message_shows_only_its_first_line(heard: _Heard) -> None:
    heard.beat(
        _status(
            "mantle_detector",
            uuid.uuid4(),
            JobState.warning,
            warning_message="slow\nsecond line",
        )
    )

    report = heard.report()

    assert report["workflows"][0]["jobs"][0]["message"] == "slow"
    assert report["workflows"][0]["jobs"][0]["warning"] == "slow\nsecond line"
    assert "second line" not in render_table(report)


def test_orphans_and_jobs_of_unknown_workflows_are_listed_too(heard: _Heard) -> None:
    older, newer = uuid.uuid4(), uuid.uuid4()
    heard.beat(_status("monitor_cave", older, workflow=MONITORS, start_time=START - 10))
    heard.beat(_status("monitor_cave", newer, workflow=MONITORS, start_time=START))
    stranger = WorkflowId("dream", "not_catalogued", 3)
    heard.beat(_status("sans_detector", uuid.uuid4(), workflow=stranger))

    report = heard.report()
    table = render_table(report)

    monitors = report["workflows"][1]
    assert monitors["job_number"] == str(newer)
    assert [job["job_number"] for job in monitors["orphans"]] == [str(older)]
    assert [job["workflow_id"] for job in report["other_jobs"]] == [str(stranger)]
    assert f"{older.hex[:8]}  monitor_cave" in table
    assert "active (orphan)" in table
    assert "dream/not_catalogued/3 (not in the catalogue)" in table


def test_control_characters_from_heartbeats_cannot_reach_the_terminal(
    heard: _Heard,
) -> None:
    heard.beat(
        _status(
            "mantle_detector",
            uuid.uuid4(),
            JobState.warning,
            warning_message="\x1b[2J\x1b]0;pwned\x07cleared",
        )
    )

    table = render_table(heard.report())

    assert "\x1b" not in table
    assert "\x07" not in table
    assert "\ufffd[2J" in table
