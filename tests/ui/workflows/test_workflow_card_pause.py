"""Pause and Resume on a workflow card's header: offered only where a fresh
backend worker accepts them (docs/decisions/0011-paused-aggregate-and-action-support.md)."""

from __future__ import annotations

from workflow_rig import BANKS, DETECTOR, Rig, badge_of, click

from jobdash.domain.access import Actor, Role
from jobdash.domain.commands import JobAction
from jobdash.domain.job_state import JobState
from jobdash.testing.actors import OPERATOR
from jobdash.ui.workflows.workflow_card import WorkflowCard


class Support:
    """A ``WorkerRegistry.sources_supporting`` stand-in whose answer can change."""

    def __init__(self, *sources: str, actions=("pause", "resume")) -> None:
        self.sources = frozenset(sources)
        self.actions = frozenset(actions)

    def __call__(self, action: str) -> frozenset[str]:
        return self.sources if action in self.actions else frozenset()


def make_card(rig: Rig, support, actor=OPERATOR) -> WorkflowCard:
    return WorkflowCard(
        rig.orchestrator,
        rig.orchestrator.snapshot(DETECTOR),
        rig.clock,
        actor=actor,
        notifications=rig.notifications,
        action_support=support,
    )


def refresh(rig: Rig, card: WorkflowCard) -> None:
    card.update(rig.orchestrator.snapshot(DETECTOR))


def running(rig: Rig, card: WorkflowCard, state=JobState.active) -> None:
    rig.commit()
    rig.beat(state=state)
    refresh(rig, card)


def test_a_stopped_card_offers_no_pause_and_builds_no_button():
    rig = Rig()
    card = make_card(rig, Support(*BANKS))
    assert card.hold_action is None


def test_a_running_card_offers_pause_which_pauses_its_jobs():
    rig = Rig()
    card = make_card(rig, Support(*BANKS))
    running(rig, card)
    hold = card.hold_action
    assert hold is not None
    assert (hold.visible, hold.label, hold.disabled) == (True, "Pause", False)
    assert "jd-pause" in hold.css_classes
    rig.sink.clear()
    click(hold)
    assert [c.action for c in rig.job_commands()] == [JobAction.pause] * 4
    assert (
        "Pause sent to 4 job(s)."
        in card.__panel__()
        .select(lambda o: "jd-wf-notes" in getattr(o, "css_classes", []))[0]
        .object
    )


def test_a_paused_card_shows_paused_and_offers_resume():
    rig = Rig()
    card = make_card(rig, Support(*BANKS))
    running(rig, card, JobState.paused)
    assert badge_of(card) == "PAUSED 4/4"
    assert "jd-state-paused" in card.header.object
    hold = card.hold_action
    assert hold is not None
    assert (hold.label, "jd-resume" in hold.css_classes) == ("Resume", True)
    rig.sink.clear()
    click(hold)
    assert [c.action for c in rig.job_commands()] == [JobAction.resume] * 4
    rig.beat()
    refresh(rig, card)
    assert badge_of(card) == "ACTIVE 4/4"
    assert card.hold_action is hold  # the same button, its role changed back
    assert hold.label == "Pause"


def test_a_partly_paused_card_offers_resume():
    rig = Rig()
    card = make_card(rig, Support(*BANKS))
    running(rig, card)
    rig.beat(state=JobState.paused, sources=BANKS[:1])
    refresh(rig, card)
    assert badge_of(card) == "PAUSED 1/4"
    assert card.hold_action is not None
    assert card.hold_action.label == "Resume"


def test_no_pause_where_no_worker_accepts_it():
    rig = Rig()
    card = make_card(rig, Support(*BANKS, actions=("stop",)))
    running(rig, card)
    assert card.hold_action is None


def test_pause_goes_away_when_the_worker_does_and_comes_back_with_it():
    rig = Rig()
    support = Support(*BANKS)
    card = make_card(rig, support)
    running(rig, card)
    assert card.hold_action is not None
    support.sources = frozenset()
    card.retime(rig.orchestrator.snapshot(DETECTOR), rig.clock.now_ns())
    assert not card.hold_action.visible
    support.sources = frozenset(BANKS[:1])
    card.retime(rig.orchestrator.snapshot(DETECTOR), rig.clock.now_ns())
    assert card.hold_action.visible


def test_a_stop_requested_hides_pause():
    rig = Rig()
    card = make_card(rig, Support(*BANKS))
    running(rig, card)
    rig.orchestrator.stop_workflow(DETECTOR, actor=OPERATOR)
    refresh(rig, card)
    assert card.hold_action is not None
    assert not card.hold_action.visible


def test_a_viewers_pause_is_disabled_and_a_forged_click_is_refused():
    rig = Rig()
    viewer = Actor("vera", Role.viewer)
    card = make_card(rig, Support(*BANKS), actor=viewer)
    running(rig, card)
    hold = card.hold_action
    assert hold is not None
    assert (hold.visible, hold.disabled) == (True, True)
    rig.sink.clear()
    click(hold)  # forged by a browser
    assert rig.job_commands() == []
    assert any(
        "viewer 'vera' may not pause workflows" in n.text
        for n in rig.notifications.since(0)
    )


def test_the_workflow_view_gives_its_cards_the_workers_support():
    from jobdash.ui.workflows.workflow_widget import WorkflowWidget

    rig = Rig()
    rig.commit()
    rig.beat()
    widget = WorkflowWidget(
        rig.orchestrator, rig.clock, actor=OPERATOR, action_support=Support(*BANKS)
    )
    hold = widget.card(DETECTOR).hold_action
    assert hold is not None
    assert hold.label == "Pause"
