"""Browser-test harness: a served jobdash, Debian's Chromium, failure artifacts.

Fixtures (see ``tests/browser/README.md`` for examples):

``serve_jobdash(**settings) -> JobdashServer``
    Starts ``panel serve app.py`` on a free loopback port with ``JOBDASH_*``
    settings (keyword ``heartbeat_interval=0.5`` → ``JOBDASH_HEARTBEAT_INTERVAL``),
    waits until the app answers, and reaps the process after the test. Defaults:
    simulated transport, seed 0, a fresh config dir under ``tmp_path``.
``jobdash_server``
    A fresh server with the defaults; ``module_jobdash_server`` is one
    shared by a test module (for tests that change nothing on the server).
``dashboard``
    ``page`` opened on ``dashboard_server`` (by default ``jobdash_server``;
    override ``dashboard_server`` in a module to share one) with the page
    root visible.
``page``
    pytest-playwright's page, with its console recorded in ``console``.
``console``
    The page's :class:`ConsoleLog`; ``console.errors()`` for assertions.
``assert_screenshot(target, name, *, mask=())``
    Compares against ``tests/browser/baselines/<name>.png``; rewrites it
    with ``--update-screenshots``.

On a failing test, ``test-artifacts/<test>/`` receives ``page.png``,
``console.log`` and ``server.log`` (and the screenshot diff, if any).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import REPO, ConsoleLog, JobdashServer, open_dashboard, start_server
from playwright.sync_api import BrowserContext, Error, Locator, Page
from screenshots import VIEWPORT, compare_screenshot

from jobdash.settings import Settings
from jobdash.testing.browser import CHROMIUM, CHROMIUM_ARGS
from kafka_processes import FAST_KAFKA, SimulatorProcess

ARTIFACTS = REPO / "test-artifacts"
#: The benchmarks' flags, and fonts rendered the same on every machine (for
#: the screenshot baselines).
TEST_CHROMIUM_ARGS = [*CHROMIUM_ARGS, "--font-render-hinting=none"]

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


# --- options and hooks ---------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-screenshots",
        action="store_true",
        default=False,
        help="write the screenshots of browser tests as their new baselines",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that compares with a baseline is a screenshot test, whatever its
    # name: `make screenshots` (`-m screenshot --update-screenshots`) finds
    # every baseline's writer this way.
    for item in items:
        if "assert_screenshot" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.screenshot)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Keep each phase's report on the item, so fixtures can tell in their
    # teardown whether the test failed and leave artifacts behind.
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    reports = request.node.stash.get(_REPORTS, {})
    return any(report.failed for report in reports.values())


def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """``test-artifacts/<test name>/``, created on first use."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid).strip("_")
    path = ARTIFACTS / name[-150:]
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- Chromium ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """No base URL: tests navigate to their server's ``url``.

    Overrides pytest-playwright's fallback fixture, which pytest 9 deprecates
    (a session fixture defined as an instance method) and our
    ``filterwarnings = error`` turns into an error.
    """
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any],
) -> dict[str, Any]:
    """Debian's Chromium: Playwright cannot download its own browser here."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": TEST_CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """A fixed viewport, scale, locale and time zone, and no motion."""
    return {
        **browser_context_args,
        "viewport": VIEWPORT,
        "device_scale_factor": 1,
        "locale": "en-GB",
        "timezone_id": "UTC",
        "reduced_motion": "reduce",
    }


@pytest.fixture
def console(request: pytest.FixtureRequest) -> Iterator[ConsoleLog]:
    log = ConsoleLog()
    yield log
    if _failed(request):
        (artifacts_dir(request) / "console.log").write_text(
            "\n".join(log.entries) + "\n", encoding="utf-8"
        )


@pytest.fixture
def page(
    context: BrowserContext, console: ConsoleLog, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """pytest-playwright's page, its console recorded; screenshot on failure."""
    page = context.new_page()
    console.attach(page)
    yield page
    if _failed(request) and not page.is_closed():
        try:
            page.screenshot(
                path=artifacts_dir(request) / "page.png", full_page=True, timeout=10_000
            )
        except Error as exc:  # the page may be what failed
            (artifacts_dir(request) / "page.png.error").write_text(str(exc))


# --- the served app ------------------------------------------------------------------------


