from __future__ import annotations

import json
import uuid

import pytest

from jobdash.domain import JobId, ManualClock, WorkflowId
from jobdash.domain.access import (
    AccessPolicy,
    Actor,
    PermissionDeniedError,
    ReadOnlyError,
    Role,
)
from jobdash.domain.command_sink import CommandSendError
from jobdash.domain.commands import (
    Acknowledgement,
    Command,
    JobAction,
    JobCommand,
    JobIdentifier,
    WorkflowIdentifier,
)
from jobdash.services.action_guard import ActionRefusedError
from jobdash.services.audit_log import AuditLog
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.command_tracker import PendingCommandTracker
from jobdash.services.job_controller import JobController
from jobdash.services.notifications import NotificationLog
from jobdash.testing.actors import OPERATOR
from jobdash.transport.in_memory_sink import InMemoryCommandSink

JOB = JobId("mantle_detector", uuid.UUID(int=3))
WORKFLOW = WorkflowId("dream", "detector_view", 1)


class FailingSink:
    def send(self, command: Command) -> None:
        raise CommandSendError("broker unreachable")


class AnsweringSink:
    """Answers inside send(), before the caller regains control."""

    def __init__(self, tracker: PendingCommandTracker) -> None:
        self._tracker = tracker

    def send(self, command: Command) -> None:
        self._tracker.ack_received(
            Acknowledgement(message_id=command.message_id, device="x", response="ACK")
        )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def log(clock: ManualClock) -> NotificationLog:
    return NotificationLog(clock)


@pytest.fixture
def tracker(clock: ManualClock, log: NotificationLog) -> PendingCommandTracker:
    return PendingCommandTracker(clock, log)


@pytest.fixture
def sink() -> InMemoryCommandSink:
    return InMemoryCommandSink()


def texts(log: NotificationLog) -> list[tuple[str, str]]:
    return [(n.level.value, n.text) for n in log.since(0)]


@pytest.mark.parametrize(
    ("action", "method"), [(JobAction.stop, "stop_job"), (JobAction.reset, "reset_job")]
)
def test_each_action_sends_one_job_command_for_the_job(sink, action, method):
    controller = JobController(CommandDispatcher(sink))
    assert getattr(controller, method)(JOB, actor=OPERATOR) is True
    (command,) = sink.sent
    assert isinstance(command, JobCommand)
    assert command.action is action
    assert command.job_id == JobIdentifier.from_domain(JOB)
    assert command.workflow_id is None


def test_the_workflow_id_is_sent_when_known(sink):
    JobController(CommandDispatcher(sink)).stop_job(JOB, WORKFLOW, actor=OPERATOR)
    assert sink.sent[0].workflow_id == WorkflowIdentifier.from_domain(WORKFLOW)


@pytest.mark.parametrize(
    ("method", "summary"),
    [
        ("stop_job", "Stopped 1/1 job for mantle_detector"),
        ("reset_job", "Reset 1/1 job for mantle_detector"),
    ],
)
def test_actions_are_tracked_for_feedback(sink, tracker, log, method, summary):
    getattr(JobController(CommandDispatcher(sink, tracker=tracker)), method)(
        JOB, actor=OPERATOR
    )
    assert tracker.pending_count() == 1
    tracker.ack_received(
        Acknowledgement(
            message_id=sink.sent[0].message_id, device=str(JOB), response="ACK"
        )
    )
    assert texts(log) == [("success", summary)]


def test_silence_is_reported_after_the_timeout(sink, tracker, log, clock):
    JobController(CommandDispatcher(sink, tracker=tracker)).stop_job(
        JOB, actor=OPERATOR
    )
    clock.advance(30)
    tracker.tick()
    assert texts(log) == [
        ("warning", "No response after 30 s to Stop of mantle_detector")
    ]


def test_an_answer_during_send_is_not_missed(tracker, log):
    controller = JobController(
        CommandDispatcher(AnsweringSink(tracker), tracker=tracker)
    )
    assert controller.stop_job(JOB, actor=OPERATOR)
    assert texts(log) == [("success", "Stopped 1/1 job for mantle_detector")]
    assert tracker.ignored_acks == 0


@pytest.mark.parametrize("method", ["stop_job", "reset_job"])
def test_read_only_controller_refuses_and_sends_nothing(sink, tracker, method):
    controller = JobController(
        CommandDispatcher(sink, tracker=tracker, policy=AccessPolicy(read_only=True))
    )
    with pytest.raises(ReadOnlyError, match="read-only"):
        getattr(controller, method)(JOB, actor=OPERATOR)
    assert sink.sent == []
    assert tracker.outstanding() == []


