"""The model layers never load a UI library (DESIGN.md §3).

Checked in a fresh interpreter, because this test session has long since
imported panel through other tests. Modules are enumerated, not listed, so a
module added to ``jobdash.services`` later is covered without editing this.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

UI_LIBRARIES = ("panel", "bokeh", "holoviews")

_PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    import jobdash.domain
    import jobdash.services

    imported = []
    for package in (jobdash.domain, jobdash.services):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
            imported.append(module.name)
    loaded = sorted(
        name for name in sys.modules if name.split(".")[0] in {libraries!r}
    )
    print(json.dumps({{"imported": imported, "ui": loaded}}))
    """
)


def test_domain_and_services_never_import_ui_libraries():
    probe = _PROBE.format(libraries=set(UI_LIBRARIES))
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # The enumeration found the modules (so the check is not vacuous) ...
    assert "jobdash.domain.job_status" in report["imported"]
    assert "jobdash.services.job_service" in report["imported"]
    assert "jobdash.services.orchestrator" in report["imported"]
    # ... and none of them pulled in a UI library.
    assert report["ui"] == []
