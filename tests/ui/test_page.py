"""The page of one session, built without a browser: structure, hooks, refresh."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import panel as pn
import pytest
from bokeh.document import Document
from bokeh.models import ImportedStyleSheet
from panel.io.state import set_curdoc

from jobdash.app import FROZEN_START_NS, Services, build_services
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.domain.streams import StreamId
from jobdash.settings import Settings
from jobdash.ui.page import DashboardPage, build_page
from jobdash.ui.session_refresh import live_refreshers

# Bokeh 3.9's ColumnDataSource.from_df calls DataFrame.reset_index(inplace=True),
# deprecated by pandas 3.1 (PDEP-8); the job table's Tabulator goes through it.
# Remove once bokeh stops using inplace (seen 2025-11 with bokeh 3.9.2, pandas 3.1.1).
pytestmark = pytest.mark.filterwarnings(
    "ignore:The inplace keyword in DataFrame.reset_index is deprecated"
)


def with_class(root: Any, css_class: str) -> list[Any]:
    """Every object under ``root`` carrying ``css_class``."""
    found: list[Any] = root.select(
        lambda obj: css_class in (getattr(obj, "css_classes", None) or [])
    )
    return found


def build(services: Services) -> DashboardPage:
    with set_curdoc(Document()):
        return DashboardPage(services)


@pytest.fixture
def make_services(tmp_path: Path) -> Callable[..., Services]:
    def make(*, legacy_job_view: bool = True, **settings: Any) -> Services:
        values: dict[str, Any] = {"config_dir": tmp_path, "frozen_clock": True}
        values.update(settings)
        return build_services(Settings(**values), legacy_job_view=legacy_job_view)

    return make


def test_page_root_holds_jobs_and_workflows_side_by_side_then_timeline_and_log(
    make_services: Callable[..., Services],
) -> None:
    page = build(make_services())
    (root,) = with_class(page.root, "jd-app")
    assert root is page.root
    (lower,) = with_class(page.lower, "jd-app-lower")
    # Separate roots of the template: a change in one never lays out another.
    assert list(page.template.main) == [page.root, page.lower, page.status_root]
    (top,) = with_class(root, "jd-views")
    (bottom,) = with_class(lower, "jd-views")
    sections = [obj.css_classes[-1] for obj in top.objects]
    assert sections == ["jd-section-jobs", "jd-section-workflows"]
    assert len(with_class(top.objects[0], "jd-job-status-widget")) == 1
    assert len(with_class(top.objects[1], "jd-workflow-widget")) == 1
    assert [obj.css_classes[-1] for obj in bottom.objects] == [
        "jd-section-timeline",
        "jd-section-notifications",
    ]
    assert len(with_class(bottom, "jd-timeline")) == 1
    assert len(with_class(bottom, "jd-notifications")) == 1
    assert "wrap" in top.flex_wrap


def test_template_is_titled_with_the_instrument_and_carries_the_header(
    make_services: Callable[..., Services],
) -> None:
    page = build(make_services())
    assert page.template.title == "jobdash · DREAM"
    header_markup = page.header.__panel__().object
    assert "SIMULATED" in header_markup
    assert "2025-11-29 12:00:00 UTC" in header_markup


def test_simulated_transport_with_frozen_clock_gets_the_simulator_and_steps(
    make_services: Callable[..., Services],
) -> None:
    services = make_services()
    page = build(services)
    (card,) = with_class(page.lower, "jd-sim-panel")
    assert card.collapsed
    for hook in ("jd-sim-target", "jd-sim-kind", "jd-sim-text", "jd-sim-inject"):
        assert len(with_class(card, hook)) == 1, hook
    (step,) = with_class(card, "jd-sim-step-5")
    step.clicks += 1
    assert services.clock.now_ns() == FROZEN_START_NS + 5_000_000_000


def test_a_running_clock_gets_no_step_buttons(
    make_services: Callable[..., Services],
) -> None:
    page = build(make_services(frozen_clock=False))
    assert with_class(page.lower, "jd-sim-step-1") == []
    assert len(with_class(page.lower, "jd-sim-panel")) == 1


def test_kafka_transport_has_no_simulator_and_shows_the_broker(
    make_services: Callable[..., Services],
) -> None:
    page = build(make_services(transport="kafka", bootstrap_servers="broker:9092"))
    assert with_class(page.lower, "jd-sim-panel") == []
    assert "KAFKA broker:9092" in page.header.__panel__().object


def test_phase_two_page_shows_the_workflow_view_alone(
    make_services: Callable[..., Services],
) -> None:
    page = build(make_services(legacy_job_view=False))
    assert page.jobs is None
    assert with_class(page.root, "jd-job-status-widget") == []
    (top,) = with_class(page.root, "jd-views")
    assert [obj.css_classes[-1] for obj in top.objects] == ["jd-section-workflows"]


def test_read_only_is_shown_in_the_header(
    make_services: Callable[..., Services],
) -> None:
    page = build(make_services(read_only=True))
    assert "READ-ONLY" in page.header.__panel__().object


def test_the_refresher_refreshes_every_view_without_errors(
    make_services: Callable[..., Services], caplog: pytest.LogCaptureFixture
) -> None:
    services = make_services()
    page = build(services)
    assert page.views == (
        page.header,
        page.jobs,
        page.workflows,
        page.timeline,
        page.notification_log,
        page.simulator,
        page.presence,
        page.system_status,
    )
    page.system_status.open()
    workflow = WorkflowId("dream", "detector_view", 1)
    status = JobStatus(
        JobId("mantle_detector", uuid.UUID(int=1)),
        workflow,
        JobState.error,
        error_message="<b>boom</b>",
        start_time=FROZEN_START_NS,
        timestamp=FROZEN_START_NS,
    )
    services.router.forward(StreamId.status, status)
    services.notifications.add("error", "Start of mantle_detector failed: <b>")
    with caplog.at_level(logging.ERROR, logger="jobdash.ui.session_refresh"):
        for _ in range(8):
            page.refresher.refresh_all()
    assert [r for r in caplog.records if r.name == "jobdash.ui.session_refresh"] == []
    log_markup = page.notification_log.__panel__().object
    assert "failed: &lt;b&gt;" in log_markup


def test_build_page_outside_a_session_starts_no_refresher(
    make_services: Callable[..., Services],
) -> None:
    before = live_refreshers()
    with set_curdoc(Document()):
        template = build_page(make_services())
    assert isinstance(template, pn.template.BootstrapTemplate)
    assert live_refreshers() == before


def test_every_component_links_the_one_shared_stylesheet_instead_of_a_copy(
    make_services: Callable[..., Services],
) -> None:
    document = Document()
    with set_curdoc(document):
        page = DashboardPage(make_services())
        css_files = list(pn.config.css_files)
        raw_css = list(pn.config.raw_css)
        global_css = pn.config.global_css
        root = page.root.get_root(document)
    [url] = [f for f in css_files if "/jobdash/jobdash.css?v=" in f]
    assert not any(".jd-state-error" in css for css in raw_css)
    assert any("#header" in css for css in global_css)
    # One model per document for the URL, referenced by every component's
    # stylesheets, and no component carries the stylesheet's text.
    models = list(root.select({"type": ImportedStyleSheet}))
    shared = {id(m) for m in models if m.url == url}
    assert len(shared) == 1
    styled = [m for m in root.references() if getattr(m, "stylesheets", None)]
    assert len(styled) > 10
    assert all(
        ".jd-state-error" not in sheet
        for model in styled
        for sheet in model.stylesheets
        if isinstance(sheet, str)
    )


def test_the_system_status_is_a_folded_card_of_its_own_root(
    make_services: Callable[..., Services],
) -> None:
    page = build(make_services())

    (card,) = with_class(page.status_root, "jd-sys-panel")

    assert card.collapsed
    assert card.title == "System status"
    assert with_class(page.root, "jd-sys-panel") == []
    assert with_class(page.lower, "jd-sys-panel") == []


def test_a_page_built_outside_a_session_registers_no_session(
    make_services: Callable[..., Services],
) -> None:
    services = make_services()
    page = build(services)

    page.start()
    page.refresher.stop()

    assert services.sessions.sessions() == ()
    assert page.system_status.own_session is None
