"""The card's markup: texts, state classes and escaping of untrusted text."""

from __future__ import annotations

import re
import uuid
from html import unescape

import pytest
from workflow_rig import BANKS, DETECTOR, SANS, Rig

from jobdash.domain.ids import JobId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.domain.workflow_catalogue import WorkflowCatalogue, WorkflowSpec
from jobdash.domain.workflow_status import AggregateStatus, WorkflowAggregate
from jobdash.ui.workflows.workflow_markup import (
    badge_html,
    chip_state,
    message_html,
    meta_html,
    no_reset_html,
    orphan_choice_label,
    outputs_html,
    status_html,
    title_html,
)

HOSTILE = '<script>alert("x")</script>&'


def text_of(markup: str) -> str:
    """The text a browser would show (tags dropped, entities decoded)."""
    return unescape(re.sub(r"<[^>]+>", "", markup))


def chips(markup: str) -> list[tuple[str, str]]:
    """(classes, visible text) of every source chip."""
    return [
        (classes, text_of(inner))
        for classes, inner in re.findall(
            r'<span class="(jd-source-chip[^"]*)" title="[^"]*">(.*?)</span></span>',
            markup,
        )
    ]


@pytest.fixture
def rig() -> Rig:
    return Rig()


@pytest.mark.parametrize(
    ("aggregate", "count", "total", "text"),
    [
        (WorkflowAggregate.ACTIVE, 4, 4, "ACTIVE 4/4"),
        (WorkflowAggregate.ERROR, 1, 4, "ERROR 1/4"),
        (WorkflowAggregate.STOPPED, 0, 0, "STOPPED"),
        (WorkflowAggregate.PENDING, 2, 3, "PENDING 2/3"),
    ],
)
def test_badge_writes_the_aggregate_and_colours_it_by_class(
    aggregate, count, total, text
):
    markup = badge_html(AggregateStatus(aggregate, count, total))

    assert text_of(markup) == text
    assert f"jd-status-badge jd-state-{aggregate.value.lower()}" in markup


def test_title_escapes_the_catalogue_title_and_shows_the_version():
    spec = WorkflowCatalogue.model_validate(
        {
            "instrument": "dream",
            "workflows": [
                {
                    "id": "dream/x/3",
                    "title": HOSTILE,
                    "description": HOSTILE,
                    "source_names": ["a"],
                }
            ],
        }
    ).workflows[0]

    markup = title_html(spec)

    assert "<script>" not in markup
    assert text_of(markup) == f"{HOSTILE} v3"


def test_meta_shows_eight_characters_of_the_job_number_and_the_full_one_on_hover(rig):
    number = rig.commit()
    rig.beat()  # start_time = now
    rig.clock.advance(192)

    markup = meta_html(rig.orchestrator.snapshot(DETECTOR).current, rig.clock.now_ns())

    assert text_of(markup) == f"job {number.hex[:8]} · up 3 min"
    assert f'title="{number}"' in markup


def test_meta_before_any_start_time_says_not_started_and_is_empty_without_a_job(rig):
    rig.commit()
    snapshot = rig.orchestrator.snapshot(DETECTOR)

    assert text_of(meta_html(snapshot.current, rig.clock.now_ns())).endswith(
        "not started yet"
    )
    assert meta_html(None, rig.clock.now_ns()) == ""


def test_uptime_runs_from_the_earliest_start_time_of_the_jobs(rig):
    rig.commit()
    start = rig.clock.now_ns()
    rig.beat(sources=BANKS[:1], start_time=start)
    rig.beat(sources=BANKS[1:], start_time=start + 30 * 10**9)
    rig.clock.advance(75)  # 75 s since the first start, 45 s since the others

    markup = meta_html(rig.orchestrator.snapshot(DETECTOR).current, rig.clock.now_ns())

    assert text_of(markup).endswith("up 1 min")


