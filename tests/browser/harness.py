"""The pieces of the browser harness that tests may import.

``conftest.py`` turns these into fixtures; tests import the types (for
annotations) and :func:`open_dashboard` from here, never from ``conftest``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page, expect

REPO = Path(__file__).resolve().parents[2]
#: Seconds a server may take to answer its first request.
STARTUP_TIMEOUT = 120.0
#: Seconds one readiness probe may take: it builds a whole page, which takes
#: seconds on a loaded machine.
PROBE_TIMEOUT = 60.0
#: Seconds a server may take to exit after SIGTERM before it is killed.
SHUTDOWN_TIMEOUT = 10.0
#: Settings every served dashboard starts with unless a test overrides them.
DEFAULT_SETTINGS: dict[str, object] = {"transport": "simulated", "seed": 0}


@dataclass
class ConsoleLog:
    """Everything a page printed to its console, and its uncaught errors."""

    entries: list[str] = field(default_factory=list)
    error_texts: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)

    def errors(self) -> list[str]:
        """Console messages of type ``error`` and uncaught exceptions."""
        return list(self.error_texts)

    def _on_console(self, message: ConsoleMessage) -> None:
        location = message.location
        where = f" ({location.get('url')}:{location.get('lineNumber')})"
        line = f"[{message.type}] {message.text}{where if location else ''}"
        self.entries.append(line)
        if message.type == "error":
            self.error_texts.append(line)

    def _on_page_error(self, error: Error) -> None:
        line = f"[pageerror] {error.name}: {error.message}\n{error.stack or ''}"
        self.entries.append(line)
        self.error_texts.append(line)


@dataclass
class JobdashServer:
    """One ``panel serve app.py`` process.

    Attributes
    ----------
    url
        The dashboard page (``http://127.0.0.1:<port>/app``).
    port
        Its loopback port.
    env
        The ``JOBDASH_*`` variables it was started with.
    config_dir
        Its persistence directory (fresh per server).
    log_path
        Its combined stdout/stderr.
    """

    url: str
    port: int
    env: dict[str, str]
    config_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        """The server's output so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after :data:`SHUTDOWN_TIMEOUT`; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(SHUTDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(SHUTDOWN_TIMEOUT)
        return self.process.returncode


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_ready(server: JobdashServer) -> None:
    # /liveness?endpoint=/app builds the page once, outside any session: it
    # answers 200 only when app.py ran (services built, page assembled).
    probe = f"http://127.0.0.1:{server.port}/liveness?endpoint=/app"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = "no answer yet"
    while time.monotonic() < deadline:
        code = server.process.poll()
        if code is not None:
            pytest.fail(
                f"jobdash server exited with status {code} before it was ready:\n"
                f"{server.log()}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(probe, timeout=PROBE_TIMEOUT) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            if exc.code == 500:
                pytest.fail(
                    f"jobdash app failed to build its page:\n{exc.read().decode()}\n"
                    f"{server.log()}",
                    pytrace=False,
                )
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)  # polling a process we started: not waiting for a UI state
    pytest.fail(
        f"jobdash server not ready within {STARTUP_TIMEOUT:.0f} s ({last}):\n"
        f"{server.log()}",
        pytrace=False,
    )


def start_server(workdir: Path, settings: dict[str, object]) -> JobdashServer:
    """Start ``panel serve app.py`` on a free loopback port and wait until ready.

    ``settings`` are ``Settings`` field names and values, passed as
    ``JOBDASH_<NAME>`` (``None`` leaves one unset; inherited ``JOBDASH_*``
    variables are dropped). The config dir defaults to ``workdir/config``.
    Fails the test with the server log if the server exits or does not
    answer within :data:`STARTUP_TIMEOUT`; the caller must :meth:`stop` it.
    """
    config_dir = workdir / "config"
    values: dict[str, object] = {**DEFAULT_SETTINGS, "config_dir": config_dir}
    values.update(settings)
    jobdash_env = {
        f"JOBDASH_{name.upper()}": _env_value(value)
        for name, value in values.items()
        if value is not None
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBDASH_")}
    env.update(jobdash_env)
    env["PYTHONUNBUFFERED"] = "1"
    port = _free_port()
    log_path = workdir / "server.log"
    command = [
        sys.executable,
        "-m",
        "panel",
        "serve",
        "app.py",
        "--address",
        "127.0.0.1",
        "--port",
        str(port),
        "--allow-websocket-origin",
        f"127.0.0.1:{port}",
        "--liveness",
        "--num-procs",
        "1",
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
        url=f"http://127.0.0.1:{port}/app",
        port=port,
        env=jobdash_env,
        config_dir=Path(str(values.get("config_dir", config_dir))),
        log_path=log_path,
        process=process,
    )
    try:
        _wait_until_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def open_dashboard(page: Page, server: JobdashServer) -> None:
    """Navigate ``page`` to ``server`` and wait until the page root is visible."""
    page.goto(server.url)
    expect(page.locator(".jd-app")).to_be_visible(timeout=30_000)
