"""The workflow view over a real JobOrchestrator: cards, refresh and its economy."""

from __future__ import annotations

import re
from collections import Counter
from html import unescape

import pytest
from bokeh.document import Document
from workflow_rig import (
    BANKS,
    DETECTOR,
    MONITORS,
    Rig,
    badge_of,
    click,
    find,
    meta_of,
    text_of,
)

from jobdash.domain.access import Actor, Role
from jobdash.domain.job_state import JobState
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.domain.workflow_status import WorkflowAggregate
from jobdash.testing.actors import OPERATOR
from jobdash.ui.workflows.workflow_widget import WorkflowWidget


@pytest.fixture
def rig() -> Rig:
    return Rig()


def make_widget(rig: Rig, **options) -> WorkflowWidget:
    options.setdefault("actor", OPERATOR)
    return WorkflowWidget(
        rig.orchestrator,
        rig.clock,
        data_service=rig.data,
        notifications=rig.notifications,
        **options,
    )


def badge(widget: WorkflowWidget, workflow_id=DETECTOR) -> str:
    return badge_of(widget.card(workflow_id))


class PaneEvents:
    """Counts, per workflow, the changes sent for its card's markup panes."""

    def __init__(self, widget: WorkflowWidget) -> None:
        self.counts: Counter[str] = Counter()
        self._widget = widget
        self._watched: set[int] = set()
        self.watch_all()

    def watch_all(self) -> None:
        for workflow_id, card in self._widget.cards.items():
            panes = [card.header]
            if card.body_built:
                panes += [card._status, card._message, card._notes]
            for pane in panes:
                if id(pane) not in self._watched:
                    self._watched.add(id(pane))
                    pane.param.watch(
                        lambda _e, name=workflow_id.name: self.counts.update([name]),
                        "object",
                    )


def test_one_card_per_catalogued_workflow_in_catalogue_order(rig):
    widget = make_widget(rig)

    layout = widget.__panel__()

    assert layout.css_classes == ["jd-workflow-widget"]
    assert widget.toolbar is None  # six workflows fit on one page
    assert widget.shown == list(widget.cards) == rig.catalogue.workflow_ids
    (box,) = layout.objects
    assert box.objects == [card.__panel__() for card in widget.cards.values()]
    assert [card.css_classes for card in box.objects] == [
        ["jd-workflow-card", name]
        for name in [
            "jd-wf-detector_view",
            "jd-wf-monitor_histogram",
            "jd-wf-focussed_dspacing",
            "jd-wf-two_theta_map",
            "jd-wf-sans_iofq",
            "jd-wf-event_rate",
        ]
    ]


def test_the_view_renders_into_a_bokeh_document(rig):
    rig.commit()
    widget = make_widget(rig)

    model = widget.__panel__().get_root(Document())

    assert "jd-workflow-widget" in model.css_classes
    (box,) = model.children
    cards = box.children["flex-item"]  # FlexBox is a ReactiveHTML
    assert [card.css_classes[-2:] for card in cards][:2] == [
        ["jd-workflow-card", "jd-wf-detector_view"],
        ["jd-workflow-card", "jd-wf-monitor_histogram"],
    ]
    assert len(cards) == len(rig.catalogue.workflows)


def test_badge_follows_the_lifecycle_after_each_refresh(rig):
    widget = make_widget(rig)
    seen = [badge(widget)]

    rig.commit()
    widget.refresh()
    seen.append(badge(widget))
    rig.beat()
    widget.refresh()
    seen.append(badge(widget))
    rig.orchestrator.stop_workflow(DETECTOR, actor=OPERATOR)
    widget.refresh()
    seen.append(badge(widget))
    rig.beat(sources=BANKS[:1], state=JobState.stopped)
    widget.refresh()
    seen.append(badge(widget))
    rig.beat(state=JobState.stopped)
    widget.refresh()
    seen.append(badge(widget))

    assert seen == [
        "STOPPED",
        "PENDING 4/4",
        "ACTIVE 4/4",
        "STOPPING 4/4",
        "STOPPING 3/4",
        "STOPPED 4/4",
    ]


def test_an_error_shows_on_the_badge_and_its_message_on_the_card(rig):
    rig.commit()
    rig.beat()
    widget = make_widget(rig)

    rig.beat(
        sources=BANKS[1:2], state=JobState.error, error_message="detector <offline>"
    )
    widget.refresh()

    card = widget.card(DETECTOR)
    assert badge(widget) == "ERROR 1/4"
    assert "jd-status-badge jd-state-error" in card.header.object
    assert (
        text_of(card._message.object) == "endcap_backward_detector: detector <offline>"
    )
    assert "&lt;offline&gt;" in card._message.object


