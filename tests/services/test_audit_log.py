import json
import logging
import threading
import uuid

import pytest

from jobdash.domain import JobId, ManualClock, WorkflowId
from jobdash.domain.access import Actor, Role
from jobdash.domain.commands import (
    JobAction,
    JobCommand,
    JobIdentifier,
    WorkflowConfigCommand,
    WorkflowIdentifier,
)
from jobdash.services.audit_log import AuditLog, AuditOutcome

ALICE = Actor("alice", Role.operator)
VERA = Actor("vera", Role.viewer)
WORKFLOW = WorkflowId("dream", "detector_view", 1)
JOB = JobId("mantle_detector", uuid.UUID(int=3))
KEYS = ["time", "user", "role", "action", "workflow", "job", "message_id", "outcome"]


def stop_command(message_id: int = 1) -> JobCommand:
    return JobCommand(
        message_id=uuid.UUID(int=message_id),
        job_id=JobIdentifier.from_domain(JOB),
        action=JobAction.stop,
    )


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("ascii").splitlines()]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def path(tmp_path):
    return tmp_path / "audit" / "dream-audit.jsonl"


@pytest.fixture
def audit(path, clock):
    return AuditLog(path, clock)


def test_a_sent_command_is_one_json_line_with_every_field(audit, path, clock):
    clock.advance(1.234567)
    audit.command(
        ALICE, "stop_job", stop_command(), AuditOutcome.sent, workflow=WORKFLOW
    )
    (line,) = lines(path)
    assert list(line) == KEYS
    assert line == {
        "time": "2025-11-29T00:00:01.234567Z",
        "user": "alice",
        "role": "operator",
        "action": "stop_job",
        "workflow": "dream/detector_view/1",
        "job": str(JOB),
        "message_id": str(uuid.UUID(int=1)),
        "outcome": "sent",
    }


def test_workflow_and_job_come_from_the_command_when_it_names_them(audit, path):
    start = WorkflowConfigCommand(
        identifier=WorkflowIdentifier.from_domain(WORKFLOW),
        job_id=JobIdentifier.from_domain(JOB),
    )
    whole_workflow = JobCommand(
        workflow_id=WorkflowIdentifier.from_domain(WORKFLOW), action=JobAction.reset
    )
    audit.command(ALICE, "commit_workflow", start, AuditOutcome.sent)
    audit.command(ALICE, "reset_workflow", whole_workflow, AuditOutcome.sent)
    first, second = lines(path)
    assert (first["workflow"], first["job"]) == (str(WORKFLOW), str(JOB))
    assert (second["workflow"], second["job"]) == (str(WORKFLOW), None)


def test_a_refused_action_has_no_message_id(audit, path):
    audit.refused(VERA, "stop_workflow", workflow=WORKFLOW)
    (line,) = lines(path)
    assert line["user"] == "vera"
    assert line["role"] == "viewer"
    assert line["action"] == "stop_workflow"
    assert line["workflow"] == str(WORKFLOW)
    assert line["message_id"] is None
    assert line["outcome"] == "refused"


def test_later_outcomes_reference_the_message_id_and_repeat_who_sent_it(audit, path):
    command = stop_command()
    audit.command(ALICE, "stop_job", command, AuditOutcome.sent)
    audit.outcome(command.message_id, AuditOutcome.failed, "no such job\n  at line 3")
    sent, failed = lines(path)
    assert failed["message_id"] == sent["message_id"]
    assert failed["outcome"] == "failed: no such job at line 3"
    assert {k: failed[k] for k in ("user", "role", "action", "job")} == {
        "user": "alice",
        "role": "operator",
        "action": "stop_job",
        "job": str(JOB),
    }


def test_an_outcome_of_a_forgotten_command_is_written_without_its_context(path, clock):
    audit = AuditLog(path, clock, memo_size=1)
    first, second = stop_command(1), stop_command(2)
    audit.command(ALICE, "stop_job", first, AuditOutcome.sent)
    audit.command(ALICE, "stop_job", second, AuditOutcome.sent)
    audit.outcome(first.message_id, AuditOutcome.no_response)
    last = lines(path)[-1]
    assert (last["message_id"], last["outcome"]) == (
        str(first.message_id),
        "no_response",
    )
    assert last["user"] is None
    assert last["job"] is None


def test_known_only_outcomes_are_written_for_remembered_commands_only(audit, path):
    ours = stop_command(1)
    audit.command(ALICE, "stop_job", ours, AuditOutcome.sent)
    audit.outcome(uuid.UUID(int=99), AuditOutcome.acknowledged, known_only=True)
    audit.outcome(ours.message_id, AuditOutcome.acknowledged, known_only=True)
    assert [line["outcome"] for line in lines(path)] == ["sent", "acknowledged"]


def test_the_same_outcome_of_one_command_is_written_once(audit, path):
    command = stop_command()
    audit.command(
        ALICE, "stop_job", command, AuditOutcome.send_failed, "broker unreachable"
    )
    audit.outcome(command.message_id, AuditOutcome.send_failed, "broker unreachable")
    audit.outcome(command.message_id, AuditOutcome.send_failed, "delivery timed out")
    assert [line["outcome"] for line in lines(path)] == [
        "send_failed: broker unreachable",
        "send_failed: delivery timed out",
    ]


