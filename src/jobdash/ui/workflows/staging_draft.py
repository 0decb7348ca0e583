"""What a card would stage next, and how that differs from what runs.

A *draft* is the content of a card's staging form — sources, auxiliary
sources, parameter values — as plain data, so it exists (and can be
committed) before the form's widgets are ever built: a collapsed card's
"Start" commits the draft it would show. Pure functions, no Panel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobdash.domain.ids import SourceName
from jobdash.services.snapshots import JobSetSnapshot, WorkflowSnapshot
from jobdash.services.workflow_state import SourceConfig

__all__ = ["DraftDifferences", "StagingDraft", "draft_differences", "initial_draft"]


@dataclass(frozen=True, slots=True)
class StagingDraft:
    """One workflow's next config: the same params and aux sources for every source.

    Attributes
    ----------
    sources
        The chosen sources, in catalogue order.
    aux_source_names
        Role → chosen source.
    params
        Parameter values as entered (not yet validated).
    """

    sources: tuple[SourceName, ...]
    aux_source_names: Mapping[str, str]
    params: Mapping[str, Any]

    def source_configs(self) -> dict[SourceName, SourceConfig]:
        """The draft as the orchestrator commits it: one config per chosen source."""
        config = SourceConfig(self.params, self.aux_source_names)
        return dict.fromkeys(self.sources, config)


@dataclass(frozen=True, slots=True)
class DraftDifferences:
    """How a draft differs from the running JobSet.

    Attributes
    ----------
    changed_params
        Names of parameters whose draft value differs from a running job's.
    notes
        One human sentence fragment per difference, for the "differs from
        running" note (``"resolution 128 → 256"``, ``"adds monitor_cave"``).
    """

    changed_params: frozenset[str] = frozenset()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.notes)


def initial_draft(snapshot: WorkflowSnapshot) -> StagingDraft:
    """The draft a card starts from: staged, else running, else defaults.

    Staged configs are what the operator (in any session, or before a
    restart) last prepared, so they win. Without any, the running config is
    the natural starting point for a change; without that, every source with
    the catalogue defaults. Values missing from a staged or running config
    (a catalogue that grew) take their defaults.
    """
    spec = snapshot.spec
    order = {name: index for index, name in enumerate(spec.source_names)}
    params = spec.default_params()
    aux = spec.default_aux_sources()
    if snapshot.staged:
        sources = [name for name in snapshot.staged if name in order]
        first = next(iter(snapshot.staged.values()))
        params.update((k, v) for k, v in first.params.items() if k in params)
        aux.update((k, v) for k, v in first.aux_source_names.items() if k in aux)
    elif snapshot.current is not None and snapshot.current.config_known:
        sources = [
            job.source_name for job in snapshot.current.jobs if job.source_name in order
        ]
        known = next(job for job in snapshot.current.jobs if job.config_known)
        params.update((k, v) for k, v in known.params.items() if k in params)
        aux.update((k, v) for k, v in known.aux_source_names.items() if k in aux)
    else:
        sources = list(spec.source_names)
    sources.sort(key=order.__getitem__)
    return StagingDraft(tuple(sources), aux, params)


def _describe(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:40] + "…"


def draft_differences(
    draft: StagingDraft,
    running: JobSetSnapshot | None,
    labels: Mapping[str, str] | None = None,
) -> DraftDifferences:
    """What committing ``draft`` would change in ``running``.

    Nothing differs when nothing runs (or the running set is being stopped:
    a commit then simply starts). A running set whose config is unknown
    differs as a whole — its parameters cannot be compared. ``labels`` name
    parameters in the notes (default: their names).
    """
    names = labels or {}
    if running is None or running.stop_requested:
        return DraftDifferences()
    if not running.config_known:
        return DraftDifferences(notes=("running config unknown",))
    notes: list[str] = []
    running_sources = [job.source_name for job in running.jobs]
    added = [name for name in draft.sources if name not in running_sources]
    dropped = [name for name in running_sources if name not in draft.sources]
    if added:
        notes.append("adds " + ", ".join(added))
    if dropped:
        notes.append("drops " + ", ".join(dropped))
    known = [job for job in running.jobs if job.config_known]
    changed: set[str] = set()
    for name, value in draft.params.items():
        values = {repr(job.params.get(name)) for job in known}
        if any(job.params.get(name) != value for job in known):
            changed.add(name)
            before = (
                _describe(known[0].params.get(name)) if len(values) == 1 else "mixed"
            )
            notes.append(f"{names.get(name, name)} {before} → {_describe(value)}")
    for role, choice in draft.aux_source_names.items():
        if any(job.aux_source_names.get(role) != choice for job in known):
            notes.append(f"{role} → {choice}")
    return DraftDifferences(frozenset(changed), tuple(notes))
