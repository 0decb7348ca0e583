"""A stop keeps working: ``JobOrchestrator.tick`` re-sends it while the job runs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from jobdash.domain import JobId, JobState, JobStatus, WorkflowId
from jobdash.domain.access import Actor, Role
from jobdash.domain.commands import JobAction, JobCommand
from jobdash.services.audit_log import AuditLog
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.command_tracker import PendingCommandTracker
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.notifications import NotificationLevel, NotificationLog
from jobdash.services.stop_retries import MAX_STOP_RETRIES, STOP_RETRY_ACTION

DETECTOR = WorkflowId("dream", "detector_view", 1)
BANKS = (
    "mantle_detector",
    "endcap_backward_detector",
    "endcap_forward_detector",
    "high_resolution_detector",
)
MANTLE = BANKS[0]
OLGA = Actor("olga", Role.operator)


@pytest.fixture
def notifications(clock) -> NotificationLog:
    return NotificationLog(clock)


@pytest.fixture
def audit_path(tmp_path) -> Path:
    return tmp_path / "dream-audit.jsonl"


@pytest.fixture
def audit(audit_path, clock) -> AuditLog:
    return AuditLog(audit_path, clock)


@pytest.fixture
def tracker(clock, notifications, audit) -> PendingCommandTracker:
    return PendingCommandTracker(clock, notifications, audit=audit)


@pytest.fixture
def orch(catalogue, sink, clock, notifications, tracker, audit) -> JobOrchestrator:
    return JobOrchestrator(
        catalogue,
        CommandDispatcher(sink, tracker=tracker, audit=audit),
        clock,
        notifications=notifications,
    )


def beat(orch, clock, number, source=MANTLE, state=JobState.active) -> None:
    orch.status_updated(
        JobStatus(JobId(source, number), DETECTOR, state, timestamp=clock.now_ns())
    )


def run(orch, clock, seconds, number, sources=(MANTLE,), state=JobState.active):
    """Heartbeat every 2 s and tick every 0.25 s for ``seconds``."""
    for step in range(round(seconds / 0.25)):
        clock.advance(0.25)
        if step % 8 == 7:
            for source in sources:
                beat(orch, clock, number, source, state)
        orch.tick()


def stops(sink, source=MANTLE) -> list[JobCommand]:
    return [
        c
        for c in sink.sent
        if isinstance(c, JobCommand)
        and c.action is JobAction.stop
        and c.job_id is not None
        and c.job_id.source_name == source
    ]


def running_job(orch, clock, sources=(MANTLE,)) -> uuid.UUID:
    for source in sources:
        orch.stage_config(DETECTOR, source, {}, actor=OLGA)
    number = orch.commit_workflow(DETECTOR, actor=OLGA)
    for source in sources:
        beat(orch, clock, number, source)
    return number


def test_stop_is_re_sent_after_the_interval_while_heartbeats_say_active(
    orch, clock, sink
):
    number = running_job(orch, clock)
    orch.stop_workflow(DETECTOR, actor=OLGA)
    assert len(stops(sink)) == 1
    run(orch, clock, 29.75, number)
    assert len(stops(sink)) == 1  # not before the interval
    run(orch, clock, 0.25, number)
    assert len(stops(sink)) == 2
    resent = stops(sink)[1]
    assert resent.job_id is not None
    assert resent.job_id.to_domain() == JobId(MANTLE, number)
    assert resent.message_id != stops(sink)[0].message_id
    run(orch, clock, 29.75, number)
    assert len(stops(sink)) == 2  # at most once per interval
    run(orch, clock, 0.25, number)
    assert len(stops(sink)) == 3
    assert orch.counters()["stop_retries"] == 2


def test_no_stop_is_re_sent_once_the_job_reports_stopped(orch, clock, sink):
    number = running_job(orch, clock)
    orch.stop_workflow(DETECTOR, actor=OLGA)
    run(orch, clock, 10.0, number)
    beat(orch, clock, number, state=JobState.stopped)
    run(orch, clock, 120.0, number, sources=())
    assert len(stops(sink)) == 1
    assert len(orch._stop_retries) == 0


def test_a_stale_job_gets_no_re_sent_stop_and_stays_stale(orch, clock, sink):
    number = running_job(orch, clock)
    orch.stop_workflow(DETECTOR, actor=OLGA)
    run(orch, clock, 90.0, number, sources=())  # backend dead: no heartbeats
    assert len(stops(sink)) == 1
    assert orch.get_workflow_status(DETECTOR).label == "STALE 1/1"


def test_a_stale_job_heard_again_still_running_gets_its_stop_at_once(orch, clock, sink):
    number = running_job(orch, clock)
    orch.stop_workflow(DETECTOR, actor=OLGA)
    run(orch, clock, 40.0, number, sources=())
    assert len(stops(sink)) == 1
    beat(orch, clock, number)  # the backend is back; the stop it missed is lost
    orch.tick()
    assert len(stops(sink)) == 2


def test_a_job_never_heard_from_gets_no_re_sent_stop(orch, clock, sink):
    orch.stage_config(DETECTOR, MANTLE, {}, actor=OLGA)
    orch.commit_workflow(DETECTOR, actor=OLGA)
    orch.stop_workflow(DETECTOR, actor=OLGA)
    for _ in range(4 * 60):
        clock.advance(0.25)
        orch.tick()
    assert len(stops(sink)) == 1


def test_only_the_jobs_still_running_get_the_stop_again(orch, clock, sink):
    sources = BANKS[:2]
    number = running_job(orch, clock, sources)
    orch.stop_workflow(DETECTOR, actor=OLGA)
    beat(orch, clock, number, BANKS[1], JobState.stopped)
    run(orch, clock, 30.0, number, sources=(MANTLE,))
    assert len(stops(sink, MANTLE)) == 2
    assert len(stops(sink, BANKS[1])) == 1


def test_stop_of_the_previous_jobset_by_a_commit_is_re_sent(orch, clock, sink):
    old = running_job(orch, clock)
    new = orch.commit_workflow(DETECTOR, actor=OLGA)
    beat(orch, clock, new)
    for step in range(4 * 30):
        clock.advance(0.25)
        if step % 8 == 7:
            beat(orch, clock, old)  # the old job ignores its stop
            beat(orch, clock, new)
        orch.tick()
    old_stops = [c for c in stops(sink) if c.job_id and c.job_id.job_number == old]
    assert len(old_stops) == 2
    assert not [c for c in stops(sink) if c.job_id and c.job_id.job_number == new]


def test_stop_job_of_an_orphan_is_re_sent(orch, clock, sink):
    current = running_job(orch, clock)
    orphan = uuid.UUID(int=7)
    beat(orch, clock, orphan)  # an unknown job number: adopted as an orphan
    assert JobId(MANTLE, orphan) in orch.snapshot(DETECTOR).orphans
    orch.stop_job(JobId(MANTLE, orphan), actor=OLGA)
    for step in range(4 * 30):
        clock.advance(0.25)
        if step % 8 == 7:
            beat(orch, clock, orphan)
            beat(orch, clock, current)
        orch.tick()
    numbers = [c.job_id.job_number for c in stops(sink) if c.job_id is not None]
    assert numbers == [orphan, orphan]


def test_re_sent_stop_is_tracked_as_a_retry_and_audited_in_the_askers_name(
    orch, clock, sink, notifications, tracker, audit_path
):
    number = running_job(orch, clock)
    orch.stop_workflow(DETECTOR, actor=OLGA)
    run(orch, clock, 30.0, number)
    tracker.tick()  # the first stop's group times out before the retry's
    assert [(g.verb, g.subject) for g in tracker.outstanding()] == [
        ("Stopped", f"Detector view (stop retry 1/{MAX_STOP_RETRIES})")
    ]
    resent = stops(sink)[1]
    lines = [json.loads(line) for line in audit_path.read_text().splitlines()]
    mine = [line for line in lines if line["message_id"] == str(resent.message_id)]
    assert [(line["user"], line["action"], line["outcome"]) for line in mine] == [
        ("olga", STOP_RETRY_ACTION, "sent")
    ]
    clock.advance(30.0)
    tracker.tick()  # the retry's group times out too
    texts = [n.text for n in notifications.recent(10)]
    assert texts.count("No response after 30 s to Stop of mantle_detector") == 2


def test_after_the_last_retry_the_operator_is_warned_once(
    orch, clock, sink, notifications
):
    number = running_job(orch, clock)
    orch.stop_workflow(DETECTOR, actor=OLGA)
    run(orch, clock, 30.0 * (MAX_STOP_RETRIES + 3), number)
    assert len(stops(sink)) == 1 + MAX_STOP_RETRIES
    warnings = [
        n
        for n in notifications.recent(100)
        if n.level is NotificationLevel.warning and "re-sent stops" in n.text
    ]
    assert len(warnings) == 1
    assert warnings[0].text.startswith(
        f"mantle_detector of Detector view still runs after {MAX_STOP_RETRIES}"
    )
    assert orch.counters()["stop_retries_exhausted"] == 1
    assert len(orch._stop_retries) == 0


def test_asking_again_restarts_the_retry_count(orch, clock, sink):
    number = running_job(orch, clock)
    orch.stop_workflow(DETECTOR, actor=OLGA)
    run(orch, clock, 60.0, number)
    assert orch._stop_retries.retries_of(JobId(MANTLE, number)) == 2
    orch.stop_workflow(DETECTOR, actor=OLGA)
    assert orch._stop_retries.retries_of(JobId(MANTLE, number)) == 0


def test_stop_requests_leave_with_their_jobs(orch, clock, sink):
    for _ in range(50):
        old = running_job(orch, clock)
        orch.commit_workflow(DETECTOR, actor=OLGA)  # stops old
        beat(orch, clock, old, state=JobState.stopped)
    orch.tick()
    assert len(orch._stop_retries) <= len(orch._index)
    assert len(orch._stop_retries) == 0


def test_a_nonpositive_retry_interval_is_refused(catalogue, sink, clock):
    with pytest.raises(ValueError, match="stop_retry_interval"):
        JobOrchestrator(
            catalogue, CommandDispatcher(sink), clock, stop_retry_interval=0
        )


def test_retry_interval_is_a_constructor_argument(catalogue, sink, clock):
    orch = JobOrchestrator(
        catalogue, CommandDispatcher(sink), clock, stop_retry_interval=5.0
    )
    number = running_job(orch, clock)
    orch.stop_workflow(DETECTOR, actor=OLGA)
    run(orch, clock, 5.0, number)
    assert len(stops(sink)) == 2
