"""One workflow card over a real JobOrchestrator: display, staging and actions."""

from __future__ import annotations

import re
import uuid

import pytest
from workflow_rig import (
    BANKS,
    DETECTOR,
    MONITORS,
    POWDER,
    SANS,
    Rig,
    badge_of,
    click,
    meta_of,
    text_of,
)

from jobdash.catalogue_file import shipped_catalogue
from jobdash.domain.access import AccessPolicy
from jobdash.domain.commands import JobAction
from jobdash.domain.data_result import DataResult
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.testing.actors import OPERATOR
from jobdash.ui.workflows.workflow_card import WorkflowCard, card_css_name

RATES = WorkflowId("dream", "event_rate", 1)


@pytest.fixture
def rig() -> Rig:
    return Rig()


def make_card(rig: Rig, workflow_id=DETECTOR, **options) -> WorkflowCard:
    options.setdefault("notifications", rig.notifications)
    options.setdefault("actor", OPERATOR)
    return WorkflowCard(
        rig.orchestrator, rig.orchestrator.snapshot(workflow_id), rig.clock, **options
    )


def refresh(rig: Rig, card: WorkflowCard) -> None:
    card.update(rig.orchestrator.snapshot(card.snapshot.workflow_id))


def buttons(card: WorkflowCard):
    """The card's buttons (header row, confirm bar, body) by their CSS hooks."""
    found = {}
    for obj in card.__panel__().select(lambda o: hasattr(o, "clicks")):
        for css in obj.css_classes:
            found[css] = obj
    return found


def status_text(card: WorkflowCard) -> str:
    return text_of(card._status.object)


def feedback(card: WorkflowCard) -> str:
    found = re.findall(
        r'<div class="jd-feedback [^"]*">(.*?)</div>', card._notes.object
    )
    return text_of(found[0]) if found else ""


def difference_note(card: WorkflowCard) -> str:
    found = re.findall(r'<div class="jd-diff">(.*?)</div>', card._notes.object)
    return text_of(found[0]) if found else ""


# --- layout ------------------------------------------------------------------


def test_card_carries_the_card_class_and_one_naming_its_workflow(rig):
    card = make_card(rig, POWDER)

    classes = card.__panel__().css_classes

    assert classes == ["jd-workflow-card", "jd-wf-focussed_dspacing"]
    assert card_css_name("a name/with.odd chars") == "jd-wf-a-name-with-odd-chars"


def test_an_idle_card_is_a_header_until_opened(rig):
    card = make_card(rig)

    assert badge_of(card) == "STOPPED"
    assert not card.expanded
    assert not card.body_built
    assert card.staging is None


def test_opening_an_idle_card_builds_its_body_with_the_configuration_open(rig):
    card = make_card(rig)

    click(card._expand)

    assert card.expanded
    assert card.configuring
    assert card.staging is not None
    assert {"jd-start", "jd-commit", "jd-reset", "jd-configure"} <= set(buttons(card))
    assert "jd-stop" not in buttons(card)  # nothing to stop
    assert buttons(card)["jd-start"] is card.header_action
    assert not buttons(card)["jd-commit"].visible  # nothing to restart
    assert buttons(card)["jd-reset"].disabled
    assert card._expand.label == "Hide details"

    click(card._expand)

    assert not card.expanded
    assert card.body_built


def test_a_card_opens_itself_when_its_workflow_starts_but_not_its_configuration(rig):
    card = make_card(rig)
    rig.commit()

    refresh(rig, card)

    assert card.expanded
    assert not card.configuring
    assert card.staging is None
    assert badge_of(card) == "PENDING 4/4"


def test_a_card_the_operator_closed_stays_closed_while_its_workflow_runs(rig):
    rig.commit()
    card = make_card(rig)
    assert card.expanded

    click(card._expand)
    rig.beat()
    refresh(rig, card)

    assert not card.expanded


# --- status --------------------------------------------------------------------


