from __future__ import annotations

import uuid

import pytest
from bokeh.document import Document
from bokeh.document.events import (
    ColumnDataChangedEvent,
    ColumnsPatchedEvent,
    ColumnsStreamedEvent,
)
from bokeh.models import Axis, ColumnDataSource, GlyphRenderer, HoverTool, Plot

from jobdash.domain import JobId, JobState, JobStatus, ManualClock, WorkflowId
from jobdash.services.status_history import StatusHistory
from jobdash.ui.timeline import LANE_MARGIN, MAX_LANES, STATE_COLOURS, TimelineView

DETECTOR = WorkflowId("dream", "detector_view", 1)
MONITOR = WorkflowId("dream", "monitor_view", 1)
SECOND = 1_000_000_000
MS = 1_000_000


def job(source: str = "mantle", number: int = 1) -> JobId:
    return JobId(source, uuid.UUID(int=number))


class Feed:
    def __init__(self, history: StatusHistory) -> None:
        self.history = history
        self.t = 0

    def beat(
        self,
        job_id: JobId,
        state: JobState = JobState.active,
        *,
        workflow: WorkflowId = DETECTOR,
        error: str | None = None,
    ) -> None:
        self.t += 1
        self.history.status_updated(
            JobStatus(job_id, workflow, state, error_message=error, timestamp=self.t)
        )


class Rendered:
    """The view rendered into a Bokeh document, recording what changes."""

    def __init__(self, view: TimelineView) -> None:
        self.document = Document()
        self.root = view.__panel__().get_root(self.document)
        self.document.add_root(self.root)
        self.events: list[object] = []
        self.document.on_change(self.events.append)

    @property
    def source(self) -> ColumnDataSource:
        (renderer,) = self.root.select({"type": GlyphRenderer})
        return renderer.data_source

    @property
    def figure(self) -> Plot:
        (figure,) = self.root.select({"type": Plot})
        return figure

    @property
    def x_range(self):
        return self.figure.x_range

    @property
    def yaxis(self) -> Axis:
        (axis,) = self.figure.left
        return axis

    def of(self, kind: type) -> list[object]:
        return [e for e in self.events if isinstance(e, kind)]

    def column(self, name: str) -> list[object]:
        return list(self.source.data[name])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def history(clock: ManualClock) -> StatusHistory:
    return StatusHistory(clock, window=600.0, stale_after=6.0)


@pytest.fixture
def feed(history: StatusHistory) -> Feed:
    return Feed(history)


@pytest.fixture
def view(history: StatusHistory, clock: ManualClock) -> TimelineView:
    return TimelineView(history, clock)


def test_lanes_are_grouped_by_workflow_then_source(view, feed, clock):
    feed.beat(job("mantle", 1), workflow=MONITOR)
    feed.beat(job("endcap", 2))
    feed.beat(job("mantle", 3))
    clock.advance(1)
    view.refresh()
    assert view.lanes == [
        "detector_view · endcap",
        "detector_view · mantle",
        "monitor_view · mantle",
    ]
    rendered = Rendered(view)
    assert rendered.yaxis.major_label_overrides == dict(enumerate(view.lanes))
    assert rendered.yaxis.ticker.ticks == [0, 1, 2]


def test_workflows_sharing_a_name_are_told_apart_by_their_full_id(view, feed, clock):
    feed.beat(job("mantle", 1))
    feed.beat(job("mantle", 2), workflow=WorkflowId("dream", "detector_view", 2))
    clock.advance(1)
    view.refresh()
    assert view.lanes == [
        "dream/detector_view/1 · mantle",
        "dream/detector_view/2 · mantle",
    ]


def test_jobs_of_one_source_in_one_workflow_share_a_lane(view, feed, clock):
    feed.beat(job("mantle", 1), JobState.stopped)
    feed.beat(job("mantle", 2))  # the next job number of the same source
    clock.advance(1)
    view.refresh()
    assert view.lanes == ["detector_view · mantle"]
    assert len(view.shown) == 2


