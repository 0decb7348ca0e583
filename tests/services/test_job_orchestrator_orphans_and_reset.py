"""Commit stops the orphans the operator chose; a workflow without reset refuses one.

Both on the server, through the one command path: the orphan stops of a
commit are sent, tracked and audited in the commit's locked step, and a
reset of a ``supports_reset: false`` workflow is refused and audited before
anything is sent. Orphans this dashboard started are told apart from
foreign ones (``WorkflowSnapshot.orphans_started_here``), across a restart.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from jobdash.domain import JobId, JobState, JobStatus, WorkflowId
from jobdash.domain.access import AccessPolicy, ReadOnlyError
from jobdash.domain.commands import (
    Acknowledgement,
    JobAction,
    JobCommand,
    WorkflowConfigCommand,
)
from jobdash.services.action_guard import ActionRefusedError
from jobdash.services.audit_log import AuditLog
from jobdash.services.command_tracker import PendingCommandTracker
from jobdash.services.config_store import ConfigStore
from jobdash.services.notifications import NotificationLog
from jobdash.services.workflow_state import MAX_COMMITS_REMEMBERED
from jobdash.testing.actors import OPERATOR

DETECTOR = WorkflowId("dream", "detector_view", 1)
RATES = WorkflowId("dream", "event_rate", 1)
MANTLE, BACKWARD = "mantle_detector", "endcap_backward_detector"
SECOND = 1_000_000_000


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
def orch(make):
    return make()


def audit_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def beat(orch, clock, source, number, state=JobState.active, workflow=DETECTOR):
    orch.status_updated(
        JobStatus(
            JobId(source, number),
            workflow,
            state,
            start_time=clock.now_ns(),
            timestamp=clock.now_ns(),
        )
    )


def commit(orch, workflow=DETECTOR, sources=(MANTLE, BACKWARD), **kwargs):
    orch.clear_staged_configs(workflow, actor=OPERATOR)
    for source in sources:
        orch.stage_config(workflow, source, {}, actor=OPERATOR)
    return orch.commit_workflow(workflow, actor=OPERATOR, **kwargs)


def own_orphan(orch, clock):
    """A JobSet this dashboard committed, still running after two recommits."""
    first = commit(orch)
    beat(orch, clock, MANTLE, first)
    beat(orch, clock, BACKWARD, first)
    commit(orch)  # first winds down (its stop is lagging) ...
    commit(orch)  # ... and is now an orphan
    return first


def stops(sink) -> list[JobId]:
    return [
        c.job_id.to_domain()
        for c in sink.sent
        if isinstance(c, JobCommand) and c.action is JobAction.stop
    ]


# --- orphans started here --------------------------------------------------------


def test_an_orphan_this_dashboard_committed_is_known_as_started_here(orch, clock):
    first = own_orphan(orch, clock)
    foreign = uuid.uuid4()
    beat(orch, clock, MANTLE, foreign)

    snapshot = orch.snapshot(DETECTOR)

    assert set(snapshot.orphans) == {
        JobId(MANTLE, first),
        JobId(BACKWARD, first),
        JobId(MANTLE, foreign),
    }
    assert snapshot.orphans_started_here == frozenset({first})
    assert snapshot.started_here(JobId(MANTLE, first))
    assert not snapshot.started_here(JobId(MANTLE, foreign))


def test_a_restarted_dashboard_still_knows_the_orphans_it_started(
    make, clock, tmp_path
):
    store = tmp_path / "dream.json"
    orch = make(config_store=ConfigStore(store))
    first = own_orphan(orch, clock)

    restarted = make(config_store=ConfigStore(store))
    beat(restarted, clock, MANTLE, uuid.uuid4())  # someone else's, adopted first
    beat(restarted, clock, MANTLE, first)

    snapshot = restarted.snapshot(DETECTOR)
    assert JobId(MANTLE, first) in snapshot.orphans
    assert snapshot.orphans_started_here == frozenset({first})


def test_the_memory_of_commits_is_bounded(orch):
    numbers = [commit(orch) for _ in range(MAX_COMMITS_REMEMBERED + 3)]

    remembered = orch.get_workflow_state(DETECTOR).committed_here

    assert list(remembered) == numbers[3:]


# --- stopping orphans with a commit ----------------------------------------------------


def test_a_commit_stops_the_orphans_chosen_and_only_those(orch, clock, sink):
    own = own_orphan(orch, clock)
    foreign = uuid.uuid4()
    beat(orch, clock, MANTLE, foreign)
    sink.clear()

    new = commit(orch, stop_orphans=[JobId(MANTLE, own), JobId(BACKWARD, own)])

    assert set(stops(sink)) >= {JobId(MANTLE, own), JobId(BACKWARD, own)}
    assert JobId(MANTLE, foreign) not in stops(sink)
    state = orch.get_workflow_state(DETECTOR)
    assert state.orphans[own].stop_requested
    assert not state.orphans[foreign].stop_requested
    assert state.current.job_number == new
    # The stops come before the starts, in one step.
    kinds = [type(c) for c in sink.sent]
    assert kinds.index(WorkflowConfigCommand) > max(
        i for i, kind in enumerate(kinds) if kind is JobCommand
    )


def test_orphans_gone_or_stopped_by_the_time_of_the_commit_get_nothing(
    orch, clock, sink
):
    own = own_orphan(orch, clock)
    beat(orch, clock, MANTLE, own, JobState.stopped)  # it stopped meanwhile
    sink.clear()

    commit(orch, stop_orphans=[JobId(MANTLE, own), JobId(MANTLE, uuid.uuid4())])

    assert [j for j in stops(sink) if j.job_number == own] == []


def test_orphan_stops_are_tracked_apart_and_audited_under_the_commit(
    orch, clock, sink, tracker, notifications, audit_path
):
    own = own_orphan(orch, clock)
    sink.clear()

    commit(orch, stop_orphans=[JobId(MANTLE, own), JobId(BACKWARD, own)])
    for command in sink.sent:
        tracker.ack_received(
            Acknowledgement(message_id=command.message_id, device="x", response="ACK")
        )

    texts = [note.text for note in notifications.recent(10)]
    assert "Stopped 2/2 jobs for orphans of Detector view" in texts
    assert "Started 2/2 jobs for Detector view" in texts
    orphan_lines = [
        line
        for line in audit_lines(audit_path)
        if line["job"] in {str(JobId(MANTLE, own)), str(JobId(BACKWARD, own))}
        and line["outcome"] == "sent"
    ]
    assert [line["action"] for line in orphan_lines][-2:] == ["commit_workflow"] * 2
    assert {line["user"] for line in orphan_lines} == {OPERATOR.name}


def test_orphan_stops_are_re_sent_like_every_other_stop(make, clock, sink):
    orch = make(stop_retry_interval=10.0)
    own = own_orphan(orch, clock)
    commit(orch, stop_orphans=[JobId(MANTLE, own)])
    beat(orch, clock, MANTLE, own)  # still running
    sink.clear()

    clock.advance(11)
    beat(orch, clock, MANTLE, own)
    orch.tick()

    assert JobId(MANTLE, own) in stops(sink)


def test_a_viewer_stops_no_orphan(make, clock, sink):
    orch = make()
    own = own_orphan(orch, clock)
    sink.clear()
    read_only = make(policy=AccessPolicy(read_only=True))

    with pytest.raises(ReadOnlyError):
        read_only.commit_workflow(
            DETECTOR, actor=OPERATOR, stop_orphans=[JobId(MANTLE, own)]
        )
    assert sink.sent == []


# --- reset ----------------------------------------------------------------------------


def test_a_workflow_without_reset_refuses_one_audited_and_sends_nothing(
    orch, clock, sink, audit_path
):
    number = commit(orch, RATES, sources=("mantle_detector",))
    beat(orch, clock, "mantle_detector", number, workflow=RATES)
    sink.clear()

    with pytest.raises(ActionRefusedError) as refused:
        orch.reset_workflow(RATES, actor=OPERATOR)

    assert str(refused.value) == (
        "Event rates cannot be reset: "
        "A reset of a time-series workflow duplicates its points."
    )
    assert sink.sent == []
    last = audit_lines(audit_path)[-1]
    assert (last["action"], last["workflow"], last["user"]) == (
        "reset_workflow",
        str(RATES),
        OPERATOR.name,
    )
    assert last["outcome"] == (
        "refused: Event rates cannot be reset: "
        "A reset of a time-series workflow duplicates its points."
    )


def test_a_workflow_with_reset_still_resets(orch, clock, sink):
    number = commit(orch)
    beat(orch, clock, MANTLE, number)
    sink.clear()

    assert orch.reset_workflow(DETECTOR, actor=OPERATOR) == 2
