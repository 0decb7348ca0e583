from __future__ import annotations

import uuid

import pytest

from jobdash.domain import DataResult, JobId, ManualClock, WorkflowId
from jobdash.services.data_service import DataService, ReceivedResult

WORKFLOW = WorkflowId("dream", "detector_view", 1)


def job(number: int = 1) -> JobId:
    return JobId("mantle_detector", uuid.UUID(int=number))


def result(
    job_id: JobId, output: str = "histogram", *, timestamp: int = 0, data: object = None
) -> DataResult:
    return DataResult(job_id, WORKFLOW, output, timestamp, data)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def service(clock: ManualClock) -> DataService:
    return DataService(clock, retention=60.0)


def test_latest_result_per_output_is_kept_with_its_receipt_time(service, clock):
    service.result_received(result(job(), "histogram", timestamp=1, data=[1]))
    clock.advance(1)
    service.result_received(result(job(), "histogram", timestamp=2, data=[2]))
    service.result_received(result(job(), "counts", timestamp=2, data=[3]))
    latest = service.latest(job())
    assert set(latest) == {"histogram", "counts"}
    assert latest["histogram"].data == [2]
    assert service.received(job())["counts"] == ReceivedResult(
        result(job(), "counts", timestamp=2, data=[3]), clock.now_ns()
    )
    assert service.last_data_time(job()) == clock.now_ns()


def test_older_result_of_an_output_is_ignored(service, clock):
    service.result_received(result(job(), timestamp=5, data="new"))
    received = service.last_data_time(job())
    clock.advance(1)
    service.result_received(result(job(), timestamp=4, data="old"))
    assert service.latest(job())["histogram"].data == "new"
    assert service.last_data_time(job()) == received
    assert service.version == 1


def test_result_with_equal_timestamp_is_applied(service):
    service.result_received(result(job(), timestamp=5, data="first"))
    service.result_received(result(job(), timestamp=5, data="second"))
    assert service.latest(job())["histogram"].data == "second"


def test_unknown_job_has_no_data(service):
    assert service.latest(job()) == {}
    assert service.received(job()) == {}
    assert service.last_data_time(job()) is None
    assert service.jobs_with_data() == set()


def test_readers_return_copies(service):
    service.result_received(result(job(1)))
    latest, jobs = service.latest(job(1)), service.jobs_with_data()
    times = service.last_data_times()
    latest.clear()
    jobs.clear()
    times.clear()
    service.result_received(result(job(2)))
    assert set(service.latest(job(1))) == {"histogram"}
    assert service.jobs_with_data() == {job(1), job(2)}
    assert set(service.last_data_times()) == {job(1), job(2)}


def test_last_data_times_agree_with_last_data_time(service, clock):
    service.result_received(result(job(1)))
    clock.advance(3)
    service.result_received(result(job(2)))
    assert service.last_data_times() == {
        job(1): service.last_data_time(job(1)),
        job(2): service.last_data_time(job(2)),
    }
    assert service.last_data_time(job(2)) - service.last_data_time(job(1)) == 3e9


def test_tick_prunes_jobs_silent_for_longer_than_retention(service, clock):
    service.result_received(result(job(1)))
    clock.advance(30)
    service.result_received(result(job(2)))
    clock.advance(30)
    service.tick()
    assert service.jobs_with_data() == {job(1), job(2)}  # exactly 60 s: kept
    version = service.version
    clock.advance(0.001)
    service.tick()
    assert service.jobs_with_data() == {job(2)}
    assert service.latest(job(1)) == {}
    assert service.last_data_time(job(1)) is None
    assert service.version == version + 1


def test_tick_without_pruning_does_not_bump_version(service):
    service.result_received(result(job()))
    service.tick()
    assert service.version == 1


def test_version_bumps_once_per_batch(service):
    with service.batch_updates():
        for number in range(10):
            service.result_received(result(job(number), timestamp=number))
        assert service.version == 0
    assert service.version == 1


def test_retention_must_be_positive(clock):
    with pytest.raises(ValueError, match="retention"):
        DataService(clock, retention=0)
