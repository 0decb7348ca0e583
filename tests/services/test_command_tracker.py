from __future__ import annotations

import json
import threading
import uuid

import pytest

from jobdash.domain import JobId, ManualClock, WorkflowId
from jobdash.domain.commands import (
    Acknowledgement,
    JobAction,
    JobCommand,
    JobIdentifier,
    WorkflowConfigCommand,
    WorkflowIdentifier,
)
from jobdash.services.audit_log import AuditLog
from jobdash.services.command_tracker import (
    GroupProgress,
    PendingCommandTracker,
    action_noun,
)
from jobdash.services.notifications import NotificationLog

WORKFLOW = WorkflowIdentifier.from_domain(WorkflowId("dream", "detector_view", 1))
NUMBER = uuid.UUID(int=7)
BANKS = ["mantle_detector", "endcap_backward", "endcap_forward", "high_resolution"]


def start(source: str) -> WorkflowConfigCommand:
    return WorkflowConfigCommand(
        identifier=WORKFLOW, job_id=JobIdentifier(source_name=source, job_number=NUMBER)
    )


def stop(source: str) -> JobCommand:
    job_id = JobIdentifier(source_name=source, job_number=NUMBER)
    return JobCommand(job_id=job_id, action=JobAction.stop)


def ack(command, device: str | None = None) -> Acknowledgement:
    return Acknowledgement(
        message_id=command.message_id,
        device=device if device is not None else command.job_id.source_name,
        response="ACK",
    )


