"""Child processes: their ``JOBDASH_*`` environment, and stopping them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jobdash.testing.processes import child_env, jobdash_env, stop_process


def test_settings_become_jobdash_variables_as_pydantic_settings_reads_them() -> None:
    env = jobdash_env(
        {
            "seed": 3,
            "frozen_clock": True,
            "read_only": False,
            "operators": ["olga"],
            "kafka": {"linger.ms": 5},
            "config_dir": Path("/tmp/x"),
            "catalogue": None,
        }
    )
    assert env == {
        "JOBDASH_SEED": "3",
        "JOBDASH_FROZEN_CLOCK": "true",
        "JOBDASH_READ_ONLY": "false",
        "JOBDASH_OPERATORS": '["olga"]',
        "JOBDASH_KAFKA": '{"linger.ms": 5}',
        "JOBDASH_CONFIG_DIR": "/tmp/x",
    }


def test_a_child_inherits_no_jobdash_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBDASH_SEED", "99")
    env = child_env({"JOBDASH_INSTRUMENT": "dream"})
    assert "JOBDASH_SEED" not in env
    assert env["JOBDASH_INSTRUMENT"] == "dream"
    assert env["PYTHONUNBUFFERED"] == "1"


def test_stop_kills_a_process_that_ignores_sigterm() -> None:
    ignoring = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", ignoring], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    assert stop_process(process, timeout=0.2) == -9
    process.stdout.close()


def test_stop_returns_the_code_of_a_process_that_ended() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait(30)
    assert stop_process(process, timeout=1) == 3