def test_bars_carry_state_message_and_times_and_are_coloured_by_state(
    view, feed, clock
):
    start = clock.now_ns()
    feed.beat(job())
    clock.advance(5)
    feed.beat(job(), JobState.error, error="disk full")
    clock.advance(1)
    view.refresh()
    rendered = Rendered(view)
    assert rendered.column("state") == ["active", "error"]
    assert rendered.column("color") == ["active", "error"]
    assert rendered.column("message") == ["", "disk full"]
    assert rendered.column("left") == [start / MS, (start + 5 * SECOND) / MS]
    assert rendered.column("right")[0] == (start + 5 * SECOND) / MS
    # The current bar reaches a minute beyond now; the axis clips it.
    assert rendered.column("right")[1] == (clock.now_ns() + 60 * SECOND) / MS
    assert rendered.column("until") == ["00:00:05", "now"]
    (renderer,) = rendered.root.select({"type": GlyphRenderer})
    mapper = renderer.glyph.fill_color.transform
    assert dict(zip(mapper.factors, mapper.palette, strict=True)) == STATE_COLOURS


def test_new_segment_is_streamed_and_an_ended_one_patched(view, feed, clock):
    feed.beat(job("a", 1))
    feed.beat(job("b", 2))
    clock.advance(1)
    view.refresh()
    rendered = Rendered(view)
    rendered.events.clear()

    clock.advance(2)
    feed.beat(job("a", 1), JobState.warning)
    ended = clock.now_ns()
    clock.advance(1)
    view.refresh()

    assert not rendered.of(ColumnDataChangedEvent)
    (streamed,) = rendered.of(ColumnsStreamedEvent)
    assert list(streamed.data["state"]) == ["warning"]
    (patched,) = rendered.of(ColumnsPatchedEvent)
    assert patched.patches["right"] == [(0, ended / MS)]
    assert rendered.column("state") == ["active", "active", "warning"]


def test_time_axis_follows_the_clock_even_without_changes(view, feed, clock):
    feed.beat(job())
    view.refresh()
    rendered = Rendered(view)
    clock.advance(3)
    view.refresh()
    assert rendered.x_range.end == clock.now_ns() / MS
    assert rendered.x_range.start == (clock.now_ns() - 600 * SECOND) / MS


def test_current_bars_are_extended_in_one_patch_before_now_reaches_their_end(
    view, feed, clock
):
    feed.beat(job("a", 1))
    feed.beat(job("b", 2), JobState.stopped)
    feed.beat(job("c", 3))
    clock.advance(1)
    view.refresh()
    rendered = Rendered(view)
    drawn_to = rendered.column("right")
    for _ in range(29):  # heartbeats change nothing; bars are left alone
        clock.advance(1)
        for number, source in enumerate("abc", start=1):
            state = JobState.stopped if source == "b" else JobState.active
            feed.beat(job(source, number), state)
        rendered.events.clear()
        view.refresh()
        assert not rendered.of(ColumnsPatchedEvent)
    assert rendered.column("right") == drawn_to
    clock.advance(1)  # 30 s before the drawn end
    view.refresh()
    (patched,) = rendered.of(ColumnsPatchedEvent)
    end = (clock.now_ns() + 60 * SECOND) / MS
    assert sorted(patched.patches["right"]) == [(0, end), (1, end), (2, end)]


def test_updates_at_most_once_a_second_whatever_the_refresh_rate(
    view, feed, clock, history, monkeypatch
):
    feed.beat(job())
    clock.advance(1)
    view.refresh()
    rendered = Rendered(view)
    reads = []
    original = history.changes_since
    monkeypatch.setattr(
        history,
        "changes_since",
        lambda cursor: reads.append(cursor) or original(cursor),
    )
    rendered.events.clear()
    feed.beat(job(), JobState.error)
    for _ in range(3):
        clock.advance(0.25)
        view.refresh()
    assert reads == []
    assert rendered.events == []
    clock.advance(0.25)
    view.refresh()
    assert len(reads) == 1
    assert rendered.of(ColumnsStreamedEvent)


