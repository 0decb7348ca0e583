from __future__ import annotations

import uuid

import pytest

from jobdash.domain import JobId, JobState, JobStatus, ManualClock, WorkflowId
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.data_service import DataService
from jobdash.services.job_controller import JobController
from jobdash.services.job_service import JobService
from jobdash.testing.actors import OPERATOR
from jobdash.transport.in_memory_sink import InMemoryCommandSink
from jobdash.ui.jobs.job_status_widget import JobStatusWidget
from jobdash.ui.jobs.job_table_rows import (
    JobTableRows,
    first_line,
    format_utc,
)

WORKFLOW = WorkflowId("dream", "detector_view", 1)


def job(source: str = "mantle_detector", number: int = 1) -> JobId:
    return JobId(source, uuid.UUID(int=number))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def service(clock: ManualClock) -> JobService:
    return JobService(clock, stale_after=6.0, data_service=DataService(clock))


@pytest.fixture
def shared(service: JobService) -> JobTableRows:
    return JobTableRows(service)


class Beats:
    def __init__(self, service: JobService) -> None:
        self.service = service
        self.t = 0

    def __call__(self, job_id: JobId, state: JobState = JobState.active) -> None:
        self.t += 1
        self.service.status_updated(
            JobStatus(job_id, WORKFLOW, state, start_time=0, timestamp=self.t)
        )


@pytest.fixture
def beat(service: JobService) -> Beats:
    return Beats(service)


def count_snapshots(service: JobService, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = service.snapshot
    monkeypatch.setattr(service, "snapshot", lambda: calls.append(1) or original())
    return calls


def widgets(service: JobService, shared: JobTableRows, clock, n: int):
    controller = JobController(CommandDispatcher(InMemoryCommandSink()))
    return [
        JobStatusWidget(service, controller, clock, actor=OPERATOR, table_rows=shared)
        for _ in range(n)
    ]


def test_sessions_sharing_the_rows_read_one_snapshot_per_change(
    service, shared, clock, beat, monkeypatch
):
    beat(job("a"))
    sessions = widgets(service, shared, clock, 3)
    calls = count_snapshots(service, monkeypatch)
    beat(job("a"), JobState.error)
    for widget in sessions:
        widget.refresh()
    assert calls == [1]
    for widget in sessions:
        assert widget.table.value.loc[str(job("a")), "state"] == "error"


def test_ages_alone_never_read_a_snapshot_of_every_job(
    service, shared, clock, beat, monkeypatch
):
    beat(job("a"))
    sessions = widgets(service, shared, clock, 3)
    calls = count_snapshots(service, monkeypatch)
    for _ in range(7):
        clock.advance(1.0)
        for widget in sessions:
            widget.refresh()
    assert calls == []
    for widget in sessions:  # the page's ages were read per job
        assert widget.table.value.loc[str(job("a")), "heartbeat"] == 5


# Panel 1.9's remote sort calls DataFrame.drop(inplace=True), which pandas 3.1
# deprecates; not ours to fix.
@pytest.mark.filterwarnings("ignore:The inplace keyword")
def test_a_session_sorted_by_an_age_reads_every_age_once_a_second(
    service, shared, clock, beat, monkeypatch
):
    beat(job("a"))
    beat(job("b", 2))
    (widget,) = widgets(service, shared, clock, 1)
    widget.table.sorters = [{"field": "heartbeat", "dir": "desc"}]
    calls = count_snapshots(service, monkeypatch)
    clock.advance(0.5)
    widget.refresh()
    assert calls == []
    clock.advance(0.6)
    widget.refresh()
    assert calls == [1]


def test_page_ages_come_from_the_service_per_job(service, shared, clock, beat):
    beat(job("a"))
    rows = shared.read(clock.now_ns())
    clock.advance(12.0)
    ages = shared.ages_of(list(rows.shown.values()), clock.now_ns())
    assert ages["heartbeat"].tolist() == [10]
    assert ages["no_data"].tolist() == [True]  # started at 0, no result since


def test_a_row_that_shows_the_same_keeps_its_object(shared, clock, beat):
    beat(job("a"))
    beat(job("b", 2))
    first = shared.read(clock.now_ns())
    beat(job("a"))  # only its receipt time moves
    clock.advance(1.0)
    assert shared.read(clock.now_ns()) is first  # ages alone: nothing new
    second = shared.read(clock.now_ns(), ages=True)
    assert second is not first  # new ages
    assert second.shown is first.shown  # sessions skip the diff
    beat(job("b", 2), JobState.warning)
    clock.advance(1.0)
    third = shared.read(clock.now_ns())
    assert third.shown[str(job("a"))] is first.shown[str(job("a"))]
    assert third.shown[str(job("b", 2))] is not first.shown[str(job("b", 2))]


def test_a_job_turning_stale_shows_once_the_service_ticks(service, shared, clock, beat):
    beat(job("a"))
    shared.read(clock.now_ns())
    clock.advance(7.0)  # past stale_after
    service.tick()  # publishes the flip (ingestion ticks every 0.25 s)
    rows = shared.read(clock.now_ns())
    assert rows.shown[str(job("a"))].cells[0] == "active · stale"
    assert rows.ages["heartbeat"].tolist() == [5]


def test_each_session_gets_its_own_copy_of_the_shared_frame(
    service, shared, clock, beat
):
    beat(job("a"))
    first, second = widgets(service, shared, clock, 2)
    rows = shared.read(clock.now_ns())
    assert rows.frame is rows.frame  # built once
    assert first.table.value is not rows.frame
    first.table.value.loc[str(job("a")), "heartbeat"] = 99
    assert second.table.value.loc[str(job("a")), "heartbeat"] == 0
    assert rows.frame.loc[str(job("a")), "heartbeat"] == 0


def test_a_session_that_missed_several_changes_patches_them_all(
    service, shared, clock, beat
):
    beat(job("a"))
    beat(job("b", 2))
    early, late = widgets(service, shared, clock, 2)
    for state in (JobState.warning, JobState.error):
        beat(job("a"), state)
        early.refresh()  # the other session refreshes after both changes
    beat(job("b", 2), JobState.stopped)
    early.refresh()
    late.refresh()
    for widget in (early, late):
        states = widget.table.value["state"].to_dict()
        assert states == {str(job("a")): "error", str(job("b", 2)): "stopped"}


def test_start_time_is_utc():
    assert format_utc(1_764_374_400_000_000_000) == "2025-11-29 00:00:00"
    assert format_utc(None) == ""


def test_first_line_is_cut_with_an_ellipsis():
    assert first_line("x" * 200, limit=10) == "x" * 9 + "…"
    assert first_line("\n\n  only line  \n") == "only line"
    assert first_line("first\nsecond") == "first …"
    assert first_line(None) == ""


def test_a_traceback_shows_as_its_exception_line_not_its_first():
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "reduce.py", line 12, in run\n'
        "ValueError: detector bank 3 has no pixels\n"
    )
    assert first_line(traceback) == "ValueError: detector bank 3 has no pixels …"
