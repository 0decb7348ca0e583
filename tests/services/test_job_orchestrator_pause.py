"""Pause and resume of a workflow through JobOrchestrator.

Job commands for the current JobSet's jobs, through the one command path
(authorized, tracked, audited), sent only for jobs whose source a fresh
backend worker accepts the action for; refused, and audited, when none is
(docs/decisions/0011-paused-aggregate-and-action-support.md).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from jobdash.domain import JobId, JobState, JobStatus, ManualClock, ServiceStatus
from jobdash.domain.access import PermissionDeniedError
from jobdash.domain.commands import (
    Acknowledgement,
    JobAction,
    JobCommand,
    WorkflowIdentifier,
)
from jobdash.domain.ids import WorkflowId
from jobdash.services.action_guard import ActionRefusedError
from jobdash.services.audit_log import AuditLog
from jobdash.services.command_tracker import PendingCommandTracker
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.notifications import NotificationLog
from jobdash.services.worker_registry import WorkerRegistry
from jobdash.services.workflow_state import SourceConfig
from jobdash.testing.actors import OPERATOR, VIEWER

DETECTOR = WorkflowId("dream", "detector_view", 1)
BANKS = (
    "mantle_detector",
    "endcap_backward_detector",
    "endcap_forward_detector",
    "high_resolution_detector",
)
MANTLE = BANKS[0]


@pytest.fixture
def notifications(clock) -> NotificationLog:
    return NotificationLog(clock)


@pytest.fixture
def audit_path(tmp_path) -> Path:
    return tmp_path / "audit.jsonl"


@pytest.fixture
def audit(audit_path, clock) -> AuditLog:
    return AuditLog(audit_path, clock)


@pytest.fixture
def tracker(clock, notifications, audit) -> PendingCommandTracker:
    return PendingCommandTracker(clock, notifications, audit=audit)


@pytest.fixture
def workers(clock: ManualClock) -> WorkerRegistry:
    return WorkerRegistry(clock, stale_after=6.0)


@pytest.fixture
def orch(make, workers) -> JobOrchestrator:
    return make(support=workers)


def hear(workers: WorkerRegistry, sources=BANKS, actions=("stop", "pause", "resume")):
    workers.service_status_updated(
        ServiceStatus(
            "dream",
            "data_reduction",
            "worker-0",
            "running",
            source_names=tuple(sources),
            supported_actions=frozenset(actions),
        )
    )


def commit(orch: JobOrchestrator) -> uuid.UUID:
    draft = dict.fromkeys(BANKS, SourceConfig())
    return orch.commit_workflow(DETECTOR, actor=OPERATOR, draft=draft)


def beat(orch, clock, number, source, state=JobState.active) -> None:
    orch.status_updated(
        JobStatus(JobId(source, number), DETECTOR, state, timestamp=clock.now_ns())
    )


def job_commands(sink) -> list[JobCommand]:
    return [c for c in sink.sent if isinstance(c, JobCommand)]


def audit_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_pause_sends_one_pause_per_current_job_not_stopped(orch, workers, sink, clock):
    hear(workers)
    number = commit(orch)
    beat(orch, clock, number, BANKS[3], JobState.stopped)
    sink.clear()
    assert orch.pause_workflow(DETECTOR, actor=OPERATOR) == 3
    sent = job_commands(sink)
    assert {c.action for c in sent} == {JobAction.pause}
    assert {c.job_id.to_domain() for c in sent if c.job_id} == {
        JobId(source, number) for source in BANKS[:3]
    }


def test_resume_sends_resumes_tracked_as_one_group_named_resumed(
    orch, workers, sink, tracker, notifications
):
    hear(workers)
    commit(orch)
    sink.clear()
    assert orch.resume_workflow(DETECTOR, actor=OPERATOR) == 4
    assert {c.action for c in job_commands(sink)} == {JobAction.resume}
    for command in sink.sent:
        tracker.ack_received(
            Acknowledgement(message_id=command.message_id, device="x", response="ACK")
        )
    assert "Resumed 4/4 jobs for Detector view" in [
        n.text for n in notifications.since(0)
    ]


def test_pause_and_resume_show_as_paused_then_active(orch, workers, clock):
    hear(workers)
    number = commit(orch)
    for source in BANKS:
        beat(orch, clock, number, source)
    orch.pause_workflow(DETECTOR, actor=OPERATOR)
    for source in BANKS[:2]:
        beat(orch, clock, number, source, JobState.paused)
    assert orch.get_workflow_status(DETECTOR).label == "PAUSED 2/4"
    for source in BANKS[2:]:
        beat(orch, clock, number, source, JobState.paused)
    assert orch.snapshot(DETECTOR).aggregate.label == "PAUSED 4/4"
    orch.resume_workflow(DETECTOR, actor=OPERATOR)
    for source in BANKS:
        beat(orch, clock, number, source)
    assert orch.get_workflow_status(DETECTOR).label == "ACTIVE 4/4"


def test_only_jobs_a_worker_accepts_the_action_for_get_a_command(orch, workers, sink):
    hear(workers, sources=BANKS[:2])
    number = commit(orch)
    sink.clear()
    assert orch.pause_workflow(DETECTOR, actor=OPERATOR) == 2
    assert [c.job_id.to_domain() for c in job_commands(sink) if c.job_id] == [
        JobId(source, number) for source in BANKS[:2]
    ]


def test_a_pause_no_worker_supports_is_refused_audited_and_sends_nothing(
    orch, workers, sink, audit_path
):
    hear(workers, actions=("stop", "reset"))
    commit(orch)
    sink.clear()
    with pytest.raises(ActionRefusedError, match="Pause is not supported") as info:
        orch.pause_workflow(DETECTOR, actor=OPERATOR)
    assert MANTLE in str(info.value)
    assert sink.sent == []
    last = audit_lines(audit_path)[-1]
    assert (last["action"], last["workflow"]) == ("pause_workflow", str(DETECTOR))
    assert last["outcome"].startswith("refused: Pause is not supported")


def test_a_worker_gone_silent_no_longer_supports_pause(orch, workers, sink, clock):
    hear(workers)
    commit(orch)
    clock.advance(7)
    with pytest.raises(ActionRefusedError):
        orch.resume_workflow(DETECTOR, actor=OPERATOR)


def test_pausing_a_workflow_without_a_jobset_sends_nothing_and_is_not_refused(
    orch, workers, sink
):
    assert orch.pause_workflow(DETECTOR, actor=OPERATOR) == 0
    assert sink.sent == []


@pytest.mark.parametrize("method", ["pause_workflow", "resume_workflow"])
def test_a_viewer_cannot_pause_or_resume_and_the_refusal_is_audited(
    orch, workers, sink, audit_path, method
):
    hear(workers)
    commit(orch)
    sink.clear()
    with pytest.raises(PermissionDeniedError):
        getattr(orch, method)(DETECTOR, actor=VIEWER)
    assert sink.sent == []
    last = audit_lines(audit_path)[-1]
    assert (last["user"], last["action"], last["outcome"]) == (
        VIEWER.name,
        method,
        "refused",
    )


def test_each_pause_is_audited_as_sent_with_its_job(orch, workers, audit_path):
    hear(workers)
    number = commit(orch)
    orch.pause_workflow(DETECTOR, actor=OPERATOR)
    sent = [
        line for line in audit_lines(audit_path) if line["action"] == "pause_workflow"
    ]
    assert {line["outcome"] for line in sent} == {"sent"}
    assert {line["job"] for line in sent} == {
        str(JobId(source, number)) for source in BANKS
    }
    assert {line["workflow"] for line in sent} == {str(DETECTOR)}


def test_without_worker_information_every_job_gets_its_command(make, sink):
    orch = make()  # no support source: nothing to check against
    commit(orch)
    sink.clear()
    assert orch.pause_workflow(DETECTOR, actor=OPERATOR) == 4
    assert all(
        c.workflow_id is None
        or c.workflow_id == WorkflowIdentifier.from_domain(DETECTOR)
        for c in job_commands(sink)
    )
