"""Crash safety of ConfigStore: a writer killed at any moment never tears the file.

A helper process (``crash_writer.py``) forks writers that save ever newer
states with the real ``ConfigStore.save``; each is SIGKILLed at a random
moment. After every kill a fresh ``ConfigStore.load()`` must return a whole
state — the last one saved, or the one being saved — without a warning, and
the generation must never go back.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from crash_writer import generation_of, make_state

from jobdash.catalogue_file import shipped_catalogue
from jobdash.domain.clock import ManualClock
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.config_store import ConfigStore, PersistedState
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.transport.in_memory_sink import InMemoryCommandSink

WRITER = Path(__file__).with_name("crash_writer.py")
#: Where the counts are recorded for docs/reliability.md.
RECORD = (
    Path(__file__).resolve().parents[2] / "test-artifacts" / "config-store-crash.json"
)
MAX_KILLS = 100
TIME_BUDGET_S = 20.0
# Kill moments are spread over a few saves (one takes roughly 1-15 ms,
# mostly fsync), so kills land before the first save, inside a save (between
# creating the temporary file and renaming it) and between saves.
MAX_DELAY_S = 0.06


class ForkServer:
    """Talks the line protocol of ``crash_writer.py``."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(WRITER), str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._answer() == "ready"

    def fork(self) -> int:
        return int(self._ask("fork"))

    def reap(self, pid: int) -> int:
        return int(self._ask(f"reap {pid}"))

    def close(self) -> str:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        assert self.process.stderr is not None
        errors = self.process.stderr.read()
        for stream in (self.process.stdout, self.process.stderr):
            assert stream is not None
            stream.close()
        return errors

    def _ask(self, request: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(request + "\n")
        self.process.stdin.flush()
        return self._answer()

    def _answer(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            assert self.process.stderr is not None
            pytest.fail(f"the fork server died: {self.process.stderr.read()}")
        return line.strip()


@pytest.fixture
def server(tmp_path) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path / "dream.json")
    yield server
    errors = server.close()
    assert errors == "", errors


def temporary_files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir() if p.name.endswith(".tmp")}


@pytest.mark.slow
def test_a_writer_killed_at_random_moments_never_leaves_an_unreadable_file(
    server, tmp_path
):
    path = tmp_path / "dream.json"
    rng = random.Random(20251129)
    deadline = time.monotonic() + TIME_BUDGET_S
    kills = mid_write = progressed = 0
    last_generation = 0
    while kills < MAX_KILLS and time.monotonic() < deadline:
        before = temporary_files(tmp_path)
        pid = server.fork()
        # The random kill moment is the experiment, not a wait for a condition.
        time.sleep(rng.uniform(0.0, MAX_DELAY_S))
        os.kill(pid, signal.SIGKILL)
        status = server.reap(pid)
        assert os.WIFSIGNALED(status), f"writer ended on its own: status {status}"
        assert os.WTERMSIG(status) == signal.SIGKILL
        kills += 1
        if temporary_files(tmp_path) - before:
            mid_write += 1  # killed between creating the temp file and the rename

        store = ConfigStore(path, clock=ManualClock())
        state = store.load()
        assert store.warnings == [], f"kill {kills}: {store.warnings}"
        generation = generation_of(state)
        assert state == make_state(generation), f"kill {kills}: torn state"
        assert generation >= last_generation, f"kill {kills}: went back in time"
        progressed += generation > last_generation
        last_generation = generation

    leftovers = len(temporary_files(tmp_path))
    record = {
        "kills": kills,
        "killed_mid_write": mid_write,
        "kills_after_progress": progressed,
        "final_generation": last_generation,
        "leftover_temporary_files": leftovers,
    }
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nconfig store crash test: {json.dumps(record)}")
    assert kills >= 50, f"only {kills} kills within {TIME_BUDGET_S} s"
    # The experiment must actually have hit the dangerous window, and writers
    # must have got work done between kills.
    assert mid_write >= 1, record
    assert progressed >= kills // 5, record
    # Leftover temporary files from killed writers are ignored by load().
    assert ConfigStore(path).load() == make_state(last_generation)


def test_a_file_of_a_future_format_version_is_set_aside_and_the_app_starts_empty(
    tmp_path,
):
    # ConfigStore's own tests cover the set-aside; this is the start-up path.
    path = tmp_path / "dream.json"
    future = {"version": 2, "workflows": {"dream/detector_view/1": {"staged": {}}}}
    path.write_text(json.dumps(future), encoding="utf-8")
    clock = ManualClock()
    store = ConfigStore(path, clock=clock)
    orchestrator = JobOrchestrator(
        shipped_catalogue("dream"),
        CommandDispatcher(InMemoryCommandSink()),
        clock,
        config_store=store,
    )
    assert all(
        snapshot.staged == {} and snapshot.current is None
        for snapshot in orchestrator.snapshots()
    )
    (warning,) = orchestrator.warnings
    assert "incompatible" in warning
    assert "dream.json.corrupt-20251129T000000Z" in warning
    assert (
        json.loads(path.with_name("dream.json.corrupt-20251129T000000Z").read_text())
        == future
    )
    # The next save starts a fresh file and leaves the set-aside copy alone.
    assert store.save(PersistedState()) is True
    assert ConfigStore(path).load() == PersistedState()
