"""Wait for a condition that another thread or process makes true.

Tests never sleep a fixed time: they poll a condition until a deadline and
fail with a message saying what did not happen.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    condition: Callable[[], object],
    *,
    timeout: float = 10.0,
    interval: float = 0.01,
    message: str | Callable[[], str] = "condition",
) -> None:
    """Call ``condition`` until it is truthy; fail after ``timeout`` seconds.

    ``condition`` may do work each call (e.g. poll a consumer), so
    ``interval`` only throttles conditions that return at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout} s waiting for {text}")
        time.sleep(interval)