def test_each_source_gets_a_chip_with_its_state_written_out(rig):
    rig.commit()
    rig.beat(sources=BANKS[:1], state=JobState.error, error_message="boom")
    rig.beat(sources=BANKS[1:2], warning_message="slow")
    rig.beat(sources=BANKS[2:3], state=JobState.pending_context)
    snapshot = rig.orchestrator.snapshot(DETECTOR)

    shown = chips(status_html(snapshot.current, None, rig.clock.now_ns()))

    assert shown == [
        ("jd-source-chip jd-state jd-state-error", "mantle_detector error"),
        (
            "jd-source-chip jd-state jd-state-warning",
            "endcap_backward_detector active, warning",
        ),
        (
            "jd-source-chip jd-state jd-state-pending_context",
            "endcap_forward_detector pending context",
        ),
        (
            "jd-source-chip jd-state jd-state-pending",
            "high_resolution_detector waiting",
        ),
    ]


def test_a_stale_chip_says_stale_and_its_tooltip_keeps_the_last_state_and_age(rig):
    rig.commit()
    rig.beat()
    rig.clock.advance(20)
    snapshot = rig.orchestrator.snapshot(DETECTOR)
    job = snapshot.current.jobs[0]

    markup = status_html(snapshot.current, None, rig.clock.now_ns())

    assert chip_state(job) == ("stale", "stale")
    tooltip = unescape(re.search(r'title="([^"]*)"', markup).group(1))
    assert tooltip.splitlines() == [
        "mantle_detector: stale",
        "last reported state: active",
        "last heartbeat 20 s ago",
    ]


def test_no_data_flag_is_written_on_the_chip_with_the_silence_in_its_tooltip(rig):
    rig.commit()
    rig.beat()
    snapshot = rig.orchestrator.snapshot(DETECTOR)
    silent_since = rig.clock.now_ns()
    rig.clock.advance(45)
    job_id = snapshot.current.jobs[0].job_id

    markup = status_html(
        snapshot.current, None, rig.clock.now_ns(), {job_id: silent_since}
    )

    flagged = [c for c in chips(markup) if "jd-no-data" in c[0]]
    assert flagged == [
        (
            "jd-source-chip jd-state jd-state-active jd-no-data",
            "mantle_detector active no data",
        )
    ]
    assert "no data for 45 s" in unescape(markup)


def test_source_names_and_messages_are_escaped_in_chips_and_tooltips(rig):
    rig.commit()
    snapshot = rig.orchestrator.snapshot(DETECTOR)
    job = snapshot.current.jobs[0]
    rig.heartbeat(
        JobStatus(job.job_id, DETECTOR, JobState.error, error_message=HOSTILE)
    )
    snapshot = rig.orchestrator.snapshot(DETECTOR)

    markup = status_html(snapshot.current, None, rig.clock.now_ns()) + message_html(
        snapshot.current
    )

    assert "<script>" not in markup
    assert HOSTILE in unescape(markup)


def test_message_box_shows_the_first_line_and_every_message_in_full_on_demand(rig):
    rig.commit()
    rig.beat(sources=BANKS[1:2], warning_message="disk nearly full")
    rig.beat(
        sources=BANKS[:1],
        state=JobState.error,
        error_message="KeyError: 'x'\n  File a.py, line 3\n  File b.py, line 9",
    )

    markup = message_html(rig.orchestrator.snapshot(DETECTOR).current)

    assert markup.startswith('<details class="jd-message jd-message-error">')
    summary = text_of(re.search(r"<summary>(.*)</summary>", markup).group(1))
    assert summary == "mantle_detector: KeyError: 'x' (+1 more)"
    full = text_of(re.search(r"<pre[^>]*>(.*)</pre>", markup, re.S).group(1))
    assert full == (
        "mantle_detector: KeyError: 'x'\n  File a.py, line 3\n  File b.py, line 9"
        "\n\nendcap_backward_detector: disk nearly full"
    )


