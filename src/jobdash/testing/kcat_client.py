"""Drive Debian's ``kcat`` as an independent Kafka client in tests.

kcat links its own librdkafka, so what it reads and writes proves wire
compatibility rather than agreement of jobdash with itself.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_TIMEOUT_S = 30


def produce_files(kcat: str, bootstrap: str, topic: str, files: Sequence[Path]) -> None:
    """Produce each file as one message (``kcat -P -b ADDR -t TOPIC FILE...``)."""
    subprocess.run(
        [kcat, "-P", "-b", bootstrap, "-t", topic, *map(str, files)],
        check=True,
        capture_output=True,
        timeout=_TIMEOUT_S,
    )


def consume_all(kcat: str, bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every message of ``topic`` from the beginning, as kcat's JSON envelopes.

    Each envelope has ``topic``, ``partition``, ``offset``, ``tstype``,
    ``ts`` (ms), ``key`` (``None`` when absent) and ``payload`` (text).
    """
    result = subprocess.run(
        [kcat, "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-J"],
        check=True,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
    )
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