def test_read_only_error_is_a_permission_error():
    assert issubclass(ReadOnlyError, PermissionError)


def test_send_failure_is_reported_and_returns_false(tracker, log):
    controller = JobController(CommandDispatcher(FailingSink(), tracker=tracker))
    assert controller.stop_job(JOB, actor=OPERATOR) is False
    assert texts(log) == [
        ("error", "Could not send Stop of mantle_detector: broker unreachable")
    ]
    assert tracker.outstanding() == []


def test_send_failure_without_tracker_is_logged(caplog):
    controller = JobController(CommandDispatcher(FailingSink()))
    assert controller.reset_job(JOB, actor=OPERATOR) is False
    assert "could not send reset of mantle_detector" in caplog.text


# --- access and audit -------------------------------------------------------------

ALICE = Actor("alice", Role.viewer)
OLGA = Actor("olga", Role.operator)


@pytest.fixture
def audit_path(tmp_path):
    return tmp_path / "audit.jsonl"


@pytest.fixture
def audit(audit_path, clock) -> AuditLog:
    return AuditLog(audit_path, clock)


def audit_lines(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("method", ["stop_job", "reset_job"])
def test_a_viewer_is_refused_audited_and_nothing_is_sent(
    sink, tracker, audit, audit_path, method
):
    controller = JobController(CommandDispatcher(sink, tracker=tracker, audit=audit))
    with pytest.raises(PermissionDeniedError) as info:
        getattr(controller, method)(JOB, WORKFLOW, actor=ALICE)
    action = method.removesuffix("_job")
    assert str(info.value) == f"viewer 'alice' may not {action} job {JOB}"
    assert sink.sent == []
    assert tracker.outstanding() == []
    (line,) = audit_lines(audit_path)
    assert {k: line[k] for k in ("user", "role", "action", "workflow", "job")} == {
        "user": "alice",
        "role": "viewer",
        "action": method,
        "workflow": str(WORKFLOW),
        "job": str(JOB),
    }
    assert (line["message_id"], line["outcome"]) == (None, "refused")


def test_the_policy_decides_who_is_an_operator(sink):
    policy = AccessPolicy(operators=frozenset({"olga"}))
    controller = JobController(CommandDispatcher(sink, policy=policy))
    assert controller.stop_job(JOB, actor=policy.actor_for("olga")) is True
    with pytest.raises(PermissionDeniedError):
        controller.stop_job(JOB, actor=policy.actor_for("alice"))
    assert len(sink.sent) == 1


def test_a_read_only_policy_refuses_operators_too(sink, audit, audit_path):
    controller = JobController(
        CommandDispatcher(sink, policy=AccessPolicy(read_only=True), audit=audit)
    )
    with pytest.raises(ReadOnlyError, match="read-only"):
        controller.stop_job(JOB, actor=OLGA)
    assert sink.sent == []
    assert audit_lines(audit_path)[0]["outcome"] == "refused"


def test_a_sent_command_is_audited_with_its_message_id(sink, audit, audit_path):
    JobController(CommandDispatcher(sink, audit=audit)).stop_job(
        JOB, WORKFLOW, actor=OLGA
    )
    (line,) = audit_lines(audit_path)
    assert line["message_id"] == str(sink.sent[0].message_id)
    assert (line["user"], line["role"], line["action"], line["outcome"]) == (
        "olga",
        "operator",
        "stop_job",
        "sent",
    )
    assert line["workflow"] == str(WORKFLOW)


@pytest.mark.parametrize("method", ["stop_job", "reset_job"])
def test_an_action_without_an_actor_is_refused_before_anything_happens(
    sink, audit, audit_path, method
):
    # Fail closed: there is no default actor (there was an operator "system"
    # one, so an unnamed call acted with full rights).
    controller = JobController(CommandDispatcher(sink, audit=audit))
    with pytest.raises(TypeError, match="actor"):
        getattr(controller, method)(JOB)
    assert sink.sent == []
    assert audit_lines(audit_path) == []


def test_a_send_failure_is_audited_once_though_the_tracker_also_hears_of_it(
    clock, log, audit, audit_path
):
    tracker = PendingCommandTracker(clock, log, audit=audit)
    controller = JobController(
        CommandDispatcher(FailingSink(), tracker=tracker, audit=audit)
    )
    assert controller.stop_job(JOB, actor=OLGA) is False
    (line,) = audit_lines(audit_path)
    assert line["outcome"] == "send_failed: broker unreachable"
    assert line["user"] == "olga"


def test_the_backend_answer_follows_on_a_line_with_the_same_message_id(
    clock, log, sink, audit, audit_path
):
    tracker = PendingCommandTracker(clock, log, audit=audit)
    JobController(CommandDispatcher(sink, tracker=tracker, audit=audit)).stop_job(
        JOB, actor=OLGA
    )
    message_id = sink.sent[0].message_id
    tracker.ack_received(
        Acknowledgement(message_id=message_id, device=str(JOB), response="ACK")
    )
    sent, acked = audit_lines(audit_path)
    assert sent["message_id"] == acked["message_id"] == str(message_id)
    assert (acked["outcome"], acked["user"], acked["action"]) == (
        "acknowledged",
        "olga",
        "stop_job",
    )


# --- pause and resume (several jobs, where a worker accepts the action) ----------

ENDCAP = JobId("endcap_backward_detector", uuid.UUID(int=3))
MONITOR = JobId("monitor_1", uuid.UUID(int=4))


class Support:
    """What the workers accept: ``sources`` for every action in ``actions``."""

    def __init__(self, sources=(), actions=("pause", "resume")) -> None:
        self.sources = frozenset(sources)
        self.actions = frozenset(actions)

    def sources_supporting(self, action: str) -> frozenset[str]:
        return self.sources if action in self.actions else frozenset()


def supported(sink, *sources, **options) -> JobController:
    return JobController(CommandDispatcher(sink, support=Support(sources), **options))


@pytest.mark.parametrize(
    ("method", "action"), [("pause", JobAction.pause), ("resume", JobAction.resume)]
)
def test_pause_and_resume_send_one_command_per_job_with_its_workflow(
    sink, method, action
):
    controller = supported(sink, JOB.source_name, ENDCAP.source_name)
    sent = getattr(controller, method)(
        [JOB, ENDCAP, JOB], actor=OPERATOR, workflow_ids={JOB: WORKFLOW}
    )
    assert sent == 2
    assert [(c.action, c.job_id) for c in sink.sent] == [
        (action, JobIdentifier.from_domain(JOB)),
        (action, JobIdentifier.from_domain(ENDCAP)),
    ]
    assert sink.sent[0].workflow_id == WorkflowIdentifier.from_domain(WORKFLOW)
    assert sink.sent[1].workflow_id is None


def test_a_pause_of_several_jobs_is_one_tracked_group(sink, tracker, log):
    controller = supported(sink, JOB.source_name, ENDCAP.source_name, tracker=tracker)
    controller.pause([JOB, ENDCAP], actor=OPERATOR)
    for command in sink.sent:
        tracker.ack_received(
            Acknowledgement(message_id=command.message_id, device="x", response="ACK")
        )
    assert texts(log) == [
        ("success", "Paused 2/2 jobs for endcap_backward_detector, mantle_detector")
    ]


def test_only_jobs_whose_worker_accepts_pause_are_paused(sink):
    controller = supported(sink, JOB.source_name)
    assert controller.pause([JOB, MONITOR], actor=OPERATOR) == 1
    assert [c.job_id for c in sink.sent] == [JobIdentifier.from_domain(JOB)]


def test_a_pause_no_worker_accepts_is_refused_and_audited(sink, audit, audit_path):
    controller = JobController(
        CommandDispatcher(sink, audit=audit, support=Support([JOB.source_name], []))
    )
    with pytest.raises(ActionRefusedError, match="Pause is not supported"):
        controller.pause([JOB], actor=OLGA, workflow_ids={JOB: WORKFLOW})
    assert sink.sent == []
    (line,) = audit_lines(audit_path)
    assert (line["action"], line["workflow"]) == ("pause_job", str(WORKFLOW))
    assert line["outcome"].startswith("refused: Pause is not supported")
    assert JOB.source_name in line["outcome"]


@pytest.mark.parametrize("method", ["pause", "resume"])
def test_a_viewer_cannot_pause_or_resume_a_job(sink, audit, audit_path, method):
    controller = JobController(
        CommandDispatcher(sink, audit=audit, support=Support([JOB.source_name]))
    )
    with pytest.raises(PermissionDeniedError, match=f"may not {method} jobs"):
        getattr(controller, method)([JOB], actor=ALICE)
    assert sink.sent == []
    (line,) = audit_lines(audit_path)
    assert (line["action"], line["outcome"]) == (f"{method}_job", "refused")


def test_pausing_no_jobs_sends_nothing(sink):
    assert supported(sink).pause([], actor=OPERATOR) == 0
    assert sink.sent == []