def test_header_shows_short_job_number_and_uptime(rig):
    number = rig.commit()
    rig.beat()
    rig.clock.advance(75)
    card = make_card(rig)

    assert meta_of(card) == f"job {number.hex[:8]} · up 1 min"
    assert f'title="{number}"' in card.header.object


def test_status_shows_one_chip_per_source_and_the_previous_jobset_winding_down(rig):
    first = rig.commit()
    rig.beat()
    rig.commit(sources=BANKS[:2])
    rig.beat(which="previous", sources=BANKS[:1], state=JobState.stopped)
    card = make_card(rig)

    text = status_text(card)

    assert "mantle_detector waiting" in text
    assert "endcap_backward_detector waiting" in text
    assert "high_resolution_detector" not in text.split("previous")[0]
    assert f"previous {first.hex[:8]}: stopping 3/4" in text


def test_error_messages_are_shown_escaped_with_the_full_text_on_demand(rig):
    rig.commit()
    rig.beat(
        sources=BANKS[:1],
        state=JobState.error,
        error_message="<script>alert(1)</script>\nTraceback line 2",
    )
    card = make_card(rig)

    markup = card._message.object

    assert card._message.visible
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    assert "<details" in markup
    assert "Traceback line 2" in markup


def test_an_adopted_job_is_running_config_unknown_and_stoppable(rig):
    job_id = JobId("sans_detector", uuid.uuid4())
    rig.heartbeat(
        JobStatus(job_id, SANS, JobState.active, start_time=rig.clock.now_ns())
    )
    card = make_card(rig, SANS)

    assert "running, config unknown" in status_text(card)
    stop = buttons(card)["jd-stop"]
    assert not stop.disabled

    click(stop)
    click(buttons(card)["jd-confirm"])

    assert [(c.job_id.to_domain(), c.action) for c in rig.job_commands()] == [
        (job_id, JobAction.stop)
    ]


def test_orphans_are_listed_each_with_a_stop_button(rig):
    now = rig.clock.now_ns()
    newer = JobId("sans_detector", uuid.uuid4())
    older = JobId("sans_detector", uuid.uuid4())
    rig.heartbeat(JobStatus(newer, SANS, JobState.active, start_time=now))
    rig.heartbeat(JobStatus(older, SANS, JobState.active, start_time=now - 10**9))
    card = make_card(rig, SANS)

    labels = [text_of(row.objects[0].object) for row in card._orphans.objects]
    assert labels == [f"orphan sans_detector {older.short}: active"]

    click(card._orphans.objects[0].objects[1])

    assert [(c.job_id.to_domain(), c.action) for c in rig.job_commands()] == [
        (older, JobAction.stop)
    ]
    assert "orphan" in feedback(card)


def test_an_active_job_without_data_is_flagged_until_data_arrives(rig):
    rig.commit(sources=BANKS[:2])
    rig.beat()
    card = make_card(rig, data_service=rig.data, no_data_after=30.0)

    def flagged() -> list[str]:
        chip = r'jd-no-data"[^>]*><span class="jd-chip-source">(\w+)'
        return re.findall(chip, card._status.object)

    rig.clock.advance(29)
    rig.beat()  # still heartbeating, so never stale
    refresh(rig, card)
    assert flagged() == []

    rig.clock.advance(2)
    card.tick()
    assert flagged() == ["mantle_detector", "endcap_backward_detector"]

    rig.data.result_received(
        DataResult(card.snapshot.current.jobs[0].job_id, DETECTOR, "image", 1)
    )
    card.tick()
    assert flagged() == ["endcap_backward_detector"]


def test_retiming_an_unchanged_workflow_renders_only_its_times(rig, monkeypatch):
    rig.commit()
    rig.beat()
    card = make_card(rig)
    body_renders = []
    monkeypatch.setattr(card, "_update_notes", lambda: body_renders.append(1))
    rig.clock.advance(75)
    rig.beat()  # moves last_seen only: the workflow's version stays
    card.retime(rig.orchestrator.snapshot(DETECTOR), rig.clock.now_ns())
    assert body_renders == []
    assert meta_of(card).endswith("up 1 min")

    rig.beat(state=JobState.error)
    card.retime(rig.orchestrator.snapshot(DETECTOR), rig.clock.now_ns())
    assert body_renders == [1]
    assert badge_of(card).startswith("ERROR")


