"""A 30 s Kafka network outage while five browser sessions are open.

The broker (librdkafka's mock cluster) advertises a cuttable TCP proxy, so
*every* Kafka client goes through it: the dashboard's consumer and producer
and ``jobdash simulate``'s as well (with its only broker advertising the
proxy, no client can bypass it; see
``docs/decisions/0001-kafka-outage-testing.md``). Cutting the proxy is a
network failure with the broker and both processes still up: the simulator
keeps its jobs running and its heartbeats wait in librdkafka's queue, the
dashboard hears nothing. That is the outage an operator sees: the header says
the transport is disconnected and the workflow turns STALE, in every session,
while the sessions themselves stay alive (their websockets to the Panel
server do not go through the proxy). After the restore the heartbeats flow
again and every session converges to connected and ACTIVE without a reload.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from harness import ConsoleLog, JobdashServer, open_dashboard
from playwright.sync_api import BrowserContext, Locator, Page, expect
from scenario_helpers import STATE_TIMEOUT, badge, dashboard_time, start_workflow

from jobdash.settings import Settings
from jobdash.testing.kafka_cluster import MockKafkaCluster
from jobdash.testing.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.slow]

WORKFLOW = "monitor_histogram"
#: A card nobody starts: toggling its details proves a session still answers.
IDLE_WORKFLOW = "detector_view"
SESSIONS = 5
OUTAGE_S = 30
#: Milliseconds the dashboard clock may take beyond the outage to show it
#: passed (the header re-renders about once a second; a loaded machine lags).
OUTAGE_MARGIN_MS = 20_000

# True once the header clock chip (in some shadow root) shows a time at least
# `until` ms since the epoch. The chip reads "YYYY-MM-DD HH:MM:SS UTC".
_CLOCK_REACHED = """
(until) => {
  const roots = [document];
  while (roots.length) {
    const root = roots.shift();
    const chip = root.querySelector('.jd-chip-clock');
    if (chip) {
      const match = /(\\d{4}-\\d\\d-\\d\\d) (\\d\\d:\\d\\d:\\d\\d) UTC/.exec(
        chip.textContent);
      return match !== null && Date.parse(`${match[1]}T${match[2]}Z`) >= until;
    }
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) roots.push(el.shadowRoot);
    }
  }
  return false;
}
"""


@pytest.fixture
def proxy(outage_cluster: MockKafkaCluster) -> Iterator[TcpProxy]:
    """The cuttable way to the broker, which advertises it to every client."""
    with TcpProxy(("127.0.0.1", outage_cluster.port)) as proxy:
        outage_cluster.advertise("127.0.0.1", proxy.port)
        yield proxy


@pytest.fixture
def kafka(make_kafka_settings: Callable[..., Settings], proxy: TcpProxy) -> Settings:
    return make_kafka_settings(proxy.address, heartbeat_interval=0.5)


@pytest.fixture
def dashboard_server(kafka_dashboard_server: JobdashServer) -> JobdashServer:
    return kafka_dashboard_server


def _all_show(pages: list[Page], *, transport: str, aggregate: str) -> None:
    """Every page's transport chip and workflow badge come to match these."""
    for page in pages:
        expect(_transport_state(page)).to_have_text(
            re.compile(transport), timeout=STATE_TIMEOUT
        )
        expect(badge(page, WORKFLOW)).to_have_text(
            re.compile(aggregate), timeout=STATE_TIMEOUT
        )


def _transport_state(page: Page) -> Locator:
    """The state part of the header's transport chip ("connected · lag 0")."""
    return page.locator(".jd-header .jd-chip-transport span")


def _epoch_ms(shown: datetime) -> int:
    """Milliseconds since the epoch of a time the header shows (in UTC)."""
    return int(shown.replace(tzinfo=UTC).timestamp() * 1000)


def _clock_reaches(page: Page, until_ms: int, timeout_ms: float) -> None:
    """Wait until ``page``'s header clock shows ``until_ms`` or later."""
    page.wait_for_function(
        _CLOCK_REACHED, arg=until_ms, timeout=timeout_ms, polling=250
    )


def _toggle_details(page: Page, name: str) -> None:
    """Show, then hide, a card's details: a round trip through the session."""
    toggle = page.locator(f".jd-workflow-card.jd-wf-{name} .jd-expand button")
    expect(toggle).to_have_text("Show details", timeout=STATE_TIMEOUT)
    toggle.click()
    expect(toggle).to_have_text("Hide details", timeout=STATE_TIMEOUT)
    toggle.click()
    expect(toggle).to_have_text("Show details", timeout=STATE_TIMEOUT)


def test_a_30_s_kafka_cut_shows_in_every_session_and_all_recover_after_it(
    dashboard: Page,
    dashboard_server: JobdashServer,
    context: BrowserContext,
    console: ConsoleLog,
    proxy: TcpProxy,
    kafka: Settings,
) -> None:
    pages = [dashboard]
    for _ in range(SESSIONS - 1):
        page = context.new_page()
        console.attach(page)
        open_dashboard(page, dashboard_server)
        pages.append(page)
    for page in pages:
        expect(page.locator(".jd-header .jd-chip-transport")).to_contain_text(
            f"KAFKA {kafka.bootstrap_servers}", timeout=STATE_TIMEOUT
        )
        expect(_transport_state(page)).to_have_text(
            re.compile(r"^connected( · |$)"), timeout=STATE_TIMEOUT
        )

    start_workflow(pages[0], WORKFLOW)
    for page in pages:
        expect(badge(page, WORKFLOW)).to_have_text(
            re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
        )

    proxy.cut()
    cut_at = dashboard_time(pages[0])
    _all_show(pages, transport=r"^disconnected", aggregate=r"^STALE")
    # Keep it cut until the dashboard's own clock says 30 s went by: a
    # condition on the page (which also proves the header keeps ticking).
    until_ms = _epoch_ms(cut_at + timedelta(seconds=OUTAGE_S))
    _clock_reaches(pages[0], until_ms, OUTAGE_S * 1000 + OUTAGE_MARGIN_MS)
    for page in pages:
        _clock_reaches(page, until_ms, STATE_TIMEOUT)
        # Still cut: nothing came back by itself.
        expect(_transport_state(page)).to_have_text(re.compile(r"^disconnected"))
        expect(badge(page, WORKFLOW)).to_have_text(re.compile(r"^STALE"))

    proxy.restore()
    restored_at = dashboard_time(pages[0])
    _all_show(pages, transport=r"^connected( · |$)", aggregate=r"^ACTIVE 2/2")
    # Every session still ticks and still answers a click.
    later_ms = _epoch_ms(restored_at + timedelta(seconds=2))
    for page in pages:
        _clock_reaches(page, later_ms, STATE_TIMEOUT)
        _toggle_details(page, IDLE_WORKFLOW)
    assert console.errors() == []
