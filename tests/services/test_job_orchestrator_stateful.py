"""Stateful property test of ``JobOrchestrator``: any sequence of actions,
heartbeats, clock advances and ticks keeps its invariants.

Hypothesis drives operators (stage, commit, stop, reset, stop an orphan) and
backends (heartbeats of current and previous jobs, late, duplicated and
reordered ones, heartbeats of jobs and workflows nobody committed) against a
manual clock, and after every step checks:

- the aggregate of every workflow equals ``aggregate_status`` recomputed from
  its snapshot's current jobs, with staleness recomputed from the clock
  (docs/decisions/0002-card-open-questions.md), and equals ``get_workflow_status``;
- current, previous and orphan JobSets have distinct job numbers; after a
  tick, a previous JobSet whose jobs are all stopped or stale is gone, and so
  are orphans silent for longer than ``forget_after``;
- the JobId index covers exactly the jobs of current, previous and orphan
  JobSets, each entry pointing at its own JobSet and job;
- nothing grows without bound: every internal map stays within a small
  multiple of the catalogue's size;
- an older heartbeat never overwrites a newer one of the same job; versions
  never go back.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from jobdash.catalogue_file import shipped_catalogue
from jobdash.domain import JobId, JobState, JobStatus, ManualClock, WorkflowId
from jobdash.domain.commands import JobAction, JobCommand, WorkflowConfigCommand
from jobdash.domain.workflow_status import JobCondition, aggregate_status
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.job_index import FINISHED_CAPACITY
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.snapshots import JobSnapshot, WorkflowSnapshot
from jobdash.services.workflow_state import MAX_ORPHAN_SETS
from jobdash.testing.actors import OPERATOR
from jobdash.transport.in_memory_sink import InMemoryCommandSink

pytestmark = pytest.mark.slow

CATALOGUE = shipped_catalogue("dream")
DETECTOR = WorkflowId("dream", "detector_view", 1)
MONITORS = WorkflowId("dream", "monitor_histogram", 1)
WORKFLOWS = (DETECTOR, MONITORS)
UNCATALOGUED = WorkflowId("dream", "no_such_workflow", 1)
STALE_AFTER = 6.0
FORGET_AFTER = 60.0
SECOND = 1_000_000_000
# Job numbers that backends run without this dashboard having committed them.
FOREIGN = {
    workflow: [uuid.UUID(int=(i + 1) << 64 | n) for n in range(3)]
    for i, workflow in enumerate(WORKFLOWS)
}
STRANGER = "source_not_in_catalogue"
STATES = list(JobState)
MESSAGES = [None, None, "slow", "queue filling up"]


def sources_of(workflow: WorkflowId) -> list[str]:
    return list(CATALOGUE[workflow].source_names)


def snapshot_jobs(snapshot: WorkflowSnapshot) -> list[JobSnapshot]:
    jobs = list(snapshot.orphan_jobs)
    for job_set in (snapshot.current, snapshot.previous):
        if job_set is not None:
            jobs += job_set.jobs
    return jobs


class JobOrchestratorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.sink = InMemoryCommandSink()
        numbers = (uuid.UUID(int=n) for n in itertools.count(1))
        self.orch = JobOrchestrator(
            CATALOGUE,
            CommandDispatcher(self.sink),
            self.clock,
            stale_after=STALE_AFTER,
            forget_after=FORGET_AFTER,
            new_job_number=lambda: next(numbers),
        )
        self.sequence = 0
        # Every heartbeat delivered, per job, in delivery order.
        self.delivered: dict[JobId, list[JobStatus]] = {}
        self.version = self.orch.version
        self.workflow_versions = dict.fromkeys(CATALOGUE.workflow_ids, 0)

    # --- helpers -----------------------------------------------------------

    def next_timestamp(self) -> int:
        self.sequence += 1
        return self.clock.now_ns() + self.sequence

    def status(
        self,
        job_id: JobId,
        workflow: WorkflowId,
        state: JobState,
        message: str | None,
        *,
        start: int | None = None,
        timestamp: int | None = None,
    ) -> JobStatus:
        return JobStatus(
            job_id,
            workflow,
            state,
            error_message=message if state is JobState.error else None,
            warning_message=message if state is not JobState.error else None,
            start_time=start,
            timestamp=self.next_timestamp() if timestamp is None else timestamp,
        )

    def deliver(self, status: JobStatus) -> None:
        """Deliver ``status``, checking it never replaces a newer stored one."""
        before = self.stored(status.job_id)
        self.orch.status_updated(status)
        self.delivered.setdefault(status.job_id, []).append(status)
        after = self.stored(status.job_id)
        if (
            before is not None
            and before.status is not None
            and before.status.timestamp > status.timestamp
            and after is not None
        ):
            assert after.status == before.status, (
                f"an older heartbeat of {status.job_id} replaced a newer one"
            )

    def stored(self, job_id: JobId) -> JobSnapshot | None:
        for snapshot in self.orch.snapshots():
            for job in snapshot_jobs(snapshot):
                if job.job_id == job_id:
                    return job
        return None

    def tracked_jobs(self, data: st.DataObject, which: str) -> JobId | None:
        candidates = []
        for snapshot in self.orch.snapshots():
            job_set = getattr(snapshot, which)
            if job_set is not None:
                candidates += [(snapshot.workflow_id, job) for job in job_set.jobs]
        if not candidates:
            return None
        return data.draw(st.sampled_from(candidates))

    # --- operators ----------------------------------------------------------

    @initialize()
    def stage_something(self) -> None:
        self.orch.stage_config(DETECTOR, sources_of(DETECTOR)[0], {}, actor=OPERATOR)

    @rule(
        workflow=st.sampled_from(WORKFLOWS),
        picks=st.lists(st.integers(0, 5), min_size=1, max_size=3),
    )
    def stage(self, workflow: WorkflowId, picks: list[int]) -> None:
        sources = sources_of(workflow)
        for pick in picks:
            self.orch.stage_config(
                workflow, sources[pick % len(sources)], {}, actor=OPERATOR
            )

    @rule(workflow=st.sampled_from(WORKFLOWS))
    def clear_staged(self, workflow: WorkflowId) -> None:
        self.orch.clear_staged_configs(workflow, actor=OPERATOR)

    @rule(workflow=st.sampled_from(WORKFLOWS))
    def commit(self, workflow: WorkflowId) -> None:
        before = self.orch.get_workflow_state(workflow)
        version = self.orch.workflow_version(workflow)
        sent = len(self.sink.sent)
        if not before.staged_jobs:
            with pytest.raises(ValueError, match="nothing is staged"):
                self.orch.commit_workflow(workflow, actor=OPERATOR)
            return
        number = self.orch.commit_workflow(workflow, actor=OPERATOR)
        after = self.orch.get_workflow_state(workflow)
        assert after.current is not None
        assert after.current.job_number == number
        assert after.current.committed_at == self.clock.now_ns()
        assert list(after.current.jobs) == list(before.staged_jobs)
        assert list(after.staged_jobs) == list(before.staged_jobs)  # kept staged
        assert self.orch.workflow_version(workflow) > version
        commands = self.sink.sent[sent:]
        starts = [c for c in commands if isinstance(c, WorkflowConfigCommand)]
        stops = [c for c in commands if isinstance(c, JobCommand)]
        assert [c.job_id.source_name for c in starts] == list(before.staged_jobs)
        assert {c.job_id.job_number for c in starts} == {number}
        old = before.current
        running = (
            []
            if old is None
            else [s for s, j in old.jobs.items() if j.state is not JobState.stopped]
        )
        assert sorted(c.job_id.source_name for c in stops) == sorted(running)
        assert all(c.action is JobAction.stop for c in stops)

    @rule(workflow=st.sampled_from(WORKFLOWS))
    def stop(self, workflow: WorkflowId) -> None:
        self.orch.stop_workflow(workflow, actor=OPERATOR)
        state = self.orch.get_workflow_state(workflow)
        if state.current is not None:
            assert state.current.stop_requested

    @rule(workflow=st.sampled_from(WORKFLOWS))
    def reset(self, workflow: WorkflowId) -> None:
        self.orch.reset_workflow(workflow, actor=OPERATOR)

    @rule(data=st.data())
    def stop_an_orphan(self, data: st.DataObject) -> None:
        orphans = [j for s in self.orch.snapshots() for j in s.orphans]
        if orphans:
            self.orch.stop_job(data.draw(st.sampled_from(orphans)), actor=OPERATOR)

    # --- backends -------------------------------------------------------------

    @rule(
        data=st.data(),
        which=st.sampled_from(["current", "previous"]),
        state=st.sampled_from(STATES),
        message=st.sampled_from(MESSAGES),
    )
    def heartbeat_of_a_tracked_job(
        self, data: st.DataObject, which: str, state: JobState, message: str | None
    ) -> None:
        picked: Any = self.tracked_jobs(data, which)
        if picked is None:
            return
        workflow, job = picked
        current = self.orch.snapshot(workflow).current
        same_source = None if current is None else current.job(job.source_name)
        self.deliver(self.status(job.job_id, workflow, state, message))
        if which == "previous" and same_source is not None:
            # Matched on the full JobId: the current job of the same source
            # is untouched by its predecessor's heartbeat.
            assert same_source.job_id != job.job_id
            after = self.orch.snapshot(workflow).current
            assert after is not None
            now_current = after.job(job.source_name)
            assert now_current is not None
            assert now_current.status == same_source.status

    @rule(
        workflow=st.sampled_from(WORKFLOWS),
        number=st.integers(0, 2),
        source=st.integers(0, 6),
        state=st.sampled_from(STATES),
        start=st.sampled_from([None, 1, 2, 3]),
    )
    def heartbeat_of_a_job_nobody_committed(
        self, workflow: WorkflowId, number: int, source: int, state: JobState, start
    ) -> None:
        sources = [*sources_of(workflow), STRANGER]
        job_id = JobId(sources[source % len(sources)], FOREIGN[workflow][number])
        self.deliver(self.status(job_id, workflow, state, None, start=start))

    @rule(state=st.sampled_from(STATES))
    def heartbeat_of_an_uncatalogued_workflow(self, state: JobState) -> None:
        version = self.orch.version
        before = self.orch.counters()["unknown_workflow"]
        self.orch.status_updated(
            self.status(
                JobId("mantle_detector", uuid.UUID(int=99)), UNCATALOGUED, state, None
            )
        )
        assert self.orch.counters()["unknown_workflow"] == before + 1
        assert self.orch.version == version

    @precondition(lambda self: any(len(h) > 1 for h in self.delivered.values()))
    @rule(data=st.data())
    def late_heartbeat(self, data: st.DataObject) -> None:
        job_id = data.draw(
            st.sampled_from(
                sorted((j for j, h in self.delivered.items() if len(h) > 1), key=str)
            )
        )
        history = self.delivered[job_id]
        self.deliver(data.draw(st.sampled_from(history[:-1])))

    @precondition(lambda self: bool(self.delivered))
    @rule(data=st.data())
    def duplicated_heartbeat(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.delivered, key=str)))
        self.deliver(self.delivered[job_id][-1])

    @rule(
        data=st.data(),
        which=st.sampled_from(["current", "previous"]),
        first=st.sampled_from(STATES),
        second=st.sampled_from(STATES),
    )
    def reordered_heartbeats(
        self, data: st.DataObject, which: str, first: JobState, second: JobState
    ) -> None:
        picked: Any = self.tracked_jobs(data, which)
        if picked is None:
            return
        workflow, job = picked
        older = self.status(job.job_id, workflow, first, None)
        newer = self.status(job.job_id, workflow, second, None)
        self.deliver(newer)
        self.deliver(older)  # overtaken on the way

    # --- time -----------------------------------------------------------------

    @rule(seconds=st.sampled_from([0.25, 1.0, 3.0, 7.0, 30.0, 70.0]))
    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def tick(self) -> None:
        self.orch.tick()
        now = self.clock.now_ns()
        stale_ns, forget_ns = round(STALE_AFTER * SECOND), round(FORGET_AFTER * SECOND)
        for workflow in WORKFLOWS:
            state = self.orch.get_workflow_state(workflow)
            previous = state.previous
            if previous is not None:
                assert previous.retired_at is not None
                done = all(
                    (now - previous.retired_at > stale_ns)
                    if job.status is None
                    else job.state is JobState.stopped or job.is_stale(now, stale_ns)
                    for job in previous.jobs.values()
                )
                assert not done, f"{workflow}: a finished previous JobSet was kept"
            for orphan in state.orphans.values():
                assert orphan.jobs, "an empty orphan JobSet was kept"
                for job in orphan.jobs.values():
                    if job.last_seen is None:
                        assert orphan.retired_at is not None
                        assert now - orphan.retired_at <= stale_ns
                    else:
                        assert now - job.last_seen <= forget_ns
        with self.orch._lock:
            finished = list(self.orch._index.finished.values())
        assert all(now - dropped <= forget_ns for _, dropped in finished)

    # --- invariants ---------------------------------------------------------

    @invariant()
    def aggregate_is_recomputable_from_the_snapshot(self) -> None:
        now = self.clock.now_ns()
        stale_ns = round(STALE_AFTER * SECOND)
        for snapshot in self.orch.snapshots():
            for job in snapshot_jobs(snapshot):
                expected_stale = (
                    job.last_seen is not None
                    and now - job.last_seen > stale_ns
                    and job.state is not JobState.stopped
                )
                assert job.stale == expected_stale, job
            current = snapshot.current
            conditions = (
                []
                if current is None
                else [
                    JobCondition(
                        job.state,
                        job.stale,
                        job.status is not None and bool(job.status.warning_message),
                    )
                    for job in current.jobs
                ]
            )
            expected = aggregate_status(
                conditions,
                committed=current is not None,
                stop_requested=current is not None and current.stop_requested,
            )
            assert snapshot.aggregate == expected
            if current is not None:
                assert current.aggregate == expected
            assert self.orch.get_workflow_status(snapshot.workflow_id) == expected

    @invariant()
    def job_sets_have_distinct_job_numbers(self) -> None:
        for workflow in WORKFLOWS:
            state = self.orch.get_workflow_state(workflow)
            numbers = [s.job_number for s in (state.current, state.previous) if s]
            numbers += list(state.orphans)
            assert len(numbers) == len(set(numbers)), numbers
            assert all(n == s.job_number for n, s in state.orphans.items())
            if state.previous is not None:
                assert state.previous.stop_requested

    @invariant()
    def index_covers_exactly_current_previous_and_orphans(self) -> None:
        orch = self.orch
        with orch._lock:
            held = {}
            for workflow, state in orch._states.items():
                for job_set in (state.current, state.previous, *state.orphans.values()):
                    if job_set is None:
                        continue
                    for source, job in job_set.jobs.items():
                        held[JobId(source, job_set.job_number)] = (
                            workflow,
                            job_set,
                            job,
                        )
            assert held.keys() == orch._index.entries.keys()
            for job_id, (workflow, job_set, job) in orch._index.entries.items():
                expected = held[job_id]
                assert workflow == expected[0]
                assert job_set is expected[1]
                assert job is expected[2]
            assert orch._index.stale <= orch._index.entries.keys()

    @invariant()
    def nothing_grows_without_bound(self) -> None:
        orch = self.orch
        catalogue_size = len(CATALOGUE.workflow_ids)
        with orch._lock:
            assert orch._states.keys() == set(CATALOGUE.workflow_ids)
            assert orch._versions.keys() == set(CATALOGUE.workflow_ids)
            assert orch._dirty_workflows <= orch._states.keys()
            assert len(orch._persistence._persisted) <= catalogue_size
            assert len(orch._index.finished) <= FINISHED_CAPACITY
            for workflow, state in orch._states.items():
                assert len(state.orphans) <= MAX_ORPHAN_SETS
                slots = len(sources_of(workflow)) + 1 if workflow in WORKFLOWS else 0
                # Current, previous, and one set per job number a backend
                # runs that nobody here committed (or an outlived previous).
                sets = 2 + len(state.orphans)
                held = sum(
                    len(s.jobs)
                    for s in (state.current, state.previous, *state.orphans.values())
                    if s is not None
                )
                assert held <= slots * sets
                assert len(state.staged_jobs) <= len(sources_of(workflow))
            # Live orphans come only from the foreign job numbers and from
            # committed sets outlived by two commits, so with a bounded
            # number of backends the index stays a small multiple of the
            # catalogue's job slots.
            slots_total = sum(len(sources_of(w)) + 1 for w in WORKFLOWS)
            assert len(orch._index) <= slots_total * (2 + MAX_ORPHAN_SETS)

    @invariant()
    def versions_never_go_back(self) -> None:
        assert self.orch.version >= self.version
        self.version = self.orch.version
        for workflow in CATALOGUE.workflow_ids:
            version = self.orch.workflow_version(workflow)
            assert version >= self.workflow_versions[workflow]
            self.workflow_versions[workflow] = version


JobOrchestratorMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestJobOrchestratorStateful = JobOrchestratorMachine.TestCase