# --- starting -------------------------------------------------------------------------


def test_start_commits_the_configuration_shown(rig):
    card = make_card(rig, MONITORS)
    click(card._expand)
    form = card.staging.parameter_form
    form.widgets["toa_bins"].value = 1000
    card.staging.source_selector.value = ["monitor_cave"]

    click(buttons(card)["jd-start"])

    starts = rig.starts()
    assert [c.job_id.source_name for c in starts] == ["monitor_cave"]
    assert starts[0].params == {
        "toa_bins": 1000,
        "toa_max": 71000.0,
        "cumulative": False,
    }
    number = starts[0].job_id.job_number
    assert feedback(card) == f"Started job {number.hex[:8]} for 1 source(s)."
    assert rig.orchestrator.snapshot(MONITORS).current.job_number == number


def test_a_successful_start_closes_the_configuration_which_keeps_its_draft(rig):
    card = make_card(rig, MONITORS)
    click(card._expand)
    assert card.configuring
    card.staging.parameter_form.widgets["toa_bins"].value = 1000

    click(buttons(card)["jd-start"])

    assert not card.configuring
    card.set_configuring(True)
    assert card.staging.parameter_form.widgets["toa_bins"].value == 1000


def test_restart_from_a_card_never_configured_commits_the_staged_config(rig):
    rig.commit()
    rig.beat()
    rig.orchestrator.clear_staged_configs(DETECTOR, actor=OPERATOR)
    rig.orchestrator.stage_config(
        DETECTOR, BANKS[2], {"resolution": 64}, actor=OPERATOR
    )
    card = make_card(rig)
    rig.sink.clear()
    assert card.staging is None

    click(buttons(card)["jd-commit"])
    click(buttons(card)["jd-confirm"])

    assert [(c.job_id.source_name, c.params["resolution"]) for c in rig.starts()] == [
        (BANKS[2], 64)
    ]
    assert card.staging is None


def test_start_commits_the_forms_draft_in_one_call_whatever_was_staged_meanwhile(
    rig, monkeypatch
):
    card = make_card(rig)
    click(card._expand)  # an idle card opens its form: every bank, defaults
    # Another session stages something else after this form was filled in.
    rig.orchestrator.clear_staged_configs(DETECTOR, actor=OPERATOR)
    rig.orchestrator.stage_config(
        DETECTOR, BANKS[2], {"resolution": 64}, actor=OPERATOR
    )
    calls = []
    for name in ("clear_staged_configs", "stage_config"):
        monkeypatch.setattr(
            rig.orchestrator, name, lambda *_a, name=name, **_k: calls.append(name)
        )

    click(buttons(card)["jd-start"])

    assert calls == []  # no separate staging step another session could split
    assert [c.job_id.source_name for c in rig.starts()] == list(BANKS)
    assert tuple(rig.orchestrator.snapshot(DETECTOR).staged) == BANKS


def test_start_sends_each_source_its_aux_source(rig):
    card = make_card(rig, POWDER)
    click(card._expand)
    card.staging.aux_selectors["monitor"].value = "monitor_bunker"
    card.staging.source_selector.value = ["mantle_detector"]

    click(buttons(card)["jd-start"])

    assert [c.aux_source_names for c in rig.starts()] == [{"monitor": "monitor_bunker"}]


def test_an_invalid_parameter_is_refused_with_a_message_and_nothing_is_sent(rig):
    card = make_card(rig)
    click(card._expand)
    card.staging.parameter_form.widgets["resolution"].value = 4

    click(buttons(card)["jd-start"])

    assert rig.sink.sent == []
    assert card.configuring  # left open, to correct
    assert card.staging.parameter_form.errors == {"resolution": "must be ≥ 16, got 4"}
    assert feedback(card) == "resolution: must be ≥ 16, got 4"
    assert [n.text for n in rig.notifications.recent(5)] == [
        "Detector view: resolution: must be ≥ 16, got 4"
    ]
    assert rig.orchestrator.snapshot(DETECTOR).current is None


