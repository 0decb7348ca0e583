"""The pieces of the browser harness that tests may import.

``conftest.py`` turns these into fixtures; tests import the types (for
annotations) and :func:`open_dashboard` from here, never from ``conftest``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page, expect

from jobdash.testing.ports import LOOPBACK, free_port
from jobdash.testing.processes import JOBDASH, child_env, jobdash_env
from jobdash.testing.servers import ServerProcess, spawn

REPO = Path(__file__).resolve().parents[2]
#: Seconds a server may take to answer its first request.
STARTUP_TIMEOUT = 120.0
#: Seconds one readiness probe may take: it builds a whole page, which takes
#: seconds on a loaded machine.
PROBE_TIMEOUT = 60.0
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
class JobdashServer(ServerProcess):
    """One ``panel serve app.py`` (or ``jobdash serve``) process.

    Attributes
    ----------
    url
        The dashboard page (``http://127.0.0.1:<port>/app``).
    port
        Its loopback port.
    log_path
        Its combined stdout/stderr.
    env
        The ``JOBDASH_*`` variables it was started with.
    config_dir
        Its persistence directory (fresh per server).
    """

    env: dict[str, str]
    config_dir: Path


def start_server(
    workdir: Path,
    settings: Mapping[str, object],
    *,
    jobdash_serve: Sequence[str] | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
) -> JobdashServer:
    """Start ``panel serve app.py`` on a free loopback port and wait until ready.

    ``settings`` are ``Settings`` field names and values, passed as
    ``JOBDASH_<NAME>`` (``None`` leaves one unset; inherited ``JOBDASH_*``
    variables are dropped). The config dir defaults to ``workdir/config``.
    With ``jobdash_serve``, runs ``jobdash serve`` with those further flags
    instead, whose page is ``/``. Fails the test with the server log if the
    server exits or does not answer within ``startup_timeout``; the caller
    must :meth:`stop` it.
    """
    values: dict[str, object] = {**DEFAULT_SETTINGS, "config_dir": workdir / "config"}
    values.update(settings)
    env = jobdash_env(values)
    port = free_port()
    address = ["--address", LOOPBACK, "--port", str(port)]
    if jobdash_serve is None:
        path = "/app"
        command = [sys.executable, "-m", "panel", "serve", "app.py", *address]
        command += ["--allow-websocket-origin", f"{LOOPBACK}:{port}"]
        command += ["--liveness", "--num-procs", "1"]
    else:
        path = "/"
        command = [JOBDASH, "serve", *address, *jobdash_serve]
    log_path = workdir / "server.log"
    server = JobdashServer(
        url=f"http://{LOOPBACK}:{port}{path}",
        port=port,
        log_path=log_path,
        process=spawn(command, log_path, cwd=REPO, env=child_env(env)),
        env=env,
        config_dir=Path(str(values.get("config_dir", workdir / "config"))),
    )
    try:
        server.wait_until_live(
            path, timeout=startup_timeout, probe_timeout=PROBE_TIMEOUT
        )
    except AssertionError as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)
    except BaseException:
        server.stop()
        raise
    return server


def open_dashboard(page: Page, server: JobdashServer) -> None:
    """Navigate ``page`` to ``server`` and wait until the page root is visible."""
    page.goto(server.url)
    expect(page.locator(".jd-app")).to_be_visible(timeout=30_000)
