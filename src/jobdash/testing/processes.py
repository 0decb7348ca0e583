"""jobdash child processes of tests: the console script, its environment, stopping.

Settings reach a child ``jobdash`` (or ``panel serve app.py``) as a
deployment gives them, through ``JOBDASH_*`` environment variables; the
ones the test process inherited are dropped, so a developer's shell cannot
change what a test runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["JOBDASH", "child_env", "jobdash_env", "stop_process"]

#: The ``jobdash`` console script of the environment running the tests.
JOBDASH = str(Path(sys.executable).with_name("jobdash"))


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def jobdash_env(settings: Mapping[str, object]) -> dict[str, str]:
    """``Settings`` field names and values as ``JOBDASH_<NAME>`` variables.

    ``None`` leaves a setting unset; booleans are ``true``/``false``, dicts
    and lists JSON (as pydantic-settings reads them), the rest ``str()``.
    """
    return {
        f"JOBDASH_{name.upper()}": _env_value(value)
        for name, value in settings.items()
        if value is not None
    }


def child_env(variables: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without its ``JOBDASH_*``, plus ``variables``.

    Output is unbuffered (``PYTHONUNBUFFERED``), so a child's log file is
    complete up to the moment a test reads it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBDASH_")}
    env.update(variables)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def stop_process(
    process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float
) -> int:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit code.

    Only returns the code if the process has exited already.
    """
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    code = process.returncode
    assert code is not None
    return code