def test_choosing_no_source_is_refused(rig):
    card = make_card(rig)
    click(card._expand)
    card.staging.source_selector.value = []

    click(buttons(card)["jd-start"])

    assert rig.sink.sent == []
    assert card.staging.parameter_form.form_error == "choose at least one source"


def test_commit_and_restart_asks_first_and_sends_only_after_confirmation(rig):
    old = rig.commit()
    rig.beat()
    card = make_card(rig)
    rig.sink.clear()
    start = buttons(card)["jd-commit"]
    assert start.label == "Commit & Restart"
    assert start.visible

    click(start)

    assert rig.sink.sent == []
    assert card.awaiting_confirmation
    assert card._confirm_bar.visible
    assert text_of(card._confirm_text.object) == (
        "Stop the 4 running job(s) of Detector view and start 4 new one(s)?"
    )

    click(buttons(card)["jd-confirm"])

    stops = [c for c in rig.job_commands() if c.action is JobAction.stop]
    assert {c.job_id.job_number for c in stops} == {old}
    assert len(rig.starts()) == 4
    assert not card._confirm_bar.visible


def test_cancel_sends_nothing(rig):
    rig.commit()
    rig.beat()
    card = make_card(rig)
    rig.sink.clear()

    click(buttons(card)["jd-commit"])
    click(buttons(card)["jd-cancel"])

    assert rig.sink.sent == []
    assert not card.awaiting_confirmation
    assert not card._confirm_bar.visible


def test_start_while_the_running_set_is_already_stopping_needs_no_confirmation(rig):
    rig.commit()
    rig.beat()
    rig.orchestrator.stop_workflow(DETECTOR, actor=OPERATOR)
    card = make_card(rig)
    rig.sink.clear()

    assert buttons(card)["jd-start"].label == "Start"
    click(buttons(card)["jd-start"])

    assert len(rig.starts()) == 4


def test_the_card_is_patched_not_rebuilt_after_its_own_commit(rig):
    card = make_card(rig)
    click(card._expand)
    form = card.staging.parameter_form
    form.widgets["window"].value = 20.0
    objects = list(card._body.objects)
    staging = card.staging

    click(buttons(card)["jd-start"])
    rig.beat()
    refresh(rig, card)

    assert card._body.objects == objects
    assert card.staging is staging
    assert form.values["window"] == 20.0
    assert badge_of(card) == "ACTIVE 4/4"
    assert buttons(card)["jd-commit"].visible
    assert card.header_action.label == "Stop"


def test_changes_against_the_running_config_are_marked(rig):
    rig.commit(resolution=128)
    rig.beat()
    card = make_card(rig)
    card.set_configuring(True)

    card.staging.parameter_form.widgets["resolution"].value = 256

    assert card.staging.parameter_form.changed == {"resolution"}
    assert difference_note(card) == (
        "configuration differs from running: Pixels per axis 128 → 256"
    )

    card.staging.parameter_form.widgets["resolution"].value = 128

    assert card.staging.parameter_form.changed == frozenset()
    assert difference_note(card) == ""
    assert not card._notes.visible


def test_a_staged_config_that_differs_is_noted_with_the_form_closed(rig):
    rig.commit(resolution=128)
    rig.orchestrator.clear_staged_configs(DETECTOR, actor=OPERATOR)
    rig.orchestrator.stage_config(
        DETECTOR, BANKS[0], {"resolution": 512}, actor=OPERATOR
    )
    card = make_card(rig)

    assert difference_note(card) == (
        "staged configuration differs from running: drops endcap_backward_detector, "
        "endcap_forward_detector, high_resolution_detector; Pixels per axis 128 → 512"
    )
    assert card.staging is None


# --- stop and reset ----------------------------------------------------------------


