from __future__ import annotations

import pytest

from jobdash.domain import ManualClock, ServiceStatus
from jobdash.services.worker_registry import WorkerInfo, WorkerRegistry


def beat(worker: str = "w1", *, timestamp: int = 0, **fields: object) -> ServiceStatus:
    values: dict[str, object] = {
        "instrument": "dream",
        "service_name": "detector_data",
        "worker_id": worker,
        "state": "running",
        "timestamp": timestamp,
    }
    values.update(fields)
    return ServiceStatus(**values)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def registry(clock: ManualClock) -> WorkerRegistry:
    return WorkerRegistry(clock, stale_after=6.0, retention=60.0)


def test_workers_lists_the_latest_heartbeat_of_each_worker_sorted_by_key(
    registry, clock
):
    registry.service_status_updated(beat("w2", active_job_count=3))
    registry.service_status_updated(beat("w1", error="disk full", state="error"))
    assert registry.workers() == [
        WorkerInfo(
            key="dream/detector_data/w1",
            service_name="detector_data",
            worker_id="w1",
            state="error",
            last_seen=clock.now_ns(),
            active_job_count=None,
            error="disk full",
            stale=False,
        ),
        WorkerInfo(
            key="dream/detector_data/w2",
            service_name="detector_data",
            worker_id="w2",
            state="running",
            last_seen=clock.now_ns(),
            active_job_count=3,
            error=None,
            stale=False,
        ),
    ]


def test_newer_heartbeat_replaces_and_older_is_ignored(registry):
    registry.service_status_updated(beat(timestamp=2, state="running"))
    registry.service_status_updated(beat(timestamp=1, state="starting"))
    assert registry.workers()[0].state == "running"
    registry.service_status_updated(beat(timestamp=2, state="stopping"))
    assert registry.workers()[0].state == "stopping"


def test_worker_goes_stale_after_the_threshold(registry, clock):
    registry.service_status_updated(beat())
    clock.advance(6)
    assert not registry.workers()[0].stale
    clock.advance(0.001)
    assert registry.workers()[0].stale
    registry.service_status_updated(beat())
    assert not registry.workers()[0].stale


def test_tick_bumps_version_only_when_a_stale_flag_flips(registry, clock):
    registry.service_status_updated(beat())
    registry.tick()
    assert registry.version == 1
    clock.advance(7)
    registry.tick()
    assert registry.version == 2
    registry.tick()
    assert registry.version == 2


def test_tick_forgets_workers_gone_for_longer_than_retention(registry, clock):
    registry.service_status_updated(beat("w1"))
    clock.advance(30)
    registry.service_status_updated(beat("w2"))
    clock.advance(31)
    registry.tick()
    assert [w.worker_id for w in registry.workers()] == ["w2"]


def test_version_bumps_once_per_batch(registry):
    with registry.batch_updates():
        registry.service_status_updated(beat("w1"))
        registry.service_status_updated(beat("w2"))
        assert registry.version == 0
    assert registry.version == 1


@pytest.mark.parametrize(
    "kwargs", [{"stale_after": 0}, {"stale_after": 10, "retention": 10}]
)
def test_invalid_settings_are_rejected(clock, kwargs):
    with pytest.raises(ValueError, match="must"):
        WorkerRegistry(clock, **kwargs)


def pausing(worker: str = "w1", *sources: str, **fields: object) -> ServiceStatus:
    """A heartbeat of a worker serving ``sources`` that accepts stop and pause."""
    fields.setdefault("supported_actions", frozenset({"stop", "pause"}))
    return beat(worker, source_names=sources, **fields)


def test_workers_carry_version_start_time_sources_and_actions(registry):
    registry.service_status_updated(
        pausing("w1", "mantle", started_at=7, version="25.11.0")
    )
    (info,) = registry.workers()
    assert (info.version, info.started_at) == ("25.11.0", 7)
    assert info.source_names == ("mantle",)
    assert info.supported_actions == frozenset({"stop", "pause"})


def test_supports_an_action_a_fresh_worker_of_the_source_lists(registry):
    registry.service_status_updated(pausing("w1", "mantle", "endcap"))
    assert registry.supports("mantle", "pause")
    assert registry.supports("endcap", "stop")
    assert not registry.supports("mantle", "resume")  # not listed
    assert not registry.supports("monitor", "pause")  # nobody serves it


def test_a_worker_that_did_not_say_supports_no_action(registry):
    registry.service_status_updated(beat("w1", source_names=("mantle",)))
    assert not registry.supports("mantle", "stop")
    assert registry.sources_supporting("stop") == frozenset()


def test_a_stale_worker_supports_nothing_until_it_is_heard_again(registry, clock):
    registry.service_status_updated(pausing("w1", "mantle"))
    clock.advance(6.001)
    assert not registry.supports("mantle", "pause")  # by the clock, before tick
    registry.service_status_updated(pausing("w1", "mantle"))
    assert registry.supports("mantle", "pause")


def test_one_fresh_worker_is_enough_when_another_of_the_source_is_stale(
    registry, clock
):
    registry.service_status_updated(pausing("w1", "mantle"))
    clock.advance(4)
    registry.service_status_updated(pausing("w2", "mantle"))
    clock.advance(3)  # w1 is stale, w2 is not
    assert registry.supports("mantle", "pause")


def test_sources_supporting_follows_a_worker_that_drops_an_action(registry):
    registry.service_status_updated(pausing("w1", "mantle", "endcap"))
    registry.service_status_updated(pausing("w2", "monitor", supported_actions=None))
    assert registry.sources_supporting("pause") == frozenset({"mantle", "endcap"})
    registry.service_status_updated(
        pausing("w1", "mantle", "endcap", supported_actions=frozenset({"stop"}))
    )
    assert registry.sources_supporting("pause") == frozenset()
    assert registry.sources_supporting("stop") == frozenset({"mantle", "endcap"})


def test_a_forgotten_worker_supports_nothing(registry, clock):
    registry.service_status_updated(pausing("w1", "mantle"))
    assert registry.supports("mantle", "pause")
    clock.advance(61)
    registry.tick()
    assert registry.workers() == []
    assert not registry.supports("mantle", "pause")
