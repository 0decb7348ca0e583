"""CPU time and memory of this process, per thread, from Linux ``/proc``.

The browser benchmarks serve jobdash in their own process, which also runs
Playwright's client in the main thread. The server's CPU is therefore read
per thread (``/proc/self/task/<tid>/stat``) and the main thread left out;
the threads are named after their Python ``threading.Thread`` names, so the
ingestion thread and Bokeh's server thread can be told apart.

Not a benchmark: ``make bench`` skips ``benchmarks/_*.py``.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuSample", "cpu_sample", "load_text", "rss_mb"]

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    """Resident set size of this process now, in MiB (``VmRSS``)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def load_text() -> str:
    """``os.getloadavg()`` as ``"1.23 1.10 0.98"`` (1, 5 and 15 minutes)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds (user + system) of each thread at one instant.

    ``threads`` maps a thread's name (its Python name when it is a Python
    thread, else ``tid:<n>``) to its CPU seconds; ``wall`` is
    ``time.monotonic()`` at the sample.
    """

    wall: float
    threads: dict[str, float]

    def since(self, earlier: CpuSample) -> dict[str, float]:
        """CPU seconds per thread between ``earlier`` and this sample.

        A thread that did not exist at ``earlier`` counts from zero; one that
        ended in between is lost (its time is not in either sample).
        """
        return {
            name: seconds - earlier.threads.get(name, 0.0)
            for name, seconds in self.threads.items()
        }


def cpu_sample() -> CpuSample:
    """CPU seconds of every thread of this process, named."""
    names = {
        thread.native_id: thread.name
        for thread in threading.enumerate()
        if thread.native_id is not None
    }
    threads: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text(encoding="ascii")
        except OSError:
            continue  # the thread ended while we looked
        # The command name (2nd field) is in parentheses and may hold spaces.
        rest = fields[fields.rindex(")") + 2 :].split()
        # utime and stime are fields 14 and 15 of stat(5), i.e. rest[11:13].
        seconds = (int(rest[11]) + int(rest[12])) / _TICKS_PER_S
        tid = int(task.name)
        name = names.get(tid, f"tid:{tid}")
        threads[name] = threads.get(name, 0.0) + seconds
    return CpuSample(time.monotonic(), threads)