def test_new_lane_re_lays_out_and_re_sends_the_data(view, feed, clock):
    feed.beat(job("b", 2))
    clock.advance(1)
    view.refresh()
    rendered = Rendered(view)
    rendered.events.clear()
    feed.beat(job("a", 1))
    clock.advance(1)
    view.refresh()
    assert rendered.of(ColumnDataChangedEvent)
    assert view.lanes == ["detector_view · a", "detector_view · b"]
    assert rendered.column("source") == ["b", "a"]
    assert rendered.column("bottom") == pytest.approx([1 - 0.38, 0 - 0.38])
    assert rendered.yaxis.major_label_overrides == {
        0: "detector_view · a",
        1: "detector_view · b",
    }


def test_segments_leaving_the_window_are_dropped(view, feed, clock, history):
    feed.beat(job("old", 1))
    clock.advance(10)
    history.tick()  # silent for 10 s: its bar ends at its last heartbeat
    feed.beat(job("new", 2))
    clock.advance(1)
    view.refresh()
    rendered = Rendered(view)
    assert rendered.column("source") == ["old", "new"]

    for _ in range(600):  # ten minutes of heartbeats from the live job
        clock.advance(1)
        feed.beat(job("new", 2))
        history.tick()
        view.refresh()
    assert [s.job_id.source_name for s in view.shown.values()] == ["new"]
    assert view.lanes == ["detector_view · new"]
    assert rendered.column("source") == ["new"]


def test_expired_bars_are_not_re_sent_more_often_than_every_30_seconds(
    view, feed, clock, history
):
    start = clock.now_ns()
    feed.beat(job("old1", 1))
    feed.beat(job("new", 3))
    clock.advance(5)
    feed.beat(job("old2", 2))
    feed.beat(job("new", 3))
    clock.advance(5)
    feed.beat(job("new", 3))
    clock.advance(2)
    history.tick()  # old1 and old2 went silent: their bars end
    view.refresh()
    rendered = Rendered(view)

    def step(at_seconds: float) -> None:
        clock.set(start + round(at_seconds * SECOND))
        feed.beat(job("new", 3))
        history.tick()
        rendered.events.clear()
        view.refresh()

    step(600.5)  # old1 (ended at 0 s) left the window; last re-send long ago
    assert rendered.of(ColumnDataChangedEvent)
    assert "old1" not in rendered.column("source")

    step(606)  # old2 (ended at 5 s) left too, 5.5 s after the last re-send
    assert "old2" not in {s.job_id.source_name for s in view.shown.values()}
    assert not rendered.of(ColumnDataChangedEvent)
    assert "old2" in rendered.column("source")  # still drawn, off-screen

    step(631)
    assert rendered.of(ColumnDataChangedEvent)
    assert "old2" not in rendered.column("source")
    assert view.lanes == ["detector_view · new"]


def test_plot_rendered_later_shows_everything_seen_so_far(view, feed, clock):
    feed.beat(job("a", 1))
    clock.advance(1)
    view.refresh()
    feed.beat(job("a", 1), JobState.error)
    clock.advance(1)
    view.refresh()
    rendered = Rendered(view)
    assert rendered.column("state") == ["active", "error"]
    assert rendered.x_range.end == clock.now_ns() / MS


def test_reader_reset_by_the_history_starts_over(clock):
    history = StatusHistory(clock, log_capacity=4)
    feed = Feed(history)
    view = TimelineView(history, clock)
    rendered = Rendered(view)
    for number in range(10):
        feed.beat(job(f"s{number}", number))
    clock.advance(1)
    view.refresh()
    assert sorted(rendered.column("source")) == [f"s{n}" for n in range(10)]
    assert len(view.lanes) == 10


def test_hover_shows_text_fields_escaped(view, feed, clock):
    feed.beat(job("<b>src</b>"), JobState.error, error="<img src=x onerror=alert(1)>")
    clock.advance(1)
    view.refresh()
    rendered = Rendered(view)
    (hover,) = rendered.root.select({"type": HoverTool})
    fields = [field for _, field in hover.tooltips]
    assert "@{message}" in fields
    assert all("{safe}" not in field for field in fields)
    # Snapped to the centre of a current bar (beyond the axis end), Bokeh
    # would hide the tooltip; it follows the mouse instead.
    assert hover.point_policy == "follow_mouse"
    # The raw text is data, escaped by Bokeh when the tooltip shows it.
    assert rendered.column("message") == ["<img src=x onerror=alert(1)>"]