def test_stop_asks_first_then_stops_every_job(rig):
    number = rig.commit()
    rig.beat()
    card = make_card(rig)
    rig.sink.clear()

    click(buttons(card)["jd-stop"])
    assert rig.sink.sent == []
    assert text_of(card._confirm_text.object) == "Stop the 4 job(s) of Detector view?"

    click(buttons(card)["jd-confirm"])

    assert {(c.job_id.job_number, c.action) for c in rig.job_commands()} == {
        (number, JobAction.stop)
    }
    assert len(rig.job_commands()) == 4
    assert feedback(card) == "Stop sent to 4 job(s)."
    refresh(rig, card)
    assert badge_of(card) == "STOPPING 4/4"
    assert card.header_action.label == "Start"
    assert "jd-start" in card.header_action.css_classes
    assert not buttons(card)["jd-commit"].visible


def test_reset_sends_a_reset_to_every_running_job(rig):
    rig.commit(sources=BANKS[:2])
    rig.beat()
    card = make_card(rig)
    rig.sink.clear()

    click(buttons(card)["jd-reset"])

    assert [c.action for c in rig.job_commands()] == [JobAction.reset, JobAction.reset]
    assert feedback(card) == "Reset sent to 2 job(s)."


# --- refusals and read-only --------------------------------------------------------------


def test_a_read_only_refusal_from_the_orchestrator_is_shown_and_notified():
    rig = Rig(read_only=True)
    # An operator's card in a read-only deployment: as if the browser
    # bypassed the UI (the page gives every session a viewer there).
    card = make_card(rig, actor=OPERATOR)
    click(card._expand)

    click(buttons(card)["jd-start"])

    assert rig.sink.sent == []
    assert rig.orchestrator.snapshot(DETECTOR).staged == {}
    assert (
        feedback(card)
        == "read-only dashboard: 'test-operator' may not commit workflows"
    )
    (note,) = rig.notifications.recent(5)
    assert note.level == "error"
    assert (
        note.text
        == "Detector view: read-only dashboard: 'test-operator' may not commit workflows"
    )


def test_actions_are_taken_in_the_sessions_actors_name():
    rig = Rig(policy=AccessPolicy(operators=["olga"]))
    card = make_card(rig, actor=rig.actor_for("olga"))
    click(card._expand)

    click(buttons(card)["jd-start"])

    assert len(rig.starts()) == 4
    assert feedback(card).startswith("Started job")


def test_a_viewer_gets_disabled_controls_and_a_forged_click_is_refused():
    rig = Rig(policy=AccessPolicy(operators=["olga"]))
    card = make_card(rig, actor=rig.actor_for("victor"))
    card.set_expanded(True)

    assert buttons(card)["jd-start"].disabled
    assert all(w.disabled for w in card.staging.parameter_form.widgets.values())

    click(buttons(card)["jd-start"])  # a browser can send what the UI disabled

    assert rig.sink.sent == []
    assert feedback(card) == "viewer 'victor' may not commit workflows"
    assert rig.notifications.recent(1)[0].level == "error"


def test_read_only_card_disables_every_action_and_input(rig):
    rig.commit()
    rig.beat()
    # What the page gives every session of a read-only deployment: a viewer.
    card = make_card(rig, actor=AccessPolicy(read_only=True).actor_for(None))
    card.set_configuring(True)

    found = buttons(card)

    for css in ("jd-stop", "jd-commit", "jd-reset"):
        assert found[css].disabled, css
    assert all(w.disabled for w in card.staging.parameter_form.widgets.values())
    assert card.staging.source_selector.disabled
    assert not card._expand.disabled  # looking is allowed


# --- header actions ---------------------------------------------------------------


def test_start_from_the_header_of_a_folded_card_commits_without_opening_it(rig):
    card = make_card(rig, MONITORS)
    assert card.header_action.label == "Start"

    click(card.header_action)

    assert [c.job_id.source_name for c in rig.starts()] == [
        "monitor_bunker",
        "monitor_cave",
    ]
    assert card.staging is None  # the defaults, committed without the form
    refresh(rig, card)
    assert card.expanded  # the jobs starting show
    assert not card.configuring
    assert feedback(card).startswith("Started job")