_SERVERS = pytest.StashKey[list[JobdashServer]]()


def record_server(request: pytest.FixtureRequest, server: JobdashServer) -> None:
    """Note that the current test uses ``server`` (its log is kept on failure)."""
    request.node.stash.setdefault(_SERVERS, []).append(server)


@pytest.fixture(autouse=True)
def _server_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    # Autouse fixtures are torn down last: the servers are stopped by now,
    # but their logs stay on disk until the session ends.
    yield
    if not _failed(request):
        return
    for index, server in enumerate(request.node.stash.get(_SERVERS, [])):
        name = "server.log" if index == 0 else f"server-{index}.log"
        shutil.copyfile(server.log_path, artifacts_dir(request) / name)


@pytest.fixture
def serve_jobdash(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Callable[..., JobdashServer]]:
    """Factory: ``serve_jobdash(seed=3, frozen_clock=True, ...)`` → a ready server.

    Keywords are ``Settings`` field names (``JOBDASH_<NAME>``); ``None``
    leaves a setting unset. Every server started is stopped after the test;
    its log is kept in the test's artifacts if the test failed.
    """
    servers: list[JobdashServer] = []

    def start(**settings: object) -> JobdashServer:
        workdir = tmp_path_factory.mktemp(f"jobdash-server-{len(servers)}")
        server = start_server(workdir, settings)
        servers.append(server)
        record_server(request, server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def jobdash_server(serve_jobdash: Callable[..., JobdashServer]) -> JobdashServer:
    """A fresh server with the default settings (simulated backend, seed 0)."""
    return serve_jobdash()


@pytest.fixture(scope="module")
def module_jobdash_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[JobdashServer]:
    """One default server shared by a module's tests (starting one takes ~15 s).

    Only for tests that leave the server as they found it (no commits, no
    injected faults): override ``dashboard_server`` with it in such a module.
    """
    server = start_server(tmp_path_factory.mktemp("jobdash-module-server"), {})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dashboard_server(jobdash_server: JobdashServer) -> JobdashServer:
    """The server ``dashboard`` opens; a module may override it."""
    return jobdash_server


@pytest.fixture
def kafka_dashboard_server(
    kafka: Settings,
    jobdash_simulate: Callable[..., SimulatorProcess],
    serve_jobdash: Callable[..., JobdashServer],
) -> JobdashServer:
    """A dashboard on Kafka, fed by a ``jobdash simulate`` process.

    Both use the requesting module's ``kafka`` settings fixture (a cluster's
    address, or a proxy's in front of it). The backend starts first: it
    creates the topics the dashboard subscribes to.
    """
    jobdash_simulate(kafka)
    return serve_jobdash(
        transport="kafka",
        bootstrap_servers=kafka.bootstrap_servers,
        topic_prefix=kafka.topic_prefix,
        heartbeat_interval=kafka.heartbeat_interval,
        kafka=FAST_KAFKA,
    )


@pytest.fixture
def dashboard(
    page: Page, dashboard_server: JobdashServer, request: pytest.FixtureRequest
) -> Page:
    """``page`` opened on ``dashboard_server``, its page root visible."""
    if dashboard_server not in request.node.stash.get(_SERVERS, []):
        record_server(request, dashboard_server)
    open_dashboard(page, dashboard_server)
    return page


# --- screenshots ---------------------------------------------------------------------------


@pytest.fixture
def assert_screenshot(
    request: pytest.FixtureRequest,
) -> Callable[..., None]:
    """``assert_screenshot(page_or_locator, name, mask=[locators])``.

    Compares with ``tests/browser/baselines/<name>.png`` (see
    ``tests/browser/screenshots.py`` for the tolerance); with
    ``--update-screenshots`` writes the baseline instead. On a mismatch the
    actual, expected and diff images go to the test's artifacts.
    """
    # The option exists when pytest starts in or below tests/browser (as
    # `make screenshots` does); from the repository root it is absent.
    update = bool(request.config.getoption("--update-screenshots", default=False))

    def check(
        target: Page | Locator, name: str, *, mask: list[Locator] | None = None
    ) -> None:
        compare_screenshot(
            target,
            name,
            mask=mask or [],
            update=update,
            artifacts=lambda: artifacts_dir(request),
        )

    return check
