"""How the dashboard writes a duration or an age, everywhere on the page.

Texts that the session refresher re-renders every second are worded coarsely
on purpose: 5 s steps (:data:`AGE_STEP_S`) in the first minute, then minutes,
then hours. A text that changed every second would cost every session a
message to its browser every second for every card or row showing it (and
Panel's Tabulator redraws its whole page for any patch); coarse, a healthy
job's texts never change, a late one's every 5 s, then once a minute.

The forms, by where they appear:

* cards: :func:`format_duration` ("no data for 45 s"), :func:`heartbeat_age`
  ("under 5 s" for every healthy heartbeat) and :func:`format_uptime` (never
  in seconds);
* the job table: :func:`coarse_seconds` floors the ages its cells hold, and
  :data:`AGE_CELL_TEXT` writes them in the browser ("< 5 s", "45 s", "3 min");
* the header: :func:`describe_age`, to a tenth of a second while recent (one
  pane, re-rendered once a second at most).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "AGE_CELL_TEXT",
    "AGE_STEP_S",
    "coarse_seconds",
    "describe_age",
    "format_duration",
    "format_uptime",
    "heartbeat_age",
]

AGE_STEP_S = 5
"""Ages and durations are written to this many seconds under a minute."""

AGE_CELL_TEXT = (
    f"<% if (value < {AGE_STEP_S}) {{ %>&lt; {AGE_STEP_S} s"
    "<% } else if (value < 60) { %><%- value %> s"
    "<% } else { %><%- Math.floor(value / 60) %> min<% } %>"
)
"""A job-table age cell's text from its :func:`coarse_seconds` value.

An Underscore template fragment (Bokeh's ``HTMLTemplateFormatter`` evaluates
it in the browser, ``value`` being the cell's seconds); it interpolates only
numbers, escaped.
"""


def format_duration(seconds: float) -> str:
    """A coarse, readable duration: ``45 s``, ``3 min``, ``2 h 05 min``, ``3 d 4 h``.

    Precision falls with magnitude: :data:`AGE_STEP_S` steps in the first
    minute, then minutes, then hours (a second-by-second "no data for 47 s"
    on every silent job made every card change every second). Negative input
    (clock skew between backend and dashboard) reads as ``0 s``.
    """
    total = max(0, int(seconds))
    if total < 60:
        return f"{total // AGE_STEP_S * AGE_STEP_S} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def format_uptime(seconds: float) -> str:
    """How long a JobSet has run, in minutes: ``< 1 min``, ``3 min``, ``2 h 05 min``.

    Never in seconds: every running card shows an uptime, so even 5 s steps
    would change every running card every 5 s.
    """
    return "< 1 min" if seconds < 60 else format_duration(seconds)


def heartbeat_age(seconds: float) -> str:
    """How long ago a heartbeat arrived, in words that change only when it matters.

    Healthy jobs beat every ~2 s, so any age below :data:`AGE_STEP_S` reads
    the same ("under 5 s") and their chips do not change from second to
    second; a late job's age counts up (:func:`format_duration`).
    """
    if seconds < AGE_STEP_S:
        return f"under {AGE_STEP_S} s"
    return format_duration(seconds)


def coarse_seconds(seconds: np.ndarray) -> np.ndarray:
    """Ages in whole seconds, floored to what the job table shows.

    0 while under :data:`AGE_STEP_S` (shown "< 5 s"), then multiples of the
    step under a minute, then whole minutes (in seconds). A healthy job's age
    thus never changes, and a stale one's changes every 5 s, then every minute.
    """
    step = AGE_STEP_S
    return np.where(seconds < 60, seconds // step * step, seconds // 60 * 60)


def describe_age(seconds: float) -> str:
    """Compact age for the header: ``0.4 s``, ``42 s``, ``5 min``, ``3 h``."""
    seconds = max(seconds, 0.0)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"
