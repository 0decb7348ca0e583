"""Wait for a condition that another thread or process makes true.

Tests and benchmarks never sleep a fixed time to let something happen: they
poll a condition until a deadline and fail with a message saying what did not
happen.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["wait_until"]


def wait_until(
    condition: Callable[[], object],
    *,
    timeout: float = 10.0,
    interval: float = 0.01,
    message: str | Callable[[], str] = "condition",
) -> None:
    """Call ``condition`` until it is truthy; fail after ``timeout`` seconds.

    ``condition`` may do work each call (e.g. poll a consumer), so
    ``interval`` only throttles conditions that return at once. On timeout it
    raises :class:`AssertionError` ``"timed out after <timeout> s waiting for
    <message>"``; a callable ``message`` is called then, so it can show the
    state that was reached instead.
    """
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout} s waiting for {text}")
        time.sleep(interval)
