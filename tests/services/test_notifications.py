from __future__ import annotations

import pytest

from jobdash.domain import ManualClock
from jobdash.services.notifications import (
    Notification,
    NotificationLevel,
    NotificationLog,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def log(clock: ManualClock) -> NotificationLog:
    return NotificationLog(clock)


def test_add_numbers_notifications_and_stamps_them_with_the_clock(log, clock):
    first = log.add("info", "hello")
    clock.advance(1)
    second = log.add(NotificationLevel.error, "broken")
    assert first == Notification(1, clock.now_ns() - 1_000_000_000, "info", "hello")
    assert second.seq == 2
    assert second.time == clock.now_ns()
    assert second.level is NotificationLevel.error
    assert log.last_seq == 2


@pytest.mark.parametrize("level", ["info", "success", "warning", "error"])
def test_the_four_levels_are_accepted(log, level):
    assert log.add(level, "text").level == level


def test_unknown_level_is_rejected(log):
    with pytest.raises(ValueError, match="critical"):
        log.add("critical", "text")
    assert log.recent(10) == []


def test_since_returns_newer_notifications_oldest_first(log):
    for index in range(5):
        log.add("info", f"n{index}")
    assert [n.text for n in log.since(3)] == ["n3", "n4"]
    assert [n.seq for n in log.since(0)] == [1, 2, 3, 4, 5]
    assert log.since(5) == []
    assert log.since(99) == []


def test_recent_returns_the_last_n_oldest_first(log):
    for index in range(5):
        log.add("info", f"n{index}")
    assert [n.text for n in log.recent(2)] == ["n3", "n4"]
    assert len(log.recent(50)) == 5
    assert log.recent(0) == []


def test_log_is_bounded_and_keeps_numbering_after_eviction(clock):
    log = NotificationLog(clock, maxlen=3)
    for index in range(5):
        log.add("info", f"n{index}")
    assert [n.seq for n in log.recent(10)] == [3, 4, 5]
    # A reader that fell behind gets what is left.
    assert [n.seq for n in log.since(1)] == [3, 4, 5]
    assert [n.seq for n in log.since(4)] == [5]


def test_default_capacity_is_500(log):
    for index in range(501):
        log.add("info", str(index))
    kept = log.since(0)
    assert len(kept) == 500
    assert kept[0].text == "1"


def test_version_bumps_per_add_and_once_per_batch(log):
    log.add("info", "a")
    assert log.version == 1
    with log.batch_updates():
        log.add("info", "b")
        log.add("info", "c")
        assert log.version == 1
    assert log.version == 2


def test_maxlen_must_be_positive(clock):
    with pytest.raises(ValueError, match="maxlen"):
        NotificationLog(clock, maxlen=0)
