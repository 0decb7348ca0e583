"""Who may act through JobOrchestrator, and the audit trail of what they did.

The check is on the server (docs/architecture.md, "Access and audit"): a
refused action raises before anything is tracked, sent, staged or persisted,
and leaves a ``refused`` line; every command an allowed action sends leaves a
``sent`` or ``send_failed`` line naming the user, the action, the workflow, the
job and the command's message id.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from jobdash.domain import JobId, JobState, JobStatus, WorkflowId
from jobdash.domain.access import (
    AccessPolicy,
    Actor,
    PermissionDeniedError,
    ReadOnlyError,
    Role,
)
from jobdash.domain.commands import (
    Acknowledgement,
    JobAction,
    JobCommand,
    WorkflowConfigCommand,
)
from jobdash.services.audit_log import AuditLog
from jobdash.services.command_tracker import PendingCommandTracker
from jobdash.services.config_store import ConfigStore
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.notifications import NotificationLog
from jobdash.services.workflow_state import SourceConfig
from jobdash.testing.sinks import RefusingSink

DETECTOR = WorkflowId("dream", "detector_view", 1)
UNCATALOGUED = WorkflowId("dream", "no_such_workflow", 1)
BANKS = (
    "mantle_detector",
    "endcap_backward_detector",
    "endcap_forward_detector",
    "high_resolution_detector",
)
MANTLE = BANKS[0]
ALICE = Actor("alice", Role.viewer)
OLGA = Actor("olga", Role.operator)
CONTEXT = ("user", "role", "action", "workflow", "job")


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


def audit_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def context(line: dict) -> tuple:
    return tuple(line[key] for key in CONTEXT)


def commit(orch: JobOrchestrator, *, actor: Actor = OLGA) -> uuid.UUID:
    """Stage every bank and commit, in one call: one audit line per start."""
    draft = dict.fromkeys(BANKS, SourceConfig())
    return orch.commit_workflow(DETECTOR, actor=actor, draft=draft)


def beat(orch, clock, number, source=MANTLE, state=JobState.active) -> None:
    orch.status_updated(
        JobStatus(JobId(source, number), DETECTOR, state, timestamp=clock.now_ns())
    )


# --- refusals -----------------------------------------------------------------------


VIEWER_ACTIONS = {
    "stage_config": (
        lambda orch, job: orch.stage_config(DETECTOR, MANTLE, {}, actor=ALICE),
        "stage configs",
    ),
    "unstage_config": (
        lambda orch, job: orch.unstage_config(DETECTOR, MANTLE, actor=ALICE),
        "stage configs",
    ),
    "clear_staged_configs": (
        lambda orch, job: orch.clear_staged_configs(DETECTOR, actor=ALICE),
        "stage configs",
    ),
    "commit_workflow": (
        lambda orch, job: orch.commit_workflow(DETECTOR, actor=ALICE),
        "commit workflows",
    ),
    "stop_workflow": (
        lambda orch, job: orch.stop_workflow(DETECTOR, actor=ALICE),
        "stop workflows",
    ),
    "reset_workflow": (
        lambda orch, job: orch.reset_workflow(DETECTOR, actor=ALICE),
        "reset workflows",
    ),
    "stop_job": (lambda orch, job: orch.stop_job(job, actor=ALICE), None),
}


@pytest.mark.parametrize("action", VIEWER_ACTIONS)
def test_a_viewer_is_refused_nothing_is_sent_or_changed_and_the_refusal_is_audited(
    make, clock, sink, tracker, audit_path, tmp_path, action
):
    store_path = tmp_path / "dream.json"
    orch = make(config_store=ConfigStore(store_path, clock=clock))
    number = commit(orch)
    beat(orch, clock, number)
    job = JobId(MANTLE, number)
    sink.clear()
    saved = store_path.read_bytes()
    version = orch.version
    state = orch.get_workflow_state(DETECTOR)
    lines_before = len(audit_lines(audit_path))
    pending = tracker.pending_count()

    act, phrase = VIEWER_ACTIONS[action]
    with pytest.raises(PermissionDeniedError) as info:
        act(orch, job)

    assert type(info.value) is PermissionDeniedError
    assert str(info.value) == f"viewer 'alice' may not {phrase or f'stop job {job}'}"
    assert (info.value.actor, info.value.action) == (ALICE, phrase or f"stop job {job}")
    assert sink.sent == []
    assert tracker.pending_count() == pending
    assert orch.version == version
    assert orch.get_workflow_state(DETECTOR) == state
    assert store_path.read_bytes() == saved
    (refusal,) = audit_lines(audit_path)[lines_before:]
    assert context(refusal) == (
        "alice",
        "viewer",
        action,
        str(DETECTOR),
        str(job) if action == "stop_job" else None,
    )
    assert (refusal["message_id"], refusal["outcome"]) == (None, "refused")


def test_a_viewer_is_refused_before_the_workflow_is_even_looked_up(make, audit_path):
    orch = make()
    with pytest.raises(PermissionDeniedError):
        orch.commit_workflow(UNCATALOGUED, actor=ALICE)
    (line,) = audit_lines(audit_path)
    assert (line["workflow"], line["outcome"]) == (str(UNCATALOGUED), "refused")


def test_a_refused_stop_of_an_untracked_job_is_audited_without_a_workflow(
    make, sink, audit_path
):
    job = JobId(MANTLE, uuid.UUID(int=7))
    with pytest.raises(PermissionDeniedError):
        make().stop_job(job, actor=ALICE)
    assert sink.sent == []
    (line,) = audit_lines(audit_path)
    assert context(line) == ("alice", "viewer", "stop_job", None, str(job))


def test_the_policy_decides_who_is_an_operator(make, sink):
    policy = AccessPolicy(operators=["olga"])
    orch = make(policy=policy)
    commit(orch, actor=policy.actor_for("olga"))
    assert len(sink.sent) == len(BANKS)
    with pytest.raises(PermissionDeniedError, match="viewer 'bob'"):
        orch.stop_workflow(DETECTOR, actor=policy.actor_for("bob"))
    assert len(sink.sent) == len(BANKS)


READ_ONLY_ACTIONS = [
    lambda orch, actor, job: orch.stage_config(DETECTOR, MANTLE, {}, actor=actor),
    lambda orch, actor, job: orch.unstage_config(DETECTOR, MANTLE, actor=actor),
    lambda orch, actor, job: orch.clear_staged_configs(DETECTOR, actor=actor),
    lambda orch, actor, job: orch.commit_workflow(DETECTOR, actor=actor),
    lambda orch, actor, job: orch.stop_workflow(DETECTOR, actor=actor),
    lambda orch, actor, job: orch.reset_workflow(DETECTOR, actor=actor),
    lambda orch, actor, job: orch.stop_job(job, actor=actor),
]


@pytest.mark.parametrize("actor", [OLGA, ALICE], ids=lambda a: a.name)
def test_a_read_only_policy_refuses_everyone(make, clock, sink, audit_path, actor):
    writer = make()
    number = commit(writer)
    sink.clear()
    orch = make(policy=AccessPolicy(read_only=True))
    beat(orch, clock, number)  # watching still works
    version = orch.version
    for act in READ_ONLY_ACTIONS:
        with pytest.raises(ReadOnlyError, match=f"read-only dashboard: '{actor.name}'"):
            act(orch, actor, JobId(MANTLE, number))
    assert sink.sent == []
    assert orch.version == version
    refusals = audit_lines(audit_path)[len(BANKS) :]
    assert [line["outcome"] for line in refusals] == ["refused"] * len(
        READ_ONLY_ACTIONS
    )
    assert {line["user"] for line in refusals} == {actor.name}


# --- audit of what was sent ----------------------------------------------------------


def test_staging_is_audited_as_done_without_a_message_id(make, sink, audit_path):
    orch = make()
    orch.stage_config(DETECTOR, MANTLE, {}, actor=OLGA)
    orch.unstage_config(DETECTOR, MANTLE, actor=OLGA)
    orch.stage_config(DETECTOR, MANTLE, {}, actor=OLGA)
    orch.clear_staged_configs(DETECTOR, actor=OLGA)
    lines = audit_lines(audit_path)
    assert [(line["action"], line["outcome"]) for line in lines] == [
        ("stage_config", "done"),
        ("unstage_config", "done"),
        ("stage_config", "done"),
        ("clear_staged_configs", "done"),
    ]
    assert {(line["user"], line["workflow"], line["message_id"]) for line in lines} == {
        ("olga", str(DETECTOR), None)
    }
    assert sink.sent == []


def test_a_commit_audits_each_stop_of_the_running_set_and_each_start(
    make, clock, sink, audit_path
):
    orch = make()
    first = commit(orch)
    beat(orch, clock, first, MANTLE, JobState.stopped)  # gets no stop
    sink.clear()
    second = orch.commit_workflow(DETECTOR, actor=OLGA)

    lines = audit_lines(audit_path)[len(BANKS) :]
    assert [line["message_id"] for line in lines] == [
        str(c.message_id) for c in sink.sent
    ]
    stops = [c for c in sink.sent if isinstance(c, JobCommand)]
    starts = [c for c in sink.sent if isinstance(c, WorkflowConfigCommand)]
    assert [c.action for c in stops] == [JobAction.stop] * 3
    assert len(starts) == len(BANKS)
    expected = [
        ("olga", "operator", "commit_workflow", str(DETECTOR), str(JobId(s, first)))
        for s in BANKS[1:]
    ] + [
        ("olga", "operator", "commit_workflow", str(DETECTOR), str(JobId(s, second)))
        for s in BANKS
    ]
    assert [context(line) for line in lines] == expected
    assert {line["outcome"] for line in lines} == {"sent"}


@pytest.mark.parametrize(
    ("action", "call"),
    [
        ("stop_workflow", lambda orch, job: orch.stop_workflow(DETECTOR, actor=OLGA)),
        ("reset_workflow", lambda orch, job: orch.reset_workflow(DETECTOR, actor=OLGA)),
        ("stop_job", lambda orch, job: orch.stop_job(job, actor=OLGA)),
    ],
)
def test_an_operators_commands_are_audited_with_user_action_workflow_job_and_id(
    make, sink, audit_path, action, call
):
    orch = make()
    number = commit(orch)
    sink.clear()
    call(orch, JobId(MANTLE, number))

    sent = sink.sent
    assert len(sent) == (1 if action == "stop_job" else len(BANKS))
    lines = audit_lines(audit_path)[len(BANKS) :]
    assert [(line["message_id"], line["outcome"]) for line in lines] == [
        (str(command.message_id), "sent") for command in sent
    ]
    assert [context(line) for line in lines] == [
        (
            "olga",
            "operator",
            action,
            str(DETECTOR),
            str(command.job_id.to_domain()),
        )
        for command in sent
    ]


ACTIONS_WITHOUT_ACTOR = [
    lambda orch, job: orch.stage_config(DETECTOR, MANTLE, {}),
    lambda orch, job: orch.unstage_config(DETECTOR, MANTLE),
    lambda orch, job: orch.clear_staged_configs(DETECTOR),
    lambda orch, job: orch.commit_workflow(DETECTOR),
    lambda orch, job: orch.stop_workflow(DETECTOR),
    lambda orch, job: orch.reset_workflow(DETECTOR),
    lambda orch, job: orch.stop_job(job),
]


@pytest.mark.parametrize("act", ACTIONS_WITHOUT_ACTOR)
def test_an_action_without_an_actor_is_refused_before_anything_happens(
    make, clock, sink, audit_path, act
):
    # Fail closed: there is no default actor (there was an operator "system"
    # one, so an unnamed call acted with full rights).
    orch = make()
    number = commit(orch)
    beat(orch, clock, number)
    sink.clear()
    lines, version = len(audit_lines(audit_path)), orch.version
    with pytest.raises(TypeError, match="actor"):
        act(orch, JobId(MANTLE, number))
    assert sink.sent == []
    assert orch.version == version
    assert len(audit_lines(audit_path)) == lines


def test_a_send_failure_is_audited_once_as_send_failed(make, notifications, audit_path):
    sink = RefusingSink("endcap_forward_detector")
    orch = make(sink=sink)
    number = commit(orch)

    lines = audit_lines(audit_path)
    assert len(lines) == len(BANKS)  # the tracker's duplicate line was skipped
    failed = [line for line in lines if line["outcome"] != "sent"]
    (line,) = failed
    assert line["outcome"] == "send_failed: broker unreachable"
    assert context(line) == (
        "olga",
        "operator",
        "commit_workflow",
        str(DETECTOR),
        str(JobId("endcap_forward_detector", number)),
    )
    assert line["message_id"] is not None
    assert len(sink.sent) == len(BANKS) - 1  # the others still went
    assert [n.text for n in notifications.since(0)] == [
        "Could not send Start of endcap_forward_detector: broker unreachable"
    ]


def test_the_backend_answer_is_audited_on_a_line_with_the_same_message_id(
    make, sink, tracker, audit_path
):
    orch = make()
    number = commit(orch)
    sink.clear()
    orch.stop_job(JobId(MANTLE, number), actor=OLGA)
    (command,) = sink.sent
    tracker.ack_received(
        Acknowledgement(
            message_id=command.message_id,
            device=str(JobId(MANTLE, number)),
            response="ACK",
        )
    )
    sent, answered = audit_lines(audit_path)[-2:]
    assert sent["message_id"] == answered["message_id"] == str(command.message_id)
    assert (sent["outcome"], answered["outcome"]) == ("sent", "acknowledged")
    assert context(answered) == context(sent)
