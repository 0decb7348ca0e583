"""A fork server whose children save ConfigStore states in a loop until killed.

``test_config_store_crash.py`` runs this file as a subprocess. Forking from a
single-threaded helper that has already imported jobdash makes a writer start
in about a millisecond (a fresh interpreter would take a third of a second),
so a test can kill a hundred writers at random moments within seconds.

Protocol, one line per request on stdin, one line per answer on stdout:

- at start-up it answers ``ready``;
- ``fork`` → forks a writer and answers its pid;
- ``reap <pid>`` → waits for that writer and answers its raw wait status;
- end of input → exits.

A writer loads the file, then saves :func:`make_state` of the next generation,
and the next, forever. Each generation's content is derived from its number
alone, so the test can tell a whole state from a torn one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jobdash.services.config_store import (
    ConfigStore,
    PersistedJobConfig,
    PersistedJobSet,
    PersistedState,
    PersistedWorkflow,
)

_GENERATION_KEY = "generation"
_WORKFLOWS = 10
_SOURCES = 20
# Big enough (~50 kB) that a save takes several write() calls and an fsync.
_PADDING = "p" * 100


def make_state(generation: int) -> PersistedState:
    """The state a writer saves as ``generation`` (0: the empty state)."""
    if generation == 0:
        return PersistedState()
    workflows = {
        f"dream/workflow_{w}/1": PersistedWorkflow(
            staged={
                f"source_{s}": PersistedJobConfig(
                    params={
                        _GENERATION_KEY: generation,
                        "resolution": generation * 7 + s,
                        "padding": _PADDING,
                    },
                    aux_source_names={"monitor": f"monitor_{generation % 3}"},
                )
                for s in range(_SOURCES)
            },
            current=PersistedJobSet(
                job_number=f"00000000-0000-4000-8000-{generation:012d}",
                jobs={"source_0": PersistedJobConfig(params={"g": generation})},
            ),
        )
        for w in range(_WORKFLOWS)
    }
    return PersistedState(workflows=workflows)


def generation_of(state: PersistedState) -> int:
    """The generation a state claims to be (0 for the empty state)."""
    if not state.workflows:
        return 0
    first = next(iter(state.workflows.values()))
    value = first.staged["source_0"].params[_GENERATION_KEY]
    assert isinstance(value, int)
    return value


def _write_forever(path: Path) -> None:
    store = ConfigStore(path)
    generation = generation_of(store.load())
    if store.warnings:
        sys.stderr.write(f"writer found a bad file: {store.warnings}\n")
        os._exit(3)
    while True:
        generation += 1
        if not store.save(make_state(generation)):
            sys.stderr.write(f"save failed: {store.warnings[-1]}\n")
            os._exit(4)


def _serve(path: Path) -> None:
    print("ready", flush=True)
    for request in sys.stdin:
        command, _, argument = request.strip().partition(" ")
        if command == "fork":
            pid = os.fork()
            if pid == 0:
                try:
                    _write_forever(path)
                finally:
                    os._exit(5)  # only reached if the loop raised
            print(pid, flush=True)
        elif command == "reap":
            _, status = os.waitpid(int(argument), 0)
            print(status, flush=True)
        else:
            print(f"unknown request {request!r}", flush=True)


if __name__ == "__main__":
    _serve(Path(sys.argv[1]))