def test_untrusted_text_cannot_break_a_line(audit, path):
    hostile = JobId('bank"}\n{"user": "root"\u2028\u00e9', uuid.UUID(int=5))
    audit.refused(Actor("m\u00fcller\nroot", Role.viewer), "stop_job", job=hostile)
    raw = path.read_bytes()
    assert raw.count(b"\n") == 1
    assert raw.isascii()
    (line,) = lines(path)
    assert line["job"] == str(hostile)
    assert line["user"] == "m\u00fcller\nroot"


def test_appends_to_an_existing_file(path, clock):
    first = AuditLog(path, clock)
    first.refused(VERA, "stop_job")
    second = AuditLog(path, clock)
    second.refused(VERA, "reset_job")
    assert [line["action"] for line in lines(path)] == ["stop_job", "reset_job"]


def test_each_line_reaches_the_file_at_once(audit, path):
    # Unbuffered: a crash right after the call loses nothing.
    audit.refused(VERA, "stop_job")
    assert path.read_bytes().endswith(b"\n")
    audit.refused(VERA, "reset_job")
    assert len(lines(path)) == 2


def test_a_file_moved_away_by_logrotate_is_begun_anew(audit, path):
    audit.refused(VERA, "stop_job")
    path.rename(path.with_name("rotated-by-logrotate"))
    audit.refused(VERA, "reset_job")
    assert [line["action"] for line in lines(path)] == ["reset_job"]


def test_fsync_option_syncs_each_line(path, clock, monkeypatch):
    synced = []
    monkeypatch.setattr("os.fsync", synced.append)
    audit = AuditLog(path, clock, fsync=True)
    audit.refused(VERA, "stop_job")
    audit.refused(VERA, "stop_job")
    assert len(synced) == 2


def test_rotates_to_dot_one_past_the_size_limit(path, clock):
    audit = AuditLog(path, clock, max_bytes=1000)
    for _ in range(30):
        audit.refused(VERA, "stop_workflow", workflow=WORKFLOW)
    rotated = path.with_name(path.name + ".1")
    assert path.stat().st_size <= 1000
    assert rotated.stat().st_size <= 1000
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "dream-audit.jsonl",
        "dream-audit.jsonl.1",
    ]
    # Whole lines on both sides of the cut.
    assert all(line["outcome"] == "refused" for line in lines(rotated) + lines(path))
    assert audit.written == 30


def test_an_oversized_existing_file_is_rotated_before_the_next_line(path, clock):
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"old": true}\n' * 100)
    audit = AuditLog(path, clock, max_bytes=1000)
    audit.refused(VERA, "stop_job")
    assert len(lines(path)) == 1
    assert len(lines(path.with_name(path.name + ".1"))) == 100


def test_an_unwritable_path_logs_one_error_and_the_caller_carries_on(
    tmp_path, clock, caplog
):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the directory should be")
    audit = AuditLog(blocker / "audit.jsonl", clock)
    with caplog.at_level(logging.ERROR, logger="jobdash.services.audit_log"):
        for _ in range(5):
            audit.refused(VERA, "stop_job")
            audit.outcome(uuid.uuid4(), AuditOutcome.no_response)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "cannot write the audit log" in errors[0].getMessage()
    assert audit.dropped == 10
    assert audit.written == 0
    assert audit.last_error is not None


def test_writing_resumes_after_the_retry_interval_once_the_path_works(
    tmp_path, clock, caplog
):
    directory = tmp_path / "audit"
    directory.write_text("blocks the directory for now")
    audit = AuditLog(directory / "audit.jsonl", clock, retry_after=60)
    audit.refused(VERA, "stop_job")
    directory.unlink()
    clock.advance(59)
    audit.refused(VERA, "stop_job")  # not retried yet
    assert audit.dropped == 2
    clock.advance(1)
    with caplog.at_level(logging.WARNING, logger="jobdash.services.audit_log"):
        audit.refused(VERA, "reset_job")
    assert [line["action"] for line in lines(directory / "audit.jsonl")] == [
        "reset_job"
    ]
    assert "writable again; 2 line(s) were lost" in caplog.text
    assert audit.last_error is None


def test_concurrent_writers_never_interleave_lines(path, clock):
    audit = AuditLog(path, clock)
    per_thread = 200

    def write(name: str) -> None:
        actor = Actor(name, Role.operator)
        for i in range(per_thread):
            audit.command(actor, "stop_job", stop_command(), AuditOutcome.sent)
            audit.refused(actor, "reset_job", job=JobId(name * 20, uuid.UUID(int=i)))

    threads = [threading.Thread(target=write, args=(f"user{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = lines(path)
    # The shared message id is written once ("sent" deduplicated); every
    # refusal is its own line.
    assert len(records) == 1 + 8 * per_thread
    assert all(list(record) == KEYS for record in records)


def test_memo_stays_bounded(path, clock):
    audit = AuditLog(path, clock, memo_size=100)
    for i in range(1000):
        audit.command(ALICE, "stop_job", stop_command(i), AuditOutcome.sent)
    assert len(audit._memo) == 100


def test_invalid_limits_are_refused(path, clock):
    with pytest.raises(ValueError, match="max_bytes"):
        AuditLog(path, clock, max_bytes=0)
