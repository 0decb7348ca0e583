"""The System status section, as an operator opens it.

On the simulated transport: the two simulated workers with their version,
uptime and sources; this session listed with its user; messages flowing;
a second session appears in both. On Kafka (``jobdash simulate`` behind a
mock cluster): the consumer lag per partition. And a screenshot of the
section with a frozen clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from harness import ConsoleLog, JobdashServer, open_dashboard
from playwright.sync_api import BrowserContext, Locator, Page, expect
from scenario_helpers import STATE_TIMEOUT

from jobdash.settings import Settings
from jobdash.testing.kafka_cluster import MockKafkaCluster
from jobdash.transport.simulated import SIMULATED_VERSION, WORKERS

pytestmark = pytest.mark.browser

AssertScreenshot = Callable[..., None]

#: Bokeh's unused-session lifetime plus its check interval, with a margin (ms).
SESSION_DESTROYED_TIMEOUT = 45_000


def open_system_status(page: Page) -> Locator:
    """Unfold the System status card; return it."""
    panel = page.locator(".jd-sys-panel")
    body = panel.locator(".jd-sys")
    if not body.is_visible():
        panel.locator(".card-header").first.click()
    expect(body).to_be_visible(timeout=STATE_TIMEOUT)
    return panel


def worker_row(panel: Locator, worker_id: str) -> Locator:
    return panel.locator(f'.jd-sys-worker[data-key$="/{worker_id}"]')


def test_the_section_shows_workers_this_session_and_messages_flowing(
    dashboard: Page,
    dashboard_server: JobdashServer,
    context: BrowserContext,
    console: ConsoleLog,
) -> None:
    first = dashboard
    expect(first.locator(".jd-sys-panel .jd-sys")).to_be_hidden()

    panel = open_system_status(first)

    for service_name, worker_id in WORKERS:
        row = worker_row(panel, worker_id)
        expect(row).to_be_visible(timeout=STATE_TIMEOUT)
        expect(row.locator(".jd-sys-worker-name")).to_contain_text(service_name)
        expect(row.locator(".jd-state")).to_have_text("running")
        expect(row.locator(".jd-sys-version")).to_have_text(SIMULATED_VERSION)
        expect(row.locator(".jd-sys-uptime")).to_have_text(
            re.compile(r"^(< 1 min|\d+ min)$")
        )
        expect(row.locator(".jd-sys-heartbeat")).to_contain_text("ago")
        # Each worker serves some of the catalogue's sources.
        expect(row.locator(".jd-sys-sources")).to_have_text(
            re.compile(r"^\w+(, \w+)*$")
        )
    sessions = panel.locator(".jd-sys-session")
    expect(sessions).to_have_count(1, timeout=STATE_TIMEOUT)
    own = panel.locator(".jd-sys-this-session")
    # No authentication: the session acts as the local operator.
    expect(own.locator(".jd-sys-user")).to_have_text("local (this session)")
    expect(own.locator(".jd-sys-role")).to_have_text("operator")
    expect(panel.locator(".jd-sys-rate .jd-sys-value")).not_to_have_text(
        "0.0", timeout=STATE_TIMEOUT
    )
    expect(panel.locator(".jd-sys-lag-empty")).to_have_text(
        "Consumer lag: not applicable (simulated transport)."
    )

    second = context.new_page()
    console.attach(second)
    open_dashboard(second, dashboard_server)
    second_panel = open_system_status(second)

    for shown in (panel, second_panel):
        expect(shown.locator(".jd-sys-session")).to_have_count(2, timeout=STATE_TIMEOUT)
        expect(shown.locator(".jd-sys-this-session")).to_have_count(1)
    second.close()
    # Bokeh destroys a session whose browser went away once it has been
    # unused for 15 s, checking every 17 s (its defaults): up to ~32 s.
    expect(panel.locator(".jd-sys-session")).to_have_count(
        1, timeout=SESSION_DESTROYED_TIMEOUT
    )
    assert console.errors() == []


def test_the_section_with_a_frozen_clock_looks_as_recorded(
    page: Page,
    serve_jobdash: Callable[..., JobdashServer],
    assert_screenshot: AssertScreenshot,
) -> None:
    open_dashboard(page, serve_jobdash(frozen_clock=True, seed=0))
    panel = open_system_status(page)
    for _, worker_id in WORKERS:
        expect(worker_row(panel, worker_id)).to_be_visible(timeout=STATE_TIMEOUT)
    expect(panel.locator(".jd-sys-session")).to_have_count(1, timeout=STATE_TIMEOUT)

    panel.scroll_into_view_if_needed()
    assert_screenshot(
        panel,
        "system-status",
        # A random id per session. The rest follows from the seed and the
        # frozen clock (no time passes: no rate, no age).
        mask=[panel.locator(".jd-sys-session-id")],
    )


@pytest.fixture
def kafka(
    make_kafka_settings: Callable[..., Settings], kafka_cluster: MockKafkaCluster
) -> Settings:
    return make_kafka_settings(kafka_cluster.bootstrap_servers, heartbeat_interval=0.5)


@pytest.mark.kafka
@pytest.mark.slow
def test_on_kafka_the_section_lists_the_consumer_lag_per_partition(
    page: Page, kafka_dashboard_server: JobdashServer, kafka: Settings
) -> None:
    open_dashboard(page, kafka_dashboard_server)
    panel = open_system_status(page)

    for _, worker_id in WORKERS:
        expect(worker_row(panel, worker_id)).to_be_visible(timeout=STATE_TIMEOUT)
    partitions = panel.locator(".jd-sys-partition")
    expect(partitions.first).to_be_visible(timeout=STATE_TIMEOUT)
    heartbeat_topic = f"{kafka.topic_prefix}{kafka.instrument}_livedata_heartbeat"
    # One row per partition of each topic read (the mock cluster makes
    # several), each with a count.
    heartbeat_rows = partitions.filter(has_text=heartbeat_topic)
    expect(heartbeat_rows.first).to_be_visible()
    for lag in panel.locator(".jd-sys-partition .jd-sys-lag").all():
        expect(lag).to_have_text(re.compile(r"^[\d,]+$"))
    expect(panel.locator(".jd-sys-lag-total")).to_contain_text("Consumer lag:")
    expect(panel.locator(".jd-sys-rate .jd-sys-value")).not_to_have_text(
        "0.0", timeout=STATE_TIMEOUT
    )
