"""Access: Panel's basic auth guards page and websocket; viewers cannot act.

One ``jobdash serve --basic-auth FILE`` server for the module (frozen clock,
simulated backend): ``olga`` is an operator (``JOBDASH_OPERATORS``),
``victor`` a viewer (the default role). The viewer's refusal is proven on the
server: the tests re-enable the disabled Start button, and the hidden Remove
button, in the browser and click them, and the services refuse and audit the
forged actions.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator

import pytest
from harness import STARTUP_TIMEOUT, JobdashServer, start_server
from playwright.sync_api import Browser, Page, expect
from scenario_helpers import (
    STATE_TIMEOUT,
    badge,
    expand_card,
    job_rows,
    job_state,
    notification_log,
    start_workflow,
    step_clock,
    stop_workflow,
)

from jobdash.testing.waiting import wait_until

pytestmark = pytest.mark.browser

PASSWORDS = {"olga": "olga-pass-1", "victor": "victor-pass-2"}
WORKFLOW = "monitor_histogram"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobdashServer]:
    """``jobdash serve`` with basic auth; olga operates, victor views."""
    workdir = tmp_path_factory.mktemp("jobdash-auth-server")
    credentials = workdir / "users.json"
    credentials.write_text(json.dumps(PASSWORDS), encoding="utf-8")
    # The liveness probe is outside authentication; it builds the page once.
    server = start_server(
        workdir,
        {"frozen_clock": True, "operators": ["olga"]},
        jobdash_serve=[
            "--basic-auth",
            str(credentials),
            "--cookie-secret",
            "test-cookie-secret-for-the-auth-module",
        ],
        startup_timeout=2 * STARTUP_TIMEOUT,
    )
    try:
        yield server
    finally:
        server.stop()


def _audit_lines(server: JobdashServer) -> list[dict[str, object]]:
    path = server.config_dir / "dream-audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _wait_for_audit(
    server: JobdashServer, user: str, outcome: str, action: str | None = None
) -> dict[str, object]:
    found: list[dict[str, object]] = []

    def audited() -> bool:
        found[:] = [
            record
            for record in _audit_lines(server)
            if record["user"] == user
            and record["outcome"] == outcome
            and action in (None, record["action"])
        ]
        return bool(found)

    wait_until(
        audited,
        timeout=STATE_TIMEOUT / 1000,
        interval=0.05,
        message=lambda: (
            f"a {outcome!r} audit record of {user!r} in {_audit_lines(server)}"
        ),
    )
    return found[0]


def _log_in(browser: Browser, server: JobdashServer, user: str) -> Page:
    page = browser.new_context().new_page()
    page.goto(server.url)
    expect(page).to_have_url(re.compile(r"/login"))
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(PASSWORDS[user])
    page.locator("button[type=submit]").click()
    expect(page.locator(".jd-app")).to_be_visible(timeout=30_000)
    return page


def test_an_unauthenticated_request_gets_no_page(auth_server: JobdashServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", auth_server.port, timeout=10)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        body = response.read().decode("utf-8", errors="replace")
    finally:
        connection.close()
    assert response.status in (302, 401, 403), response.status
    if response.status == 302:
        assert re.match(r"^\.?/login", response.getheader("Location", ""))
    assert "jd-app" not in body
    assert "token" not in body.lower()
    assert "Bokeh" not in body


def test_an_unauthenticated_websocket_upgrade_is_refused(
    auth_server: JobdashServer,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", auth_server.port, timeout=10)
    try:
        connection.request(
            "GET",
            "/ws",
            headers={
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Origin": f"http://127.0.0.1:{auth_server.port}",
            },
        )
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status != 101
    assert response.status in (302, 401, 403), response.status


def test_a_viewer_sees_the_dashboard_and_a_forged_start_is_refused_on_the_server(
    browser: Browser, auth_server: JobdashServer
) -> None:
    page = _log_in(browser, auth_server, "victor")
    expect(page.locator(".jd-job-status-widget")).to_be_visible()
    expect(page.locator(".jd-workflow-widget")).to_be_visible()
    card = expand_card(page, WORKFLOW)
    start = card.locator(".jd-start button")
    expect(start).to_be_disabled()
    expect(card.locator(".jd-commit button")).to_be_disabled()
    expect(card.locator(".jd-reset button")).to_be_disabled()

    # Forge the action: enable the button in the browser and click it, so
    # the click event reaches the server as an operator's would.
    start.evaluate("button => { button.disabled = false; button.click(); }")

    expect(notification_log(page)).to_contain_text(
        "viewer 'victor' may not", timeout=STATE_TIMEOUT
    )
    record = _wait_for_audit(auth_server, "victor", "refused")
    assert record["role"] == "viewer"
    assert not any(
        line["user"] == "victor" and line["outcome"] == "sent"
        for line in _audit_lines(auth_server)
    )
    # Nothing went out: even after the backend had time to act on a command,
    # the workflow stays stopped and no job of it appears.
    step_clock(page, 1)
    step_clock(page, 1)
    expect(badge(page, WORKFLOW)).to_have_text(re.compile(r"^STOPPED"))
    expect(job_rows(page, "monitor_bunker")).to_have_count(0)
    page.context.close()


def test_an_operator_starts_a_workflow_and_is_audited(
    browser: Browser, auth_server: JobdashServer
) -> None:
    page = _log_in(browser, auth_server, "olga")
    card = expand_card(page, WORKFLOW)
    start = card.locator(".jd-start button")
    expect(start).to_be_enabled(timeout=STATE_TIMEOUT)
    start.click()
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^(PENDING|ACTIVE)"), timeout=STATE_TIMEOUT
    )
    record = _wait_for_audit(auth_server, "olga", "sent")
    assert record["role"] == "operator"
    page.context.close()


def test_a_forged_remove_from_a_viewers_session_is_refused_and_audited(
    browser: Browser, auth_server: JobdashServer
) -> None:
    # An operator runs the workflow and stops it: its jobs stay in the table,
    # stopped, which is what Remove takes.
    olga = _log_in(browser, auth_server, "olga")
    # A step the header shows is a refresh of the whole page: the badge read
    # next is the server's, not the page's first paint.
    step_clock(olga, 1)
    if not re.match(r"^(PENDING|ACTIVE)", badge(olga, WORKFLOW).inner_text()):
        start_workflow(olga, WORKFLOW)
    step_clock(olga, 1)
    step_clock(olga, 1)
    expect(badge(olga, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE"), timeout=STATE_TIMEOUT
    )
    stop_workflow(olga, WORKFLOW)
    step_clock(olga, 1)
    step_clock(olga, 1)
    expect(badge(olga, WORKFLOW)).to_have_text(
        re.compile(r"^STOPPED"), timeout=STATE_TIMEOUT
    )
    olga.context.close()

    page = _log_in(browser, auth_server, "victor")
    cave = job_rows(page, "monitor_cave")
    expect(job_state(cave)).to_have_text("stopped", timeout=STATE_TIMEOUT)
    cave.locator('input[type="checkbox"]').click()
    remove = page.locator(".jd-job-status-widget .jd-job-toolbar .jd-remove button")
    expect(remove).to_be_hidden()  # a viewer is not offered Remove ...
    expect(remove).to_have_text("Remove (1)", timeout=STATE_TIMEOUT)

    # ... so forge it: enable the hidden button and click it, so the click
    # event reaches the server as an operator's would.
    remove.evaluate("button => { button.disabled = false; button.click(); }")

    expect(page.locator(".jd-job-feedback")).to_have_text(
        "Remove refused: viewer 'victor' may not remove jobs.",
        timeout=STATE_TIMEOUT,
    )
    record = _wait_for_audit(auth_server, "victor", "refused", "remove_job")
    assert record["role"] == "viewer"
    assert str(record["job"]).startswith("monitor_cave/")
    assert not any(
        line["user"] == "victor" and line["outcome"] == "done"
        for line in _audit_lines(auth_server)
    )
    # The job is still there.
    page.reload()
    expect(job_state(job_rows(page, "monitor_cave"))).to_have_text(
        "stopped", timeout=STATE_TIMEOUT
    )
    page.context.close()
