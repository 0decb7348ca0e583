"""The users that tests act as.

Every state-changing service call takes an explicit actor; tests pass one of
these, so a test that acts says who acts, like the UI and the CLI must.
"""

from __future__ import annotations

from jobdash.domain.access import Actor, Role

__all__ = ["OPERATOR", "VIEWER"]

OPERATOR = Actor("test-operator", Role.operator)
"""May send commands (unless the policy is read-only)."""

VIEWER = Actor("test-viewer", Role.viewer)
"""May only watch: every action is refused."""