def test_the_header_action_is_stop_while_the_workflow_runs_and_start_after(rig):
    card = make_card(rig)
    rig.commit()
    rig.beat()
    refresh(rig, card)

    action = card.header_action
    assert (action.label, action.button_type) == ("Stop", "warning")
    assert "jd-stop" in action.css_classes

    rig.orchestrator.stop_workflow(DETECTOR, actor=OPERATOR)
    refresh(rig, card)

    assert (action.label, action.button_type) == ("Start", "primary")
    assert "jd-start" in action.css_classes


def test_stop_from_the_header_of_a_folded_card_asks_there_first(rig):
    number = rig.commit()
    rig.beat()
    card = make_card(rig)
    click(card._expand)  # the operator folded it
    rig.sink.clear()

    click(card.header_action)

    assert rig.sink.sent == []
    assert card._confirm_bar.visible
    assert card.__panel__().objects.index(card._confirm_bar) == 1  # under the header
    click(buttons(card)["jd-confirm"])
    assert {c.job_id.job_number for c in rig.job_commands()} == {number}
    assert not card.expanded


def test_a_viewer_sees_the_header_action_disabled_and_a_forged_one_is_refused():
    rig = Rig(policy=AccessPolicy(operators=["olga"]))
    card = make_card(rig, actor=rig.actor_for("victor"))

    assert card.header_action.disabled
    click(card.header_action)

    assert rig.sink.sent == []
    assert card.expanded  # opened to say why
    assert feedback(card) == "viewer 'victor' may not commit workflows"


# --- workflow facts: outputs, reset, confirmation -------------------------------------


def test_the_outputs_of_a_workflow_are_listed_with_their_descriptions(rig):
    card = make_card(rig, MONITORS)
    card.set_expanded(True)

    pane = card.__panel__().select(
        lambda o: "jd-wf-outputs-pane" in getattr(o, "css_classes", [])
    )[0]
    text = text_of(pane.object)

    assert text.startswith("Outputs: Monitor spectrum, Total counts")
    assert "Total counts: Counts summed over the spectrum, per pulse window." in text


def test_a_workflow_without_reset_shows_why_instead_of_a_reset_button(rig):
    rates = RATES
    rig.commit(rates, sources=("mantle_detector",))
    rig.beat(rates)
    card = make_card(rig, rates)

    assert "jd-reset" not in buttons(card)
    (pane,) = card.__panel__().select(
        lambda o: "jd-no-reset-pane" in getattr(o, "css_classes", [])
    )
    assert 'title="A reset of a time-series workflow duplicates its points."' in (
        pane.object
    )
    assert 'aria-disabled="true"' in pane.object

    card._on_reset(None)  # a forged click: the orchestrator refuses it
    click(buttons(card)["jd-confirm"])  # (the workflow asks before any action)

    assert rig.job_commands() == []
    assert feedback(card) == (
        "Event rates cannot be reset: "
        "A reset of a time-series workflow duplicates its points."
    )


def _confirming_rig() -> Rig:
    """A catalogue whose detector view feeds the control system (asks first)."""
    shipped = shipped_catalogue("dream")
    workflows = [
        spec.model_copy(update={"confirm_actions": True})
        if spec.workflow_id == DETECTOR
        else spec
        for spec in shipped.workflows
    ]
    return Rig(catalogue=WorkflowCatalogue(instrument="dream", workflows=workflows))


def test_a_confirm_actions_workflow_asks_before_a_reset():
    rig = _confirming_rig()
    rig.commit()
    rig.beat()
    card = make_card(rig)
    rig.sink.clear()

    click(buttons(card)["jd-reset"])

    assert rig.sink.sent == []
    assert text_of(card._confirm_text.object) == "Reset the 4 job(s) of Detector view?"
    click(buttons(card)["jd-confirm"])
    assert [c.action for c in rig.job_commands()] == [JobAction.reset] * 4