def err(command, message: str | None, device: str | None = None) -> Acknowledgement:
    return Acknowledgement(
        message_id=command.message_id,
        device=device if device is not None else command.job_id.source_name,
        response="ERR",
        message=message,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def log(clock: ManualClock) -> NotificationLog:
    return NotificationLog(clock)


@pytest.fixture
def tracker(clock: ManualClock, log: NotificationLog) -> PendingCommandTracker:
    return PendingCommandTracker(clock, log, timeout=30.0)


def texts(log: NotificationLog) -> list[tuple[str, str]]:
    return [(n.level.value, n.text) for n in log.since(0)]


@pytest.fixture
def started(tracker) -> list[WorkflowConfigCommand]:
    commands = [start(source) for source in BANKS]
    tracker.track(commands, verb="Started", subject="Detector view")
    return commands


def test_all_acks_report_success_once(tracker, log, started):
    for command in started[:3]:
        tracker.ack_received(ack(command))
    assert texts(log) == []
    tracker.ack_received(ack(started[3]))
    assert texts(log) == [("success", "Started 4/4 jobs for Detector view")]


def test_a_single_command_is_summarised_in_the_singular(tracker, log):
    command = stop("mantle_detector")
    tracker.track([command], verb="Stopped", subject="mantle_detector")
    tracker.ack_received(ack(command))
    assert texts(log) == [("success", "Stopped 1/1 job for mantle_detector")]


def test_error_ack_reports_failure_with_backend_message(tracker, log, started):
    tracker.ack_received(err(started[0], "detector offline"))
    # At once, while the other three are still pending.
    assert texts(log) == [
        ("error", "Start of mantle_detector failed: detector offline")
    ]
    assert tracker.pending_count() == 3


def test_error_ack_from_a_job_id_device_names_its_source(tracker, log, started):
    device = str(JobId("endcap_backward", NUMBER))
    tracker.ack_received(err(started[1], "bad params", device=device))
    assert texts(log) == [("error", "Start of endcap_backward failed: bad params")]


def test_error_ack_without_device_names_the_commands_source(tracker, log, started):
    tracker.ack_received(err(started[2], "bad params", device=""))
    assert texts(log) == [("error", "Start of endcap_forward failed: bad params")]


def test_error_ack_without_message_still_reports_the_failure(tracker, log, started):
    tracker.ack_received(err(started[0], None))
    assert texts(log) == [("error", "Start of mantle_detector failed")]


def test_mixed_answers_end_with_a_warning_summary(tracker, log, started):
    tracker.ack_received(err(started[0], "offline"))
    for command in started[1:]:
        tracker.ack_received(ack(command))
    assert texts(log) == [
        ("error", "Start of mantle_detector failed: offline"),
        ("warning", "Started 3/4 jobs for Detector view; 1 failed"),
    ]


def test_a_failed_single_command_reports_only_its_failure(tracker, log):
    command = stop("mantle_detector")
    tracker.track([command], verb="Stopped", subject="mantle_detector")
    tracker.ack_received(err(command, "no such job"))
    assert texts(log) == [("error", "Stop of mantle_detector failed: no such job")]
    assert tracker.outstanding() == []


def test_a_group_that_failed_entirely_ends_with_an_error_summary(tracker, log, started):
    for command in started:
        tracker.ack_received(err(command, "down"))
    assert texts(log)[-1] == ("error", "Started 0/4 jobs for Detector view; 4 failed")
    assert len(texts(log)) == 5


def test_no_ack_after_timeout_reports_no_response(tracker, log, clock):
    command = stop("mantle_detector")
    tracker.track([command], verb="Stopped", subject="mantle_detector")
    clock.advance(29.999)
    tracker.tick()
    assert texts(log) == []
    clock.advance(0.001)
    tracker.tick()
    assert texts(log) == [
        ("warning", "No response after 30 s to Stop of mantle_detector")
    ]


def test_partial_acks_after_timeout_report_the_silent_count(
    tracker, log, clock, started
):
    for command in started[:3]:
        tracker.ack_received(ack(command))
    clock.advance(30)
    tracker.tick()
    assert texts(log) == [
        ("warning", "Started 3/4 jobs for Detector view; 1 with no response after 30 s")
    ]


def test_timeout_summary_mentions_failures_too(tracker, log, clock, started):
    tracker.ack_received(ack(started[0]))
    tracker.ack_received(err(started[1], "offline"))
    clock.advance(30)
    tracker.tick()
    assert texts(log)[-1] == (
        "warning",
        "Started 1/4 jobs for Detector view; 2 with no response after 30 s; 1 failed",
    )


def test_silent_group_after_timeout_reports_no_response_to_the_action(
    tracker, log, clock, started
):
    clock.advance(30)
    tracker.tick()
    assert texts(log) == [
        ("warning", "No response after 30 s to Start of 4 jobs for Detector view")
    ]


def test_silent_group_with_failures_after_timeout_counts_the_silent(
    tracker, log, clock, started
):
    tracker.ack_received(err(started[0], "offline"))
    clock.advance(30)
    tracker.tick()
    assert texts(log)[-1] == (
        "warning",
        "No response after 30 s to Start of 3/4 jobs for Detector view; 1 failed",
    )


def test_timeout_text_shows_fractional_seconds(clock, log):
    tracker = PendingCommandTracker(clock, log, timeout=2.5)
    command = stop("mantle_detector")
    tracker.track([command], verb="Stopped", subject="mantle_detector")
    clock.advance(2.5)
    tracker.tick()
    assert texts(log) == [
        ("warning", "No response after 2.5 s to Stop of mantle_detector")
    ]


def test_each_group_reports_its_outcome_exactly_once(tracker, log, clock, started):
    for command in started:
        tracker.ack_received(ack(command))
    clock.advance(60)
    tracker.tick()
    tracker.tick()
    for command in started:
        tracker.ack_received(ack(command))
        tracker.ack_received(err(command, "late"))
    assert texts(log) == [("success", "Started 4/4 jobs for Detector view")]


def test_late_ack_after_timeout_is_ignored_and_counted(tracker, log, clock):
    command = stop("mantle_detector")
    tracker.track([command], verb="Stopped", subject="mantle_detector")
    clock.advance(31)
    tracker.tick()
    tracker.ack_received(ack(command))
    assert len(texts(log)) == 1
    assert tracker.ignored_acks == 1


def test_unknown_ack_is_ignored_and_counted(tracker, log):
    tracker.ack_received(ack(stop("mantle_detector")))
    assert texts(log) == []
    assert tracker.ignored_acks == 1


def test_repeated_ack_of_one_command_counts_once(tracker, log, started):
    tracker.ack_received(ack(started[0]))
    tracker.ack_received(ack(started[0]))
    assert tracker.outstanding()[0].acked == 1
    assert tracker.ignored_acks == 0


def test_an_error_after_an_ack_of_the_same_command_counts_as_failure(
    tracker, log, started
):
    # A command without a job id can be answered by several backends.
    tracker.ack_received(ack(started[0]))
    tracker.ack_received(err(started[0], "one backend refused"))
    progress = tracker.outstanding()[0]
    assert (progress.acked, progress.failed) == (0, 1)


def test_finished_groups_are_dropped(tracker, clock, started):
    other = stop("monitor_1")
    tracker.track([other], verb="Stopped", subject="monitor_1")
    for command in started:
        tracker.ack_received(ack(command))
    clock.advance(30)
    tracker.tick()
    assert tracker.outstanding() == []
    assert tracker.pending_count() == 0
    # Internal maps are empty too: nothing grows with the number of actions.
    assert tracker._groups == {}
    assert tracker._group_of == {}


def test_outstanding_groups_show_their_progress(tracker, clock, started):
    sent_at = clock.now_ns()
    command = stop("monitor_1")
    tracker.track([command], verb="Stopped", subject="monitor_1")
    tracker.ack_received(ack(started[0]))
    tracker.ack_received(err(started[1], "x"))
    first, second = tracker.outstanding()
    assert first == GroupProgress(1, "Started", "Detector view", sent_at, 4, 1, 1)
    assert first.pending == 2
    assert (second.verb, second.subject, second.pending) == ("Stopped", "monitor_1", 1)
    assert tracker.pending_count() == 3


def test_command_failed_reports_could_not_send_and_counts_as_failed(
    tracker, log, started
):
    tracker.command_failed(started[0], "broker unreachable")
    assert texts(log) == [
        ("error", "Could not send Start of mantle_detector: broker unreachable")
    ]
    for command in started[1:]:
        tracker.ack_received(ack(command))
    assert texts(log)[-1] == ("warning", "Started 3/4 jobs for Detector view; 1 failed")


def test_a_single_command_that_could_not_be_sent_reports_once(tracker, log):
    command = stop("mantle_detector")
    tracker.track([command], verb="Stopped", subject="mantle_detector")
    tracker.command_failed(command, "queue full")
    assert texts(log) == [
        ("error", "Could not send Stop of mantle_detector: queue full")
    ]
    assert tracker.outstanding() == []


def test_command_failed_for_an_untracked_command_still_reports(tracker, log):
    command = JobCommand(job_id=None, workflow_id=WORKFLOW, action=JobAction.reset)
    tracker.command_failed(command, "broker down")
    tracker.command_failed(start("monitor_1"), "broker down")
    assert texts(log) == [
        ("error", "Could not send Reset: broker down"),
        ("error", "Could not send Start of monitor_1: broker down"),
    ]


def test_a_workflow_wide_command_is_labelled_by_the_subject(tracker, log, clock):
    command = JobCommand(job_id=None, workflow_id=WORKFLOW, action=JobAction.stop)
    tracker.track([command], verb="Stopped", subject="Detector view")
    clock.advance(30)
    tracker.tick()
    assert texts(log) == [
        ("warning", "No response after 30 s to Stop of Detector view")
    ]


def test_noun_can_be_given_explicitly(tracker, log):
    command = start("mantle_detector")
    tracker.track([command], verb="Restarted", subject="Detector view", noun="Restart")
    tracker.ack_received(err(command, "x"))
    assert texts(log)[0] == ("error", "Restart of mantle_detector failed: x")


@pytest.mark.parametrize(
    ("verb", "noun"),
    [
        ("Started", "Start"),
        ("Stopped", "Stop"),
        ("Reset", "Reset"),
        ("Paused", "Pause"),
        ("Resumed", "Resume"),
        ("Restarted", "Restart"),
        ("Dropped", "Drop"),
        ("Sent", "Sent"),
    ],
)
def test_action_noun_derives_the_noun_from_the_verb(verb, noun):
    assert action_noun(verb) == noun


def test_track_rejects_empty_and_repeated_commands(tracker):
    with pytest.raises(ValueError, match="at least one"):
        tracker.track([], verb="Started", subject="x")
    command = start("mantle_detector")
    with pytest.raises(ValueError, match="distinct"):
        tracker.track([command, command], verb="Started", subject="x")
    tracker.track([command], verb="Started", subject="x")
    with pytest.raises(ValueError, match="already tracked"):
        tracker.track([command], verb="Started", subject="x")


def test_timeout_must_be_positive(clock, log):
    with pytest.raises(ValueError, match="timeout"):
        PendingCommandTracker(clock, log, timeout=0)


def test_concurrent_tracking_and_acks_report_every_group_once(tracker, log):
    groups = 20
    commands = [[start(f"s{g}_{i}") for i in range(5)] for g in range(groups)]
    ready = threading.Barrier(2)

    def track_all() -> None:
        ready.wait()
        for group, members in enumerate(commands):
            tracker.track(members, verb="Started", subject=f"workflow {group}")

    thread = threading.Thread(target=track_all, name="test-tracker-ui")
    thread.start()
    ready.wait()
    answered: set[uuid.UUID] = set()
    deadline = threading.Event()
    timer = threading.Timer(10, deadline.set)
    timer.start()
    try:
        # Answer each command once it is tracked (the ingestion thread's role).
        while len(answered) < groups * 5 and not deadline.is_set():
            for members in commands:
                for command in members:
                    if (
                        command.message_id not in answered
                        and command.message_id in tracker._group_of
                    ):
                        tracker.ack_received(ack(command))
                        answered.add(command.message_id)
    finally:
        timer.cancel()
        thread.join(timeout=10)
    summaries = sorted(n.text for n in log.since(0))
    assert summaries == sorted(
        f"Started 5/5 jobs for workflow {g}" for g in range(groups)
    )
    assert tracker.ignored_acks == 0


# --- audit trail ------------------------------------------------------------------


@pytest.fixture
def audit_path(tmp_path):
    return tmp_path / "audit.jsonl"


@pytest.fixture
def audited(clock, log, audit_path) -> PendingCommandTracker:
    return PendingCommandTracker(clock, log, audit=AuditLog(audit_path, clock))


def outcomes(path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [(record["message_id"], record["outcome"]) for record in records]


def test_each_answer_is_audited_by_message_id(audited, audit_path):
    commands = [start(source) for source in BANKS[:2]]
    audited.track(commands, verb="Started", subject="Detector view")
    audited.ack_received(ack(commands[0]))
    audited.ack_received(err(commands[1], "detector\noffline"))
    assert outcomes(audit_path) == [
        (str(commands[0].message_id), "acknowledged"),
        (str(commands[1].message_id), "failed: detector offline"),
    ]


def test_an_error_without_message_is_audited_as_failed(audited, audit_path):
    command = stop("mantle_detector")
    audited.track([command], verb="Stopped", subject="mantle_detector")
    audited.ack_received(err(command, None))
    assert outcomes(audit_path) == [(str(command.message_id), "failed")]


def test_silent_commands_are_audited_as_no_response_at_the_timeout(
    audited, audit_path, clock
):
    commands = [start(source) for source in BANKS]
    audited.track(commands, verb="Started", subject="Detector view")
    audited.ack_received(ack(commands[0]))
    audited.ack_received(err(commands[1], "offline"))
    clock.advance(30)
    audited.tick()
    assert outcomes(audit_path)[2:] == [
        (str(commands[2].message_id), "no_response"),
        (str(commands[3].message_id), "no_response"),
    ]


def test_a_transport_failure_is_audited_as_send_failed(audited, audit_path):
    command = stop("mantle_detector")
    audited.track([command], verb="Stopped", subject="mantle_detector")
    audited.command_failed(command, "delivery timed out")
    assert outcomes(audit_path) == [
        (str(command.message_id), "send_failed: delivery timed out")
    ]


def test_a_late_answer_to_an_audited_command_is_still_audited(
    audited, audit_path, clock
):
    command = stop("mantle_detector")
    audited.track([command], verb="Stopped", subject="mantle_detector")
    clock.advance(31)
    audited.tick()
    audited.ack_received(ack(command))
    assert outcomes(audit_path) == [
        (str(command.message_id), "no_response"),
        (str(command.message_id), "acknowledged"),
    ]
    assert audited.ignored_acks == 1


def test_answers_to_commands_never_seen_are_not_audited(audited, audit_path):
    audited.ack_received(ack(stop("mantle_detector")))
    assert outcomes(audit_path) == []
