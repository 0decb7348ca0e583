"""Removing a stopped job from the legacy table: it stays gone, even when a
late heartbeat of it arrives afterwards.

The backend runs the ``flaky`` scenario (heartbeats duplicated or delivered up
to 1.5 intervals late) on a frozen clock with seed 13, which replays exactly:
the Beam monitors are active after two 1-s steps; monitor_cave, stopped from
the table, reports ``stopped`` two steps later and is removed then; one step
after the removal a late copy of its last ``active`` heartbeat (stamped a
second before its ``stopped`` one) arrives. Without the removed-id filter that
copy would bring the row back as ``active``. (Each step waits until the
ingestion thread has polled it, so the browser run replays the same sequence
as an in-process run of the same steps, which
:func:`test_seed_13_delivers_a_heartbeat_of_the_removed_job_after_its_removal`
checks without a browser: if the simulator ever draws differently, that test
fails and says to choose another seed, instead of this one passing without a
late heartbeat to ignore.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import JobdashServer
from playwright.sync_api import Page, expect
from scenario_helpers import (
    STATE_TIMEOUT,
    badge,
    job_rows,
    job_state,
    messages_received,
    start_workflow,
    step_clock,
    wait_for_more_messages,
    workflow_card,
)

from jobdash.app import build_services
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.domain.streams import StreamId
from jobdash.settings import Settings
from jobdash.testing.actors import OPERATOR
from jobdash.transport.codec import decode_status
from jobdash.transport.ingestion import IngestionThread
from jobdash.transport.message_source import Message, MessageSource

WORKFLOW = "monitor_histogram"
WORKFLOW_ID = "dream/monitor_histogram/1"
SEED = 13


@pytest.fixture
def dashboard_server(serve_jobdash: Callable[..., JobdashServer]) -> JobdashServer:
    return serve_jobdash(frozen_clock=True, scenario="flaky", seed=SEED)


@pytest.mark.browser
def test_a_removed_job_does_not_come_back_on_a_late_heartbeat(dashboard: Page) -> None:
    page = dashboard
    toolbar = page.locator(".jd-job-status-widget .jd-job-toolbar")
    start_workflow(page, WORKFLOW)
    step_clock(page, 1, received=True)
    step_clock(page, 1, received=True)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )

    cave = job_rows(page, "monitor_cave", WORKFLOW_ID)
    # click, not check(): Tabulator redraws the row once the server has the
    # selection, so the box a check() would verify may already be replaced.
    cave.locator('input[type="checkbox"]').click()
    stop = toolbar.locator(".jd-stop button")
    expect(stop).to_have_text("Stop (1)", timeout=STATE_TIMEOUT)
    stop.click()
    expect(page.locator(".jd-job-feedback")).to_have_text(
        "Stop sent for 1 job.", timeout=STATE_TIMEOUT
    )
    step_clock(page, 1, received=True)
    step_clock(page, 1, received=True)
    expect(job_state(cave)).to_have_text("stopped", timeout=STATE_TIMEOUT)

    remove = toolbar.locator(".jd-remove button")
    expect(remove).to_have_text("Remove (1)", timeout=STATE_TIMEOUT)
    remove.click()
    expect(page.locator(".jd-job-feedback")).to_have_text(
        "Removed 1 job from the view.", timeout=STATE_TIMEOUT
    )
    expect(cave).to_have_count(0, timeout=STATE_TIMEOUT)

    # The late copy comes with the next step; two more steps make sure the
    # table has shown everything routed up to then.
    for _ in range(3):
        count = messages_received(page)
        step_clock(page, 1, received=True)
        wait_for_more_messages(page, than=count)
    expect(cave).to_have_count(0)
    bunker = job_rows(page, "monitor_bunker", WORKFLOW_ID)
    expect(job_state(bunker)).to_have_text("active")
    # Remove is local to the job table: the workflow card still shows the job.
    chip = workflow_card(page, WORKFLOW).locator(
        ".jd-source-chip", has_text="monitor_cave"
    )
    expect(chip.locator(".jd-chip-state")).to_have_text("stopped")


class _Recording:
    """A message source that keeps a copy of everything it hands out."""

    def __init__(self, source: MessageSource) -> None:
        self.source = source
        self.messages: list[Message] = []

    def start(self) -> None:
        self.source.start()

    def stop(self) -> None:
        self.source.stop()

    def get_messages(self, timeout: float) -> list[Message]:
        batch: list[Message] = self.source.get_messages(timeout)
        self.messages.extend(batch)
        return batch


def test_seed_13_delivers_a_heartbeat_of_the_removed_job_after_its_removal(
    tmp_path: Path,
) -> None:
    """The browser test's premise, replayed in-process with the same steps."""
    services = build_services(
        Settings(frozen_clock=True, scenario="flaky", seed=SEED, config_dir=tmp_path)
    )
    clock = services.manual_clock
    assert clock is not None
    source = _Recording(services.source)
    ingestion = IngestionThread(source, services.router, clock)
    source.start()

    def step() -> None:
        clock.advance(1)
        while ingestion.run_once():
            pass

    workflow = WorkflowId.parse(WORKFLOW_ID)
    orchestrator = services.job_orchestrator
    for source_name in orchestrator.get_spec(workflow).source_names:
        orchestrator.stage_config(workflow, source_name, {}, actor=OPERATOR)
    job_number = orchestrator.commit_workflow(workflow, actor=OPERATOR)
    step()
    step()
    assert orchestrator.snapshot(workflow).aggregate.label == "ACTIVE 2/2"
    cave = JobId("monitor_cave", job_number)
    assert services.job_controller.stop_job(cave, workflow, actor=OPERATOR)
    step()
    step()
    job_service = services.job_service
    assert job_service is not None
    status = job_service.get_job_status(cave)
    assert status is not None
    assert status.state is JobState.stopped
    job_service.remove_job(cave, actor=OPERATOR)
    removed_at = len(source.messages)

    step()

    heartbeats = [
        decode_status(message.payload)
        for message in source.messages[removed_at:]
        if message.stream is StreamId.status
    ]
    late = [
        beat
        for beat in heartbeats
        if isinstance(beat, JobStatus) and beat.job_id == cave
    ]
    assert late, f"seed {SEED} no longer replays a late heartbeat: choose another"
    assert job_service.get_job_status(cave) is None
