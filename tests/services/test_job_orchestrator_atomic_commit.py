"""Stage-and-commit is one step: concurrent sessions cannot mix their drafts.

The workflow card used to clear the staged configs, stage each source, then
commit: three locked calls with a config-file write each. Two sessions
committing at once could interleave, so a commit started the other session's
sources or parameters. ``commit_workflow(..., draft=...)`` takes the lock once.
"""

from __future__ import annotations

import threading
import time

import pytest

from jobdash.catalogue_file import shipped_catalogue
from jobdash.domain.clock import ManualClock
from jobdash.domain.commands import Command, WorkflowConfigCommand
from jobdash.domain.ids import WorkflowId
from jobdash.domain.workflow_catalogue import ParameterError
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.config_store import ConfigStore
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.workflow_state import SourceConfig
from jobdash.testing.actors import OPERATOR
from jobdash.transport.in_memory_sink import InMemoryCommandSink

DETECTOR = WorkflowId("dream", "detector_view", 1)
MANTLE, BACKWARD, FORWARD, HIGH_RES = (
    "mantle_detector",
    "endcap_backward_detector",
    "endcap_forward_detector",
    "high_resolution_detector",
)


class YieldingSink(InMemoryCommandSink):
    """Gives the other thread a chance in the middle of every send."""

    def send(self, command: Command) -> None:
        time.sleep(0.0005)
        super().send(command)


@pytest.fixture
def sink() -> YieldingSink:
    return YieldingSink()


@pytest.fixture
def orch(sink, tmp_path) -> JobOrchestrator:
    clock = ManualClock()
    return JobOrchestrator(
        shipped_catalogue("dream"),
        CommandDispatcher(sink),
        clock,
        config_store=ConfigStore(tmp_path / "dream.json", clock=clock),
    )


def started_resolutions(sink) -> dict[object, dict[str, int]]:
    """Job number → the ``resolution`` each of its sources was started with."""
    started: dict[object, dict[str, int]] = {}
    for command in sink.sent:
        if isinstance(command, WorkflowConfigCommand):
            job = command.job_id
            resolution = command.params["resolution"]
            started.setdefault(job.job_number, {})[job.source_name] = resolution
    return started


def test_two_threads_committing_different_drafts_each_start_exactly_their_own(
    orch, sink
):
    drafts = {
        "left": {MANTLE: SourceConfig({"resolution": 64})},
        "right": {
            BACKWARD: SourceConfig({"resolution": 512}),
            FORWARD: SourceConfig({"resolution": 512}),
        },
    }
    commits: dict[str, list[object]] = {name: [] for name in drafts}
    errors: list[BaseException] = []
    start = threading.Barrier(len(drafts))

    def commit_repeatedly(name: str) -> None:
        try:
            start.wait()
            for _ in range(25):
                number = orch.commit_workflow(
                    DETECTOR, actor=OPERATOR, draft=drafts[name]
                )
                commits[name].append(number)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=commit_repeatedly, args=(n,)) for n in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []

    started = started_resolutions(sink)
    for name, numbers in commits.items():
        expected = {
            source: config.params["resolution"]
            for source, config in drafts[name].items()
        }
        for number in numbers:
            assert started[number] == expected, f"commit {number} of {name!r}"
    assert len(started) == 50


def test_a_commit_with_a_draft_replaces_what_was_staged_and_keeps_it_staged(orch):
    orch.stage_config(DETECTOR, HIGH_RES, {"resolution": 32}, actor=OPERATOR)
    orch.commit_workflow(
        DETECTOR, actor=OPERATOR, draft={MANTLE: SourceConfig({"resolution": 256})}
    )
    staged = orch.snapshot(DETECTOR).staged
    assert list(staged) == [MANTLE]
    assert staged[MANTLE].params["resolution"] == 256
    current = orch.snapshot(DETECTOR).current
    assert current is not None
    assert [job.source_name for job in current.jobs] == [MANTLE]


def test_a_commit_with_a_draft_writes_the_config_file_once(orch, monkeypatch):
    saves: list[object] = []
    store = orch._persistence._store
    original = store.save
    monkeypatch.setattr(
        store, "save", lambda state: saves.append(state) or original(state)
    )
    orch.commit_workflow(
        DETECTOR,
        actor=OPERATOR,
        draft={MANTLE: SourceConfig(), BACKWARD: SourceConfig()},
    )
    assert len(saves) == 1


def test_a_draft_the_schema_refuses_stages_and_sends_nothing(orch, sink):
    orch.stage_config(DETECTOR, MANTLE, {"resolution": 64}, actor=OPERATOR)
    version = orch.version
    with pytest.raises(ParameterError, match="resolution"):
        orch.commit_workflow(
            DETECTOR,
            actor=OPERATOR,
            draft={
                BACKWARD: SourceConfig({"resolution": 512}),
                FORWARD: SourceConfig({"resolution": 1_000_000}),
            },
        )
    with pytest.raises(ParameterError, match="not_a_bank"):
        orch.commit_workflow(
            DETECTOR, actor=OPERATOR, draft={"not_a_bank": SourceConfig()}
        )
    with pytest.raises(ValueError, match="no source"):
        orch.commit_workflow(DETECTOR, actor=OPERATOR, draft={})
    assert sink.sent == []
    assert orch.version == version
    assert list(orch.snapshot(DETECTOR).staged) == [MANTLE]
