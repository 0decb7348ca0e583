"""The dashboard served on the Kafka transport, with ``jobdash simulate`` behind it.

Nothing is shared between the browser's server and the backend but
librdkafka's mock cluster: the header shows where Kafka is and that it is
connected, and a workflow started from its card runs on the other process.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from harness import JobdashServer
from playwright.sync_api import Page, expect
from scenario_helpers import STATE_TIMEOUT, badge, notification_log, start_workflow

from jobdash.settings import Settings
from jobdash.testing.kafka_cluster import MockKafkaCluster

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.slow]

WORKFLOW = "monitor_histogram"


@pytest.fixture
def kafka(
    make_kafka_settings: Callable[..., Settings], kafka_cluster: MockKafkaCluster
) -> Settings:
    return make_kafka_settings(kafka_cluster.bootstrap_servers, heartbeat_interval=0.5)


@pytest.fixture
def dashboard_server(kafka_dashboard_server: JobdashServer) -> JobdashServer:
    return kafka_dashboard_server


def test_the_header_shows_kafka_connected_and_a_card_starts_a_workflow(
    dashboard: Page, kafka: Settings
) -> None:
    page = dashboard
    transport = page.locator(".jd-header .jd-chip-transport")
    expect(transport).to_contain_text(
        f"KAFKA {kafka.bootstrap_servers}", timeout=STATE_TIMEOUT
    )
    # The state follows the address ("connected · lag 0"; never "disconnected").
    expect(transport.locator("span")).to_have_text(
        re.compile(r"^connected( · |$)"), timeout=STATE_TIMEOUT
    )
    # Heartbeats of the other process arrive: the consumer reads the topics.
    expect(page.locator(".jd-header .jd-chip-workers")).to_contain_text(
        "2 workers", timeout=STATE_TIMEOUT
    )
    expect(badge(page, WORKFLOW)).to_have_text("STOPPED")

    start_workflow(page, WORKFLOW)

    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )
    expect(notification_log(page)).to_contain_text(
        "Started 2/2 jobs for Beam monitors", timeout=STATE_TIMEOUT
    )
