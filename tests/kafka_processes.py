"""jobdash processes over Kafka for tests: ``jobdash simulate`` and one-shot commands.

Settings reach the processes as a deployment gives them, through
``JOBDASH_*`` environment variables (inherited ones are dropped), so the
tests also prove the environment path; flags are tested where it matters.
Output goes to files in a work directory, so a failing test can show it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobdash.settings import Settings
from jobdash.testing.processes import JOBDASH, child_env, jobdash_env, stop_process
from jobdash.testing.waiting import wait_until

#: librdkafka settings that make outages and recoveries visible within a
#: second instead of the production defaults' several seconds.
FAST_KAFKA: dict[str, Any] = {
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 200,
    "statistics.interval.ms": 100,
    "topic.metadata.refresh.interval.ms": 1000,
}

#: Seconds ``jobdash simulate`` may take to say it is ready (a loaded CI
#: machine imports slowly).
READY_TIMEOUT = 60.0
#: Seconds a process may take to exit after SIGTERM before it is killed.
SHUTDOWN_TIMEOUT = 15.0

_ENV_FIELDS = (
    "bootstrap_servers",
    "instrument",
    "topic_prefix",
    "heartbeat_interval",
    "stale_after",
    "command_timeout",
    "config_dir",
    "read_only",
    "kafka",
)


def kafka_env(settings: Settings, **overrides: object) -> dict[str, str]:
    """The environment of a jobdash process with ``settings`` (and overrides)."""
    values: dict[str, object] = {name: getattr(settings, name) for name in _ENV_FIELDS}
    values.update(overrides)
    return child_env(jobdash_env(values))


@dataclass
class SimulatorProcess:
    """A running ``jobdash simulate``."""

    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    def output(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def log(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after :data:`SHUTDOWN_TIMEOUT`; the exit code."""
        return stop_process(self.process, SHUTDOWN_TIMEOUT)


def start_simulator(settings: Settings, workdir: Path, *flags: str) -> SimulatorProcess:
    """Start ``jobdash simulate -v FLAGS`` and wait for its ready line.

    Fails the test with the process output if it exits or is not ready within
    :data:`READY_TIMEOUT`; the caller must :meth:`~SimulatorProcess.stop` it.
    """
    stdout_path = workdir / "simulate.out"
    stderr_path = workdir / "simulate.log"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [JOBDASH, "simulate", "-v", *flags],
            env=kafka_env(settings),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    simulator = SimulatorProcess(process, stdout_path, stderr_path)

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(
                f"jobdash simulate exited with {process.returncode}:\n"
                f"{simulator.output()}\n{simulator.log()}",
                pytrace=False,
            )
        return "jobdash simulate: ready" in simulator.output()

    try:
        wait_until(
            ready,
            timeout=READY_TIMEOUT,
            interval=0.05,
            message=lambda: f"jobdash simulate to be ready:\n{simulator.log()}",
        )
    except BaseException:
        simulator.stop()
        raise
    return simulator


def run_jobdash(
    settings: Settings, *args: str, timeout: float = 120.0, **env: object
) -> subprocess.CompletedProcess[str]:
    """Run ``jobdash ARGS`` to completion with ``settings`` in its environment."""
    return subprocess.run(
        [JOBDASH, *args],
        env=kafka_env(settings, **env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
