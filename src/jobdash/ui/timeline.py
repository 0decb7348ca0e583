# mypy: disallow-untyped-calls=False
# (Panel's and HoloViews' constructors and methods are not annotated.)
"""The status timeline: what every job reported over the last ten minutes.

One horizontal lane per job source within a workflow (``workflow · source``,
grouped by workflow), one bar per :class:`~jobdash.services.status_history.Segment`
coloured by state; hovering a bar tells the job, state, message and times.

How it stays cheap and incremental:

* HoloViews (on Bokeh) builds the figure once, from a static ``hv.Rectangles``:
  axes, the state colour mapping, the hover tool. A plot hook hands this view
  the Bokeh models of each rendered plot; from then on the view updates those
  models itself, because HoloViews' own streaming cannot stay incremental here
  (``Buffer`` streams re-send every text column after each chunk, and
  style-mapped colours cannot be streamed).
* :meth:`TimelineView.refresh` runs at most once a second (by the injected
  clock), whatever the session's refresh interval. It reads only the history's
  changes since its last read (:meth:`StatusHistory.changes_since`): new
  segments are *streamed* (appended), a segment that ended is *patched* (its
  right edge and "to" text), and the x-range moves to ``[now - window, now]``.
* A current (open) segment is drawn up to a minute beyond "now" and clipped by
  the x-range, so it grows with time without being touched every second; when
  "now" comes within 30 s of that end, every open bar is extended in one patch.
  (Not to a far-future end: the browser draws bars in float32 screen space,
  where an edge of a bar years long lands seconds off.)
* At most :data:`MAX_LANES` lanes are in view (the figure's height stops
  growing there); dragging the plot up or down scrolls through the others.
  The browser repaints the plot every second (the time axis moves), and a
  canvas as tall as 1,000 lanes took it ~0.5 s each time.
* Only the lanes in view and :data:`LANE_MARGIN` on either side have their
  bars, ticks and labels in the plot's data: at 10,000 jobs, sending every
  lane made the timeline ~3 MB of each session's document. The browser
  syncs the y-range back as the operator drags; when the lanes in view leave
  the lanes sent, the data is re-sent around them (the range itself is left
  to the drag).
* The whole data set is re-sent only when the lanes change (a new source or
  workflow appears) and, at most every :data:`_REBUILD_EVERY_NS`, to drop
  segments that left the window (until then they are merely off-screen).

Untrusted text (sources, workflow ids, messages) reaches the browser only as
data of the hover tool's ``@{field}`` placeholders, which Bokeh escapes (never
``{safe}``), and as tick labels, which are drawn as canvas text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import holoviews as hv
import holoviews.plotting.bokeh  # registers the Bokeh backend
import numpy as np
import panel as pn
from bokeh.models import FixedTicker

from jobdash.domain.clock import Clock
from jobdash.domain.ids import SourceName, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.services.status_history import Segment, StatusHistory
from jobdash.ui.live_html import LiveHTML

__all__ = ["LANE_MARGIN", "MAX_LANES", "STATE_COLOURS", "TimelineView"]

_NS = 1_000_000_000
_NS_PER_MS = 1_000_000

#: Bar colour per job state; the values of the ``--jd-*`` colours of
#: ``assets/css/jobdash.css`` (error red, warning amber, pending blue, active
#: green, paused grey-blue, stopped grey, unknown muted), so a state looks
#: alike everywhere.
STATE_COLOURS: dict[str, str] = {
    JobState.error.value: "#b3261e",
    JobState.warning.value: "#e0a030",
    JobState.scheduled.value: "#1a56a8",
    JobState.pending_context.value: "#1a56a8",
    JobState.active.value: "#1e6b34",
    JobState.finishing.value: "#1e6b34",
    JobState.paused.value: "#4a5a78",
    JobState.stopped.value: "#4d5561",
    JobState.unknown.value: "#7b8491",
}

#: Current segments are drawn this far beyond "now", and extended when "now"
#: comes closer than _EXTEND_BEFORE_NS to their drawn end.
_OPEN_AHEAD_NS = 60 * _NS
_EXTEND_BEFORE_NS = 30 * _NS
#: Shortest time between two full re-sends that only drop expired bars.
_REBUILD_EVERY_NS = 30 * _NS
_BAR_HALF_HEIGHT = 0.38
_LANE_PX = 22
#: Lanes in view at once; the others are reached by dragging the plot.
MAX_LANES = 20
#: Lanes sent on either side of those in view, so a short drag shows bars
#: at once while the server sends the lanes around the new position.
LANE_MARGIN = 2 * MAX_LANES
_AXIS_PX = 46
_MIN_HEIGHT_PX = 110

#: Columns of the bars' data source. ``color`` carries the state, which the
#: glyph's categorical colour mapper (built by HoloViews) turns into a colour.
_TEXT_COLUMNS = ("state", "message", "workflow", "source", "job", "since", "until")
_COLUMNS = ("left", "right", "bottom", "top", "color", *_TEXT_COLUMNS)

_LaneKey = tuple[WorkflowId, SourceName]


def _clock_text(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns / _NS, tz=UTC).strftime("%H:%M:%S")


def _lane_of(segment: Segment) -> _LaneKey:
    return (segment.workflow_id, segment.job_id.source_name)


def _lane_sort_key(lane: _LaneKey) -> tuple[str, str]:
    return (str(lane[0]), lane[1])


class _Target:
    """The Bokeh models of one rendered plot that the view updates."""

    __slots__ = ("figure", "source", "x_range", "y_range", "yaxis")

    def __init__(self, handles: dict[str, Any]) -> None:
        self.figure = handles["plot"]
        self.source = handles["source"]
        self.x_range = handles["x_range"]
        self.y_range = handles["y_range"]
        self.yaxis = handles["yaxis"]


class TimelineView(pn.viewable.Viewer):
    """Segments of the last ``window`` seconds, one lane per workflow · source.

    Parameters
    ----------
    history
        The shared status history (read incrementally).
    clock
        "Now", for the x-range and the once-a-second throttle.
    window
        Seconds shown (and kept in the plot); the history should keep at
        least as much.
    min_interval
        Seconds between two updates, however often :meth:`refresh` is called.
    """

    def __init__(
        self,
        history: StatusHistory,
        clock: Clock,
        *,
        window: float = 600.0,
        min_interval: float = 1.0,
    ) -> None:
        if window <= 0:
            raise ValueError(f"window must be positive, got {window}")
        super().__init__()
        self._history = history
        self._clock = clock
        self._window_ns = round(window * _NS)
        self._interval_ns = round(min_interval * _NS)
        self._cursor = 0
        self._updated_at: int | None = None
        self._rebuilt_at = clock.now_ns()
        # What the plot shows: the segments by seq, their row in the data
        # source, and the lanes (ordered) with their segment counts.
        self._segments: dict[int, Segment] = {}
        self._rows: dict[int, int] = {}
        self._length = 0
        self._lanes: dict[_LaneKey, int] = {}
        # The first lane in view, and the lanes [lo, hi) the data source holds.
        self._top = 0
        self._window = (0, 0)
        self._lane_counts: Counter[_LaneKey] = Counter()
        self._expired = 0  # segments dropped from _segments but still drawn
        self._open: set[int] = set()  # seq of the current segments
        self._open_end = clock.now_ns() + _OPEN_AHEAD_NS  # where they are drawn to
        self._targets: list[_Target] = []

        self._pane = pn.pane.HoloViews(
            self._element(),
            sizing_mode="stretch_width",
            css_classes=["jd-timeline-plot"],
            margin=0,
        )
        self._empty = LiveHTML(
            "No job status in the last "
            f"{round(window / 60) if window >= 60 else round(window)} "
            f"{'minutes' if window >= 60 else 's'}.",
            css_classes=["jd-timeline-empty", "jd-muted"],
            margin=(0, 5),
        )
        self._root = pn.Column(
            self._empty,
            self._pane,
            css_classes=["jd-timeline"],
            sizing_mode="stretch_width",
        )
        self.refresh()

    def __panel__(self) -> pn.Column:
        return self._root

    # --- parts, for tests -------------------------------------------------

    @property
    def lanes(self) -> list[str]:
        """Lane labels, top to bottom."""
        return list(self._labels().values())

    @property
    def shown(self) -> dict[int, Segment]:
        """The segments the plot holds, by ``seq`` (a copy)."""
        return dict(self._segments)

    # --- refresh (session IOLoop) -------------------------------------------

    def refresh(self) -> None:
        """Apply the history's changes and move the time axis; ≤ once a second."""
        now = self._clock.now_ns()
        if (
            self._updated_at is not None
            and 0 <= now - self._updated_at < self._interval_ns
        ):
            return
        self._updated_at = now
        delta = self._history.changes_since(self._cursor)
        self._cursor = delta.cursor
        rebuild = delta.reset
        if delta.reset:
            self._segments.clear()
            self._lane_counts.clear()
            self._open.clear()
            self._expired = 0
        added: list[Segment] = []
        closed: list[Segment] = []
        for segment in delta.segments:
            known = segment.seq in self._segments
            self._segments[segment.seq] = segment
            if segment.end is None:
                self._open.add(segment.seq)
            else:
                self._open.discard(segment.seq)
            if known:
                closed.append(segment)
            else:
                added.append(segment)
                self._lane_counts[_lane_of(segment)] += 1
        for seq in delta.removed:
            dropped = self._segments.pop(seq, None)
            if dropped is None:
                continue
            self._open.discard(seq)
            self._expired += 1
            lane = _lane_of(dropped)
            self._lane_counts[lane] -= 1
            if not self._lane_counts[lane]:
                del self._lane_counts[lane]
        new_lane = any(_lane_of(s) not in self._lanes for s in added)
        prune_due = self._expired and now - self._rebuilt_at >= _REBUILD_EVERY_NS
        rebuild = rebuild or new_lane or bool(prune_due)
        if rebuild:
            self._rebuild(now)
        else:
            self._extend_open(now)
            self._append(added)
            self._patch_closed(closed)
        self._empty.visible = not self._segments
        self._move_window(now)

    # --- data ------------------------------------------------------------------

    def _rebuild(self, now: int) -> None:
        """Lay the lanes out again and re-send the bars around those in view."""
        self._rebuilt_at = now
        self._expired = 0
        self._open_end = now + _OPEN_AHEAD_NS
        lanes = sorted(self._lane_counts, key=_lane_sort_key)
        self._lanes = {lane: position for position, lane in enumerate(lanes)}
        self._top = self._scrolled_top()
        data = self._send_window()
        for target in self._targets:
            self._fill(target, data)

    def _scrolled_top(self) -> int:
        """The first lane in view: where the operator scrolled to, within range."""
        top = self._top
        for target in self._targets:
            y_range = target.y_range
            # Not inverted yet: the range HoloViews made, before the first fill.
            if y_range.start > y_range.end:
                top = round(y_range.end + 0.5)
                break
        count = len(self._lanes)
        return min(max(top, 0), max(count - max(1, min(count, MAX_LANES)), 0))

    def _send_window(self) -> dict[str, Any]:
        """Choose the lanes to send around ``_top``; their bars' columns."""
        lo = max(0, self._top - LANE_MARGIN)
        hi = min(len(self._lanes), self._top + MAX_LANES + LANE_MARGIN)
        self._window = (lo, hi)
        lanes = self._lanes
        segments = [s for s in self._segments.values() if lo <= lanes[_lane_of(s)] < hi]
        self._rows = {segment.seq: row for row, segment in enumerate(segments)}
        self._length = len(segments)
        return self._columns(segments)

    def _in_window(self, segment: Segment) -> bool:
        lo, hi = self._window
        return lo <= self._lanes.get(_lane_of(segment), -1) < hi

    def _scroll(self, end: float) -> None:
        """The browser moved the y-range (its top at ``end``): follow with data."""
        top = round(end + 0.5)
        lo, hi = self._window
        count = len(self._lanes)
        if lo <= top and min(top + MAX_LANES, count) <= hi:
            return
        self._top = min(max(top, 0), max(count - 1, 0))
        data = self._send_window()
        for target in self._targets:
            self._fill_lanes(target, data)

    def _append(self, segments: list[Segment]) -> None:
        # Lanes are never new here (a new lane rebuilds): only the window's.
        segments = [s for s in segments if self._in_window(s)]
        if not segments:
            return
        for segment in segments:
            self._rows[segment.seq] = self._length
            self._length += 1
        data = self._columns(segments)
        for target in self._targets:
            target.source.stream(data)

    def _patch_closed(self, segments: list[Segment]) -> None:
        patch: dict[str, list[tuple[int, Any]]] = {"right": [], "until": []}
        for segment in segments:
            row = self._rows.get(segment.seq)
            if row is None or segment.end is None:
                continue
            patch["right"].append((row, segment.end / _NS_PER_MS))
            patch["until"].append((row, _clock_text(segment.end)))
        if not patch["right"]:
            return
        for target in self._targets:
            target.source.patch(patch)

    def _extend_open(self, now: int) -> None:
        """Move the drawn end of every current bar a minute ahead, when due."""
        if now < self._open_end - _EXTEND_BEFORE_NS:
            return
        self._open_end = now + _OPEN_AHEAD_NS
        end = self._open_end / _NS_PER_MS
        rows = [self._rows[seq] for seq in self._open if seq in self._rows]
        if not rows:
            return
        patch = {"right": [(row, end) for row in rows]}
        for target in self._targets:
            target.source.patch(patch)

    def _columns(self, segments: Iterable[Segment]) -> dict[str, Any]:
        """The data source columns of ``segments``, in order."""
        segments = list(segments)
        lanes = self._lanes
        lane = np.fromiter(
            (lanes.get(_lane_of(s), -1) for s in segments), float, len(segments)
        )
        start = np.fromiter(
            (s.start / _NS_PER_MS for s in segments), float, len(segments)
        )
        end = np.fromiter(
            (
                self._open_end / _NS_PER_MS if s.end is None else s.end / _NS_PER_MS
                for s in segments
            ),
            float,
            len(segments),
        )
        states = [s.state.value for s in segments]
        return {
            "left": start,
            "right": end,
            "bottom": lane - _BAR_HALF_HEIGHT,
            "top": lane + _BAR_HALF_HEIGHT,
            "color": states,
            "state": list(states),
            "message": [s.message or "" for s in segments],
            "workflow": [str(s.workflow_id) for s in segments],
            "source": [s.job_id.source_name for s in segments],
            "job": [str(s.job_id.job_number) for s in segments],
            "since": [_clock_text(s.start) for s in segments],
            "until": ["now" if s.end is None else _clock_text(s.end) for s in segments],
        }

    # --- Bokeh models ------------------------------------------------------------

    def _labels(self) -> dict[int, str]:
        """Tick label per lane position: ``workflow · source``.

        The workflow's name alone, unless two lanes' workflows share a name
        (other version or namespace): then its full id.
        """
        names = Counter((workflow.name, source) for workflow, source in self._lanes)
        return {
            position: (
                f"{workflow.name if names[(workflow.name, source)] == 1 else workflow}"
                f" · {source}"
            )
            for (workflow, source), position in self._lanes.items()
        }

    def _fill_lanes(self, target: _Target, data: dict[str, Any]) -> None:
        """The window's bars, ticks and labels (the y-range is left alone)."""
        target.source.data = data
        lo, hi = self._window
        labels = self._labels()
        target.yaxis.ticker = FixedTicker(ticks=list(range(lo, hi)))
        target.yaxis.major_label_overrides = {p: labels[p] for p in range(lo, hi)}

    def _fill(self, target: _Target, data: dict[str, Any]) -> None:
        self._fill_lanes(target, data)
        count = len(self._lanes)
        shown = max(1, min(count, MAX_LANES))
        # Keep the lanes the operator scrolled to (the browser syncs the
        # range back), within the new lane count.
        y_range = target.y_range
        top = self._top
        # Inverted: the first lane at the top.
        # Bounds first: the browser clamps a new start/end to the old bounds.
        y_range.update(
            bounds=(-0.5, max(count, 1) - 0.5),
            start=top + shown - 0.5,
            end=top - 0.5,
        )
        target.figure.height = max(_MIN_HEIGHT_PX, _AXIS_PX + shown * _LANE_PX)

    def _move_window(self, now: int) -> None:
        start = (now - self._window_ns) / _NS_PER_MS
        end = now / _NS_PER_MS
        for target in self._targets:
            target.x_range.update(start=start, end=end)

    def _attach(self, plot: Any, element: Any) -> None:
        """HoloViews hook: adopt a newly rendered plot and show everything."""
        handles = plot.handles
        if any(t.figure is handles["plot"] for t in self._targets):
            return
        # Forget plots that were taken out of their document (re-rendered).
        self._targets = [t for t in self._targets if t.figure.document is not None]
        target = _Target(handles)
        self._targets.append(target)
        target.y_range.on_change("end", lambda _attr, _old, end: self._scroll(end))
        # Re-lay everything out, so the new plot starts from the full state
        # (the others get the same data again; this happens once per render).
        now = self._clock.now_ns()
        self._rebuild(now)
        self._move_window(now)

    def _element(self) -> hv.Rectangles:
        empty = {
            "x0": np.array([], "datetime64[ns]"),
            "y0": np.array([], float),
            "x1": np.array([], "datetime64[ns]"),
            "y1": np.array([], float),
            **{column: np.array([], object) for column in _TEXT_COLUMNS},
        }
        now = np.datetime64(self._clock.now_ns(), "ns")
        return hv.Rectangles(
            empty, kdims=["x0", "y0", "x1", "y1"], vdims=list(_TEXT_COLUMNS)
        ).opts(
            backend="bokeh",
            color="state",
            cmap=dict(STATE_COLOURS),
            line_color="white",
            line_width=0.5,
            fill_alpha=0.9,
            xlim=(now - np.timedelta64(self._window_ns, "ns"), now),
            ylim=(-0.5, 0.5),
            xlabel="",
            ylabel="",
            show_grid=True,
            show_legend=False,
            # Canvas, not WebGL: identical pixels on every machine (screenshot
            # tests) and float64 geometry; a few thousand bars draw fast anyway.
            # The tooltip follows the mouse: snapped to a current bar's centre,
            # beyond the right edge, Bokeh would not show it.
            backend_opts={
                "plot.output_backend": "canvas",
                "hover.point_policy": "follow_mouse",
            },
            responsive=True,
            height=_MIN_HEIGHT_PX,
            # Dragging scrolls the lanes (when there are more than MAX_LANES);
            # the wheel is left to the page.
            tools=["hover", "ypan"],
            active_tools=["ypan"],
            default_tools=[],
            toolbar=None,
            hover_tooltips=[
                ("Workflow", "@{workflow}"),
                ("Source", "@{source}"),
                ("Job", "@{job}"),
                ("State", "@{state}"),
                ("Message", "@{message}"),
                ("From", "@{since}"),
                ("To", "@{until}"),
            ],
            hooks=[self._attach],
        )