def test_message_box_summarises_a_traceback_by_its_exception_line(rig):
    rig.commit()
    rig.beat(
        sources=BANKS[:1],
        state=JobState.error,
        error_message=(
            "Traceback (most recent call last):\n"
            '  File "reduce.py", line 12, in run\n'
            "ValueError: detector bank 3 has no pixels"
        ),
    )

    markup = message_html(rig.orchestrator.snapshot(DETECTOR).current)

    summary = text_of(re.search(r"<summary>(.*)</summary>", markup).group(1))
    assert summary == "mantle_detector: ValueError: detector bank 3 has no pixels"
    assert "Traceback (most recent call last):" in unescape(markup)  # in full


def test_a_single_one_line_warning_is_a_plain_amber_box(rig):
    rig.commit()
    rig.beat(sources=BANKS[:1], warning_message="late <data>")

    markup = message_html(rig.orchestrator.snapshot(DETECTOR).current)

    assert markup == (
        '<div class="jd-message jd-message-warning">mantle_detector: late &lt;data&gt;</div>'
    )


def test_no_message_no_box(rig):
    rig.commit()
    rig.beat()

    assert message_html(rig.orchestrator.snapshot(DETECTOR).current) == ""
    assert message_html(None) == ""


def test_previous_jobset_strip_says_how_far_it_wound_down(rig):
    first = rig.commit()
    rig.beat()
    rig.commit()
    rig.beat(which="previous", sources=BANKS[:2], state=JobState.stopped)
    snapshot = rig.orchestrator.snapshot(DETECTOR)

    markup = status_html(snapshot.current, snapshot.previous, rig.clock.now_ns())

    strip = re.search(r'<div class="jd-previous"[^>]*>(.*?)</div>', markup).group(1)
    assert text_of(strip) == f"previous {first.hex[:8]}: stopping 2/4"


def test_an_adopted_job_reads_running_config_unknown(rig):
    job_id = JobId("sans_detector", uuid.uuid4())
    rig.heartbeat(
        JobStatus(job_id, SANS, JobState.active, start_time=rig.clock.now_ns())
    )
    snapshot = rig.orchestrator.snapshot(SANS)

    markup = status_html(snapshot.current, None, rig.clock.now_ns())

    assert snapshot.current.adopted
    assert "running, config unknown" in text_of(markup)
    assert "adopted" in text_of(meta_html(snapshot.current, rig.clock.now_ns()))


def test_without_a_current_jobset_the_status_says_no_jobs(rig):
    assert text_of(status_html(None, None, rig.clock.now_ns())) == "no jobs"


# --- workflow facts --------------------------------------------------------------


def _spec_with(**fields):
    return WorkflowSpec.model_validate(
        {"id": "dream/rates/1", "title": "Rates", "source_names": ["a"], **fields}
    )


def test_outputs_are_named_in_one_line_and_described_on_demand():
    spec = _spec_with(
        outputs=[
            {"name": "rate", "title": "Current rate", "description": HOSTILE},
            {"name": "rate_history"},
        ]
    )

    markup = outputs_html(spec)

    assert "<script>" not in markup
    assert markup.startswith('<details class="jd-wf-outputs">')
    assert text_of(markup) == (
        f"Outputs: Current rate, rate historyCurrent rate: {HOSTILE}rate history"
    )
    assert outputs_html(_spec_with()) == ""


def test_a_missing_reset_reads_as_a_disabled_reset_with_the_reason_on_hover():
    markup = no_reset_html(HOSTILE)

    assert "<script>" not in markup
    assert text_of(markup) == "Reset"
    assert 'aria-disabled="true"' in markup
    assert re.search(r'title="([^"]*)"', markup).group(1) == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;"
    )


def test_an_orphans_choice_says_whose_it_is():
    rig = Rig()
    number = uuid.uuid4()
    rig.heartbeat(JobStatus(JobId(BANKS[0], number), DETECTOR, JobState.active))
    job = rig.orchestrator.snapshot(DETECTOR).current.jobs[0]

    assert orphan_choice_label(job, started_here=False) == (
        f"mantle_detector · job {number.hex[:8]} · active · started elsewhere"
    )
    assert orphan_choice_label(job, started_here=True).endswith("started here")