def test_silent_jobs_turn_the_badge_stale_once_the_orchestrator_ticks(rig):
    rig.commit()
    rig.beat()
    widget = make_widget(rig)

    rig.clock.advance(7)  # stale_after is 6 s
    rig.orchestrator.tick()
    widget.refresh()

    assert badge(widget) == "STALE 4/4"
    assert "stale" in text_of(widget.card(DETECTOR)._status.object)

    rig.beat()
    widget.refresh()

    assert badge(widget) == "ACTIVE 4/4"


def test_refresh_without_a_change_sends_nothing(rig):
    rig.commit()
    rig.beat()
    widget = make_widget(rig)
    events = PaneEvents(widget)

    widget.refresh()
    widget.refresh()

    assert events.counts == Counter()


def test_only_the_card_of_the_workflow_that_changed_is_touched(rig):
    rig.commit()
    rig.beat()
    rig.commit(MONITORS, ("monitor_cave",))
    rig.beat(MONITORS)
    widget = make_widget(rig)
    events = PaneEvents(widget)
    versions = {wid: card.rendered_version for wid, card in widget.cards.items()}

    rig.beat(MONITORS, state=JobState.error, error_message="boom")
    widget.refresh()

    assert set(events.counts) == {"monitor_histogram"}
    assert badge(widget, MONITORS) == "ERROR 1/1"
    changed = {
        wid
        for wid, card in widget.cards.items()
        if card.rendered_version != versions[wid]
    }
    assert changed == {MONITORS}


def late_heartbeat_ages(card) -> set[str]:
    return set(
        re.findall(r"last heartbeat ([^&\n]*?) ago", unescape(card._status.object))
    )


def test_time_dependent_texts_change_at_most_once_a_second_in_five_second_steps():
    rig = Rig(stale_after=30.0)  # so the silent jobs stay "late", not stale
    rig.commit()
    rig.beat()
    widget = make_widget(rig)
    card = widget.card(DETECTOR)

    rig.clock.advance(5.6)
    widget.refresh()
    assert late_heartbeat_ages(card) == {"5 s"}

    rig.clock.advance(4.0)  # ticked at 9.6 s: still "5 s"
    widget.refresh()
    assert late_heartbeat_ages(card) == {"5 s"}

    rig.clock.advance(0.6)  # 10.2 s, but 0.6 s since the last tick: not yet
    widget.refresh()
    assert late_heartbeat_ages(card) == {"5 s"}

    rig.clock.advance(0.5)
    widget.refresh()
    assert late_heartbeat_ages(card) == {"10 s"}


def test_idle_cards_are_not_ticked():
    rig = Rig(stale_after=30.0)
    rig.commit()
    rig.beat()
    widget = make_widget(rig)
    events = PaneEvents(widget)

    rig.clock.advance(6)  # the detector's jobs are late: their ages count up
    widget.refresh()

    assert set(events.counts) == {"detector_view"}


def test_restart_through_the_view_shows_the_previous_jobset_until_it_stops(rig):
    first = rig.commit()
    rig.beat()
    widget = make_widget(rig)
    card = widget.card(DETECTOR)
    rig.sink.clear()

    click(find(card, "jd-commit"))
    assert rig.sink.sent == []
    click(find(card, "jd-confirm"))
    widget.refresh()

    status = text_of(card._status.object)
    assert f"previous {first.hex[:8]}: stopping 4/4" in status
    assert badge(widget) == "PENDING 4/4"

    rig.beat(which="previous", state=JobState.stopped)
    rig.beat()
    widget.refresh()

    assert "previous" not in text_of(card._status.object)
    assert badge(widget) == "ACTIVE 4/4"


def test_a_read_only_policy_makes_a_read_only_view():
    rig = Rig(read_only=True)
    # The policy is the one switch: read-only, it makes every session a viewer.
    widget = make_widget(rig, actor=rig.actor_for(None))
    card = widget.card(DETECTOR)
    card.set_expanded(True)

    start = find(card, "jd-start")

    assert start.disabled


def test_a_viewer_session_gets_read_only_cards(rig):
    widget = make_widget(rig, actor=Actor("victor", Role.viewer))
    card = widget.card(DETECTOR)
    card.set_expanded(True)

    assert find(card, "jd-start").disabled
    assert card.staging.source_selector.disabled


def test_no_data_after_must_be_positive(rig):
    with pytest.raises(ValueError, match="no_data_after"):
        make_widget(rig, no_data_after=0)


def big_catalogue(n: int) -> WorkflowCatalogue:
    return WorkflowCatalogue.model_validate(
        {
            "instrument": "big",
            "workflows": [
                {
                    "id": f"big/wf{i:04d}/1",
                    "title": f"Workflow {i}",
                    "source_names": ["a", "b", "c", "d"],
                    "parameters": [
                        {"name": "bins", "type": "int", "default": 10, "min": 1}
                    ],
                }
                for i in range(n)
            ],
        }
    )


