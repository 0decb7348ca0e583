"""Reading a workflow catalogue file: the operator's own, or a shipped one.

A catalogue is a YAML (or JSON) file validated by pydantic
(:class:`~jobdash.domain.workflow_catalogue.WorkflowCatalogue`), so an
operator's own catalogue fails at start-up with a message naming the bad field
instead of misbehaving later. Only the composition root (and the CLI, which
builds on it) reads files; services and transports are handed the catalogue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from jobdash.assets import asset
from jobdash.domain.workflow_catalogue import WorkflowCatalogue

__all__ = [
    "CatalogueError",
    "load_catalogue_file",
    "shipped_catalogue",
    "shipped_catalogue_path",
]


class CatalogueError(ValueError):
    """A catalogue file that cannot be read or does not validate."""


def load_catalogue_file(path: Path | str) -> WorkflowCatalogue:
    """Read and validate a catalogue file (YAML or JSON).

    Raises
    ------
    CatalogueError
        Naming the file and, for invalid content, the first bad field as a
        dotted path (``workflows.2.parameters.0.default``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"cannot read workflow catalogue {path}: {exc}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML/JSON: {exc}") from None
    try:
        return WorkflowCatalogue.model_validate(document)
    except ValidationError as exc:
        raise CatalogueError(_describe(path, exc, document)) from None


def shipped_catalogue(instrument: str = "dream") -> WorkflowCatalogue:
    """The catalogue shipped with jobdash for ``instrument``."""
    return load_catalogue_file(shipped_catalogue_path(instrument))


def shipped_catalogue_path(instrument: str) -> Path:
    """Where the shipped catalogue of ``instrument`` lives."""
    path = asset("catalogues", f"{instrument}.yaml")
    if not path.exists():
        raise CatalogueError(
            f"no shipped workflow catalogue for instrument {instrument!r}"
        )
    return path


def _describe(path: Path, exc: ValidationError, document: Any) -> str:
    """The first problem: its dotted field path, the workflow it is in (by
    id, when the entry has one: positions are hard to count in a long file)
    and pydantic's message."""
    errors = exc.errors()
    first = errors[0]
    loc = first["loc"]
    location = ".".join(str(part) for part in loc) or "(top level)"
    where = ""
    if len(loc) >= 2 and loc[0] == "workflows" and isinstance(loc[1], int):
        workflows = document.get("workflows") if isinstance(document, dict) else None
        entry = (
            workflows[loc[1]]
            if isinstance(workflows, list) and loc[1] < len(workflows)
            else None
        )
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            where = f" (workflow {entry['id']})"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return (
        f"invalid workflow catalogue {path}: field '{location}'{where}: "
        f"{first['msg']}{more}"
    )