def test_empty_history_says_so(view, feed, clock):
    root = view.__panel__()
    assert "jd-timeline" in root.css_classes
    (empty, _) = root.objects
    assert empty.visible
    feed.beat(job())
    clock.advance(1)
    view.refresh()
    assert not empty.visible


def test_at_most_max_lanes_are_in_view_and_dragging_scrolls_the_others(
    view, feed, clock
):
    for n in range(MAX_LANES + 10):
        feed.beat(job(f"bank{n:02d}", n + 1))
    clock.advance(1)
    view.refresh()
    rendered = Rendered(view)
    y = rendered.figure.y_range
    # The first MAX_LANES lanes, top to bottom, and no taller a figure.
    assert (y.start, y.end) == (MAX_LANES - 0.5, -0.5)
    assert y.bounds == (-0.5, MAX_LANES + 10 - 0.5)
    height = rendered.figure.height
    assert height < 30 * MAX_LANES
    (pan,) = [t for t in rendered.figure.tools if type(t).__name__ == "PanTool"]
    assert pan.dimensions == "height"
    assert rendered.figure.toolbar.active_drag is pan

    # The operator drags down to lanes 5..; a new lane keeps that view.
    y.update(start=MAX_LANES + 5 - 0.5, end=5 - 0.5)
    feed.beat(job("zz_new", 999))
    clock.advance(1)
    view.refresh()
    assert len(view.lanes) == MAX_LANES + 11
    assert (y.start, y.end) == (MAX_LANES + 5 - 0.5, 5 - 0.5)
    assert rendered.figure.height == height


def test_only_the_lanes_around_those_in_view_are_sent_and_a_drag_brings_more(
    view, feed, clock
):
    lanes = MAX_LANES + 2 * LANE_MARGIN + 60
    for n in range(lanes):
        feed.beat(job(f"bank{n:03d}", n + 1))
    clock.advance(1)
    view.refresh()
    rendered = Rendered(view)
    sent = MAX_LANES + LANE_MARGIN
    assert sorted(rendered.column("source")) == [f"bank{n:03d}" for n in range(sent)]
    assert rendered.yaxis.ticker.ticks == list(range(sent))
    assert set(rendered.yaxis.major_label_overrides) == set(range(sent))
    y = rendered.figure.y_range
    assert y.bounds == (-0.5, lanes - 0.5)  # the drag reaches every lane

    # A short drag stays within what was sent: nothing is re-sent.
    rendered.events.clear()
    y.update(start=MAX_LANES + 10 - 0.5, end=10 - 0.5)
    assert not rendered.of(ColumnDataChangedEvent)

    # The browser drags to lane 100: the lanes around it are sent, the range
    # stays where the operator put it, and new bars of those lanes stream.
    y.update(start=MAX_LANES + 100 - 0.5, end=100 - 0.5)
    window = range(100 - LANE_MARGIN, 100 + MAX_LANES + LANE_MARGIN)
    assert sorted(rendered.column("source")) == [f"bank{n:03d}" for n in window]
    assert rendered.yaxis.ticker.ticks == list(window)
    assert rendered.yaxis.major_label_overrides[100] == "detector_view · bank100"
    assert (y.start, y.end) == (MAX_LANES + 100 - 0.5, 100 - 0.5)
    feed.beat(job("bank100", 101), JobState.error, error="boom")
    feed.beat(job("bank000", 1), JobState.error, error="elsewhere")
    clock.advance(1)
    view.refresh()
    assert rendered.column("message").count("boom") == 1
    assert "elsewhere" not in rendered.column("message")
    assert len(view.shown) == lanes + 2  # every segment is kept, sent or not


def test_few_lanes_are_all_in_view(view, feed, clock):
    feed.beat(job("mantle", 1))
    feed.beat(job("endcap", 2))
    clock.advance(1)
    view.refresh()
    y = Rendered(view).figure.y_range
    assert (y.start, y.end) == (1.5, -0.5)
