"""How the dashboard writes durations and ages: coarse where re-rendered often."""

from __future__ import annotations

import numpy as np
import pytest

from jobdash.ui.durations import (
    coarse_seconds,
    describe_age,
    format_duration,
    format_uptime,
    heartbeat_age,
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-3, "0 s"),
        (0.9, "0 s"),
        (7, "5 s"),
        (30, "30 s"),
        (59, "55 s"),
        (61, "1 min"),
        (3599, "59 min"),
        (3600 + 5 * 60 + 59, "1 h 05 min"),
        (3 * 86400 + 4 * 3600 + 59, "3 d 4 h"),
    ],
)
def test_durations_lose_precision_as_they_grow_five_second_steps_first(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "< 1 min"), (59.9, "< 1 min"), (60, "1 min"), (7500, "2 h 05 min")],
)
def test_uptime_is_never_written_in_seconds(seconds, text):
    assert format_uptime(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "under 5 s"), (4.9, "under 5 s"), (5, "5 s"), (12, "10 s"), (75, "1 min")],
)
def test_recent_heartbeats_all_read_alike_and_late_ones_count_up(seconds, text):
    assert heartbeat_age(seconds) == text


def test_ages_read_fresh_then_in_five_second_steps_then_minutes():
    seconds = np.array([0, 4, 5, 59, 60, 125, 7200])
    assert coarse_seconds(seconds).tolist() == [0, 0, 5, 55, 60, 120, 7200]


def test_header_ages_are_compact_to_a_tenth_while_recent() -> None:
    assert describe_age(0.42) == "0.4 s"
    assert describe_age(42) == "42 s"
    assert describe_age(300) == "5 min"
    assert describe_age(3 * 3600) == "3 h"
    assert describe_age(-1) == "0.0 s"
