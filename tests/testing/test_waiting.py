"""``wait_until``: returns once the condition holds, fails naming what did not happen."""

from __future__ import annotations

import itertools

import pytest

from jobdash.testing.waiting import wait_until


def test_returns_as_soon_as_the_condition_holds() -> None:
    calls = itertools.count(1)
    wait_until(lambda: next(calls) >= 3, timeout=5, interval=0)
    assert next(calls) == 4


def test_fails_with_the_message_after_the_timeout() -> None:
    with pytest.raises(AssertionError, match=r"after 0.05 s waiting for the sun"):
        wait_until(lambda: False, timeout=0.05, message="the sun")


def test_a_callable_message_is_called_only_on_failure() -> None:
    seen: list[str] = []

    def message() -> str:
        seen.append("called")
        return "state 7"

    wait_until(lambda: True, timeout=0.05, message=message)
    assert seen == []
    with pytest.raises(AssertionError, match="state 7"):
        wait_until(lambda: False, timeout=0.05, message=message)
    assert seen == ["called"]
