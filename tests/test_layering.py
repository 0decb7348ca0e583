"""The layer contracts of ``pyproject.toml`` cover the whole product.

``lint-imports`` (run by ``make lint``, so by ``make test``) checks that each
layer imports only those below it and that ``domain``/``services`` never load
panel, bokeh or holoviews. Those contracts only protect modules they name:
this test fails when a new top-level module of ``jobdash`` sits in no layer.
"""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import jobdash

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

# Outside the layers on purpose: shipped data, and the helpers of our own
# tests and benchmarks (a contract forbids the product to import them).
OUTSIDE_THE_LAYERS = {"jobdash.assets", "jobdash.testing"}


def contracts() -> list[dict]:
    return tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]


def test_every_top_level_module_of_jobdash_is_in_a_layer():
    (layers,) = [c["layers"] for c in contracts() if c["type"] == "layers"]
    layered = {name.strip() for layer in layers for name in layer.split("|")}
    modules = {
        f"jobdash.{module.name}" for module in pkgutil.iter_modules(jobdash.__path__)
    }
    assert "jobdash.services" in modules  # the enumeration found them
    assert modules - OUTSIDE_THE_LAYERS == layered


def test_the_model_layers_are_forbidden_the_ui_libraries():
    forbidden = [
        (set(c["source_modules"]), set(c["forbidden_modules"]))
        for c in contracts()
        if c["type"] == "forbidden"
    ]
    model_layers = {"jobdash.domain", "jobdash.services"}
    assert (model_layers, {"panel", "bokeh", "holoviews"}) in forbidden
