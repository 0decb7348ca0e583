"""The views depend on protocols, never on the composition root or the transport.

``jobdash.ui`` reads the services through ``DashboardServices`` and the
simulated backend through ``SimulatorControls``; loading every UI module must
not load ``jobdash.app`` or any ``jobdash.transport`` module. Checked in a
fresh interpreter (this one has imported both long ago); modules are
enumerated, so a module added later is covered without editing this.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    import jobdash.ui

    imported = []
    for module in pkgutil.walk_packages(jobdash.ui.__path__, "jobdash.ui."):
        importlib.import_module(module.name)
        imported.append(module.name)
    loaded = sorted(
        name
        for name in sys.modules
        if name == "jobdash.app" or name.startswith("jobdash.transport")
    )
    print(json.dumps({"imported": imported, "forbidden": loaded}))
    """
)


def test_ui_modules_load_neither_the_composition_root_nor_the_transport():
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "jobdash.ui.page" in report["imported"]
    assert "jobdash.ui.jobs.job_status_widget" in report["imported"]
    assert "jobdash.ui.workflows.workflow_card" in report["imported"]
    assert report["forbidden"] == []
