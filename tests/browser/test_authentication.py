"""Access: Panel's basic auth guards page and websocket; viewers cannot act.

One ``jobdash serve --basic-auth FILE`` server for the module (frozen clock,
simulated backend): ``olga`` is an operator (``JOBDASH_OPERATORS``),
``victor`` a viewer (the default role). The viewer's refusal is proven on the
server: the test re-enables the disabled Start button in the browser and
clicks it, and the services refuse and audit the forged action.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import REPO, STARTUP_TIMEOUT, JobdashServer
from playwright.sync_api import Browser, Page, expect
from scenario_helpers import (
    STATE_TIMEOUT,
    badge,
    expand_card,
    job_rows,
    notification_log,
    step_clock,
)

pytestmark = pytest.mark.browser

PASSWORDS = {"olga": "olga-pass-1", "victor": "victor-pass-2"}
WORKFLOW = "monitor_histogram"


def _status(url: str, timeout: float = STARTUP_TIMEOUT) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobdashServer]:
    """``jobdash serve`` with basic auth; olga operates, victor views."""
    workdir = tmp_path_factory.mktemp("jobdash-auth-server")
    credentials = workdir / "users.json"
    credentials.write_text(json.dumps(PASSWORDS), encoding="utf-8")
    config_dir = workdir / "config"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBDASH_")}
    jobdash_env = {
        "JOBDASH_TRANSPORT": "simulated",
        "JOBDASH_SEED": "0",
        "JOBDASH_FROZEN_CLOCK": "true",
        "JOBDASH_CONFIG_DIR": str(config_dir),
        "JOBDASH_OPERATORS": '["olga"]',
    }
    env.update(jobdash_env, PYTHONUNBUFFERED="1")
    port = _free_port()
    log_path = workdir / "server.log"
    command = [
        str(Path(sys.executable).parent / "jobdash"),
        "serve",
        "--address",
        "127.0.0.1",
        "--port",
        str(port),
        "--basic-auth",
        str(credentials),
        "--cookie-secret",
        "test-cookie-secret-for-the-auth-module",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = JobdashServer(
        url=f"http://127.0.0.1:{port}/",
        port=port,
        env=jobdash_env,
        config_dir=config_dir,
        log_path=log_path,
        process=process,
    )
    try:
        # The liveness probe is outside authentication; it builds the page once.
        probe = f"http://127.0.0.1:{port}/liveness?endpoint=/"
        deadline = time.monotonic() + 2 * STARTUP_TIMEOUT
        while _status(probe) != 200:
            assert process.poll() is None, server.log()
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)  # polling a process we started, not a UI state
        yield server
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _audit_lines(server: JobdashServer) -> list[dict[str, object]]:
    path = server.config_dir / "dream-audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _wait_for_audit(
    server: JobdashServer, user: str, outcome: str
) -> dict[str, object]:
    deadline = time.monotonic() + STATE_TIMEOUT / 1000
    while True:
        for record in _audit_lines(server):
            if record["user"] == user and record["outcome"] == outcome:
                return record
        assert time.monotonic() < deadline, _audit_lines(server)
        time.sleep(0.05)  # polling a file the server writes


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
    expect(card.locator(".jd-stop button")).to_be_disabled()
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
