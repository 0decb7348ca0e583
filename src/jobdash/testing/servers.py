"""A web server in a child process: started on a port, probed until live, stopped.

The browser tests serve jobdash with ``panel serve app.py`` or ``jobdash
serve``, and the CLI tests run ``jobdash serve``: each process writes its
output to a log file, and is ready once Bokeh's liveness endpoint answers
for the page (``/liveness?endpoint=/app`` builds the page once, outside
any session, so it answers 200 only when the app was built).
"""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jobdash.testing.ports import LOOPBACK
from jobdash.testing.processes import stop_process
from jobdash.testing.waiting import wait_until

__all__ = ["SHUTDOWN_TIMEOUT", "ServerProcess", "http_status", "spawn"]

#: Seconds a server may take to exit after SIGTERM before it is killed.
SHUTDOWN_TIMEOUT = 10.0


def http_status(url: str, timeout: float) -> int:
    """The HTTP status of ``GET url``; 0 if nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def spawn(
    command: Sequence[str],
    log_path: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command``, its stdout and stderr both going to ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@dataclass
class ServerProcess:
    """A server process on a loopback port.

    Attributes
    ----------
    url
        Its page (e.g. ``http://127.0.0.1:<port>/app``).
    port
        Its loopback port.
    log_path
        Its combined stdout/stderr.
    """

    url: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        """The server's output so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after :data:`SHUTDOWN_TIMEOUT`; the exit code."""
        return stop_process(self.process, SHUTDOWN_TIMEOUT)

    def wait_until_live(
        self, endpoint: str, *, timeout: float, probe_timeout: float = 60.0
    ) -> None:
        """Until ``/liveness?endpoint=<endpoint>`` answers 200.

        Raises :class:`AssertionError` with the server's log if the process
        exits first, if the app fails to build its page (HTTP 500, with the
        error), or after ``timeout`` seconds. One probe may take
        ``probe_timeout`` seconds: it builds a whole page, which takes
        seconds on a loaded machine.
        """
        probe = f"http://{LOOPBACK}:{self.port}/liveness?endpoint={endpoint}"
        last = "no answer yet"

        def live() -> bool:
            nonlocal last
            code = self.process.poll()
            if code is not None:
                raise AssertionError(
                    f"the server exited with status {code} before it was ready:\n"
                    f"{self.log()}"
                )
            try:
                with urllib.request.urlopen(probe, timeout=probe_timeout) as response:
                    if response.status == 200:
                        return True
                    last = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                if exc.code == 500:
                    raise AssertionError(
                        f"the app failed to build its page:\n{exc.read().decode()}\n"
                        f"{self.log()}"
                    ) from None
                last = f"HTTP {exc.code}"
            except OSError as exc:
                last = str(exc)
            return False

        wait_until(
            live,
            timeout=timeout,
            interval=0.1,
            message=lambda: f"{probe} to answer ({last}):\n{self.log()}",
        )