def test_a_large_catalogue_builds_only_the_cards_of_the_first_page():
    catalogue = big_catalogue(300)
    rig = Rig(catalogue=catalogue)
    wids = catalogue.workflow_ids
    for wid in (wids[1], wids[2], wids[200]):
        rig.commit(wid, ("a", "b"))

    widget = make_widget(rig, page_size=24)

    assert widget.shown == wids[:24]
    assert list(widget.cards) == wids[:24]
    assert [wid for wid, card in widget.cards.items() if card.body_built] == wids[1:3]
    assert widget.toolbar is not None
    assert widget.toolbar.page_text == "Page 1 of 13 · 300 match"
    assert "300 workflows: PENDING 3 STOPPED 297" in text_of(
        widget.toolbar._summary.object
    )


def test_a_large_catalogue_refreshes_only_the_shown_card_that_changed():
    catalogue = big_catalogue(300)
    rig = Rig(catalogue=catalogue)
    wids = catalogue.workflow_ids
    for wid in (wids[1], wids[2], wids[200]):
        rig.commit(wid, ("a", "b"))
    widget = make_widget(rig, page_size=24)
    events = PaneEvents(widget)

    rig.beat(wids[1])
    rig.beat(wids[200])  # not shown: only counted
    widget.refresh()

    assert set(events.counts) == {wids[1].name}
    assert badge(widget, wids[1]) == "ACTIVE 2/2"
    assert wids[200] not in widget.cards
    assert widget.pager.counts()[WorkflowAggregate.ACTIVE] == 2


def test_paging_shows_later_workflows_up_to_date_and_keeps_built_cards(rig):
    catalogue = big_catalogue(30)
    rig = Rig(catalogue=catalogue)
    wids = catalogue.workflow_ids
    widget = make_widget(rig, page_size=10)
    first = widget.card(wids[0])
    rig.commit(wids[25], ("a",))
    rig.beat(wids[25])
    widget.refresh()

    click(widget.toolbar.next_button)
    click(widget.toolbar.next_button)

    assert widget.shown == wids[20:30]
    assert badge(widget, wids[25]) == "ACTIVE 1/1"
    assert widget.toolbar.next_button.disabled
    assert widget.toolbar.page_text == "Page 3 of 3 · 30 match"

    click(widget.toolbar.previous_button)
    click(widget.toolbar.previous_button)

    assert widget.shown == wids[:10]
    assert widget.card(wids[0]) is first


def test_needs_attention_filter_follows_workflows_into_and_out_of_trouble():
    catalogue = big_catalogue(30)
    rig = Rig(catalogue=catalogue)
    wids = catalogue.workflow_ids
    for wid in (wids[3], wids[17]):
        rig.commit(wid, ("a",))
        rig.beat(wid)
    widget = make_widget(rig, page_size=10)

    widget.toolbar.filter_select.value = "Needs attention"
    assert widget.shown == []
    assert widget.toolbar.page_text == "no workflow matches"

    rig.beat(wids[17], state=JobState.error, error_message="boom")
    widget.refresh()
    assert widget.shown == [wids[17]]
    assert badge(widget, wids[17]) == "ERROR 1/1"

    rig.beat(wids[17])
    widget.refresh()
    assert widget.shown == []


def test_search_matches_title_or_id_case_insensitively():
    catalogue = big_catalogue(30)
    rig = Rig(catalogue=catalogue)
    widget = make_widget(rig, page_size=10)

    widget.toolbar.search_input.value = "WORKFLOW 2"

    assert [wid.name for wid in widget.shown] == ["wf0002"] + [
        f"wf{i:04d}" for i in range(20, 29)
    ]

    widget.toolbar.search_input.value = "wf0029"

    assert [wid.name for wid in widget.shown] == ["wf0029"]


def test_heartbeat_ages_stay_current_though_repeated_heartbeats_bump_no_version(rig):
    rig.commit()
    rig.beat()
    widget = make_widget(rig)
    version = rig.orchestrator.version

    for _ in range(10):  # 20 s of healthy, unchanging heartbeats
        rig.clock.advance(1)
        widget.refresh()
        rig.clock.advance(1)
        rig.beat()
        widget.refresh()

    assert rig.orchestrator.version == version  # nothing visible changed
    tooltips = re.findall(r'title="([^"]*)"', widget.card(DETECTOR)._status.object)
    assert all("last heartbeat under 5 s ago" in tip for tip in tooltips)


def test_a_healthy_card_sends_nothing_between_uptime_minutes(rig):
    rig.commit()
    rig.beat()
    rig.clock.advance(61)
    rig.beat()
    widget = make_widget(rig)
    events = PaneEvents(widget)

    for _ in range(20):
        rig.clock.advance(1)
        rig.beat()
        widget.refresh()

    assert events.counts == Counter()
    assert meta_of(widget.card(DETECTOR)).endswith("up 1 min")