def test_a_confirm_actions_workflow_asks_before_a_restart_even_while_stopping():
    rig = _confirming_rig()
    rig.commit()
    rig.beat()
    rig.orchestrator.stop_workflow(DETECTOR, actor=OPERATOR)
    card = make_card(rig)
    rig.sink.clear()

    click(card.header_action)  # Start, while the old jobs wind down

    assert rig.starts() == []
    assert card.awaiting_confirmation
    click(buttons(card)["jd-confirm"])
    assert len(rig.starts()) == 4


def test_a_plain_workflow_resets_without_asking(rig):
    rig.commit()
    rig.beat()
    card = make_card(rig)
    rig.sink.clear()

    click(buttons(card)["jd-reset"])

    assert not card.awaiting_confirmation
    assert len(rig.job_commands()) == 4


# --- orphans on commit ---------------------------------------------------------------------


def _own_and_foreign_orphans(rig: Rig) -> tuple[uuid.UUID, JobId]:
    """An orphan this dashboard committed (still running after two recommits)
    and a foreign one, while the workflow's latest jobs have stopped."""
    own = rig.commit(MONITORS, sources=("monitor_bunker",))
    rig.beat(MONITORS)
    rig.commit(MONITORS, sources=("monitor_bunker",))
    rig.commit(MONITORS, sources=("monitor_bunker",))
    rig.beat(MONITORS)
    foreign = JobId("monitor_cave", uuid.uuid4())
    rig.heartbeat(
        JobStatus(foreign, MONITORS, JobState.active, start_time=rig.clock.now_ns())
    )
    rig.beat(MONITORS, JobState.stopped)  # the latest stopped: the card is idle
    return own, foreign


def test_a_commit_offers_to_stop_the_orphans_ticking_those_started_here(rig):
    own, foreign = _own_and_foreign_orphans(rig)
    card = make_card(rig, MONITORS)
    rig.sink.clear()

    click(card.header_action)  # nothing runs: Start, yet orphans do

    assert rig.sink.sent == []
    assert card.offered_orphans == {JobId("monitor_bunker", own): True, foreign: False}
    labels = [box.label for box in card._orphan_choices.objects[1:]]
    assert labels == [
        f"monitor_bunker · job {own.hex[:8]} · active · started here",
        f"monitor_cave · job {foreign.job_number.hex[:8]} · active · started elsewhere",
    ]

    click(buttons(card)["jd-confirm"])

    stopped = [
        c.job_id.to_domain() for c in rig.job_commands() if c.action is JobAction.stop
    ]
    assert stopped == [JobId("monitor_bunker", own)]
    assert [c.job_id.source_name for c in rig.starts()] == ["monitor_bunker"]
    assert feedback(card).endswith("; stop sent to 1 orphan(s).")


def test_the_operator_may_tick_a_foreign_orphan_or_untick_an_own_one(rig):
    _, foreign = _own_and_foreign_orphans(rig)
    card = make_card(rig, MONITORS)
    rig.sink.clear()
    click(card.header_action)

    own_box, foreign_box = card._orphan_choices.objects[1:]
    own_box.value, foreign_box.value = False, True
    click(buttons(card)["jd-confirm"])

    stopped = [c.job_id.to_domain() for c in rig.job_commands()]
    assert stopped == [foreign]


def test_cancelling_a_commit_with_orphans_stops_nothing(rig):
    _own_and_foreign_orphans(rig)
    card = make_card(rig, MONITORS)
    rig.sink.clear()
    click(card.header_action)

    click(buttons(card)["jd-cancel"])

    assert rig.sink.sent == []
    assert card.offered_orphans == {}


def test_a_stop_or_reset_question_lists_no_orphans(rig):
    rig.commit()
    rig.beat()
    rig.heartbeat(
        JobStatus(
            JobId(BANKS[0], uuid.uuid4()),
            DETECTOR,
            JobState.active,
            start_time=rig.clock.now_ns() - 10**9,
        )
    )
    card = make_card(rig)

    click(card.header_action)  # Stop: stops the orphans too, nothing to choose

    assert card.awaiting_confirmation
    assert card.offered_orphans == {}
    assert not card._orphan_choices.visible
