"""What a card would stage next, and how that differs from what runs.

A *draft* is the content of a card's staging form — groups of sources with
their parameter values, auxiliary sources — as plain data, so it exists (and
can be committed) before the form's widgets are ever built: a collapsed
card's "Start" commits the draft it would show. Groups come from the
per-source configs by equal parameters (``source_groups``), so a split
configuration reopens split. Pure functions, no Panel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobdash.domain.ids import SourceName
from jobdash.domain.workflow_catalogue import ParameterError, WorkflowSpec
from jobdash.services.snapshots import JobSetSnapshot, JobSnapshot, WorkflowSnapshot
from jobdash.services.workflow_state import SourceConfig
from jobdash.ui.workflows.source_groups import (
    SourceGroup,
    check_groups,
    group_by_params,
    group_caption,
    in_group,
)

__all__ = ["DraftDifferences", "StagingDraft", "draft_differences", "initial_draft"]


@dataclass(frozen=True, slots=True)
class StagingDraft:
    """One workflow's next config: parameters per group, aux sources for all.

    Auxiliary sources are one choice for the whole workflow (the monitor a
    workflow normalises with is the same for every bank); parameters are
    per group of sources.

    Attributes
    ----------
    groups
        At least one; in display order. Only the first may hold every
        source; a group may be empty while the operator assigns sources
        (:meth:`validated` refuses that).
    aux_source_names
        Role → chosen source.
    """

    groups: tuple[SourceGroup, ...]
    aux_source_names: Mapping[str, str]

    @classmethod
    def uniform(
        cls,
        sources: Sequence[SourceName],
        aux_source_names: Mapping[str, str],
        params: Mapping[str, Any],
    ) -> StagingDraft:
        """One group: the same ``params`` for every source."""
        return cls((SourceGroup(tuple(sources), params),), aux_source_names)

    @property
    def sources(self) -> tuple[SourceName, ...]:
        """Every chosen source, group by group (each in catalogue order)."""
        return tuple(source for group in self.groups for source in group.sources)

    def source_configs(self) -> dict[SourceName, SourceConfig]:
        """The draft as the orchestrator commits it: one config per chosen source."""
        configs: dict[SourceName, SourceConfig] = {}
        for group in self.groups:
            config = SourceConfig(group.params, self.aux_source_names)
            configs.update(dict.fromkeys(group.sources, config))
        return configs

    def validated(self, spec: WorkflowSpec) -> StagingDraft:
        """The draft with every value checked against ``spec`` and coerced.

        Raises
        ------
        ParameterError
            No source is chosen, or an auxiliary source is refused.
        GroupParameterError
            With several groups: one without sources, or a value refused in
            one (naming the group and the field). With one group a refused
            value is a plain ``ParameterError``.
        """
        if not self.sources:
            raise ParameterError(None, "choose at least one source")
        check_groups(self.groups)
        aux = spec.validate_aux_sources(self.aux_source_names)
        groups = []
        for index, group in enumerate(self.groups):
            try:
                params = spec.validate_params(group.params)
            except ParameterError as error:
                raise in_group(error, index, self.groups) from None
            groups.append(SourceGroup(group.sources, params))
        return StagingDraft(tuple(groups), aux)


@dataclass(frozen=True, slots=True)
class DraftDifferences:
    """How a draft differs from the running JobSet.

    Attributes
    ----------
    changed_params
        Names of parameters whose draft value differs from a running job's,
        in any group.
    notes
        One human sentence fragment per difference, for the "differs from
        running" note (``"resolution 128 → 256"``, ``"adds monitor_cave"``;
        with several groups one per changed group, ``"Group 2
        (endcap_forward_detector): resolution 128 → 256"``).
    group_changes
        The changed parameters of each group of the draft, in its order
        (empty when nothing is compared).
    """

    changed_params: frozenset[str] = frozenset()
    notes: tuple[str, ...] = field(default_factory=tuple)
    group_changes: tuple[frozenset[str], ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.notes)


def _complete(params: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` for the current schema: known names kept, the rest defaults."""
    return {**defaults, **{k: v for k, v in params.items() if k in defaults}}


def initial_draft(snapshot: WorkflowSnapshot) -> StagingDraft:
    """The draft a card starts from: staged, else running, else defaults.

    Staged configs are what the operator (in any session, or before a
    restart) last prepared, so they win. Without any, the running config is
    the natural starting point for a change; without that, every source with
    the catalogue defaults. Sources with equal parameters form a group;
    values missing from a staged or running config (a catalogue that grew)
    take their defaults. Running jobs of unknown config join the first group.
    Auxiliary sources are those of the first source.
    """
    spec = snapshot.spec
    defaults = spec.default_params()
    aux = spec.default_aux_sources()
    configs: list[tuple[SourceName, Mapping[str, Any], Mapping[str, str]]] = []
    unknown: list[SourceName] = []
    if snapshot.staged:
        configs = [
            (source, config.params, config.aux_source_names)
            for source, config in snapshot.staged.items()
            if spec.has_source(source)
        ]
    elif snapshot.current is not None and snapshot.current.config_known:
        jobs: Sequence[JobSnapshot] = [
            job for job in snapshot.current.jobs if spec.has_source(job.source_name)
        ]
        configs = [
            (job.source_name, job.params, job.aux_source_names)
            for job in jobs
            if job.config_known
        ]
        unknown = [job.source_name for job in jobs if not job.config_known]
    else:
        return StagingDraft.uniform(spec.source_names, aux, defaults)
    if not configs:
        return StagingDraft.uniform((), aux, defaults)
    rank = {name: index for index, name in enumerate(spec.source_names)}
    configs.sort(key=lambda config: rank[config[0]])
    aux.update((k, v) for k, v in configs[0][2].items() if k in aux)
    groups = list(
        group_by_params(
            [(source, _complete(params, defaults)) for source, params, _ in configs],
            spec.source_names,
        )
    )
    if unknown:
        first = groups[0]
        joined = spec.in_source_order(dict.fromkeys([*first.sources, *unknown]))
        groups[0] = SourceGroup(tuple(joined), first.params)
    return StagingDraft(tuple(groups), aux)


def _describe(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _changes(
    params: Mapping[str, Any], jobs: Sequence[JobSnapshot], names: Mapping[str, str]
) -> tuple[frozenset[str], list[str]]:
    """Which of ``params`` differ from ``jobs``, and a fragment per difference."""
    changed: set[str] = set()
    parts: list[str] = []
    for name, value in params.items():
        if not jobs or all(job.params.get(name) == value for job in jobs):
            continue
        changed.add(name)
        first = jobs[0].params.get(name)
        same = all(job.params.get(name) == first for job in jobs)
        before = _describe(first) if same else "mixed"
        parts.append(f"{names.get(name, name)} {before} → {_describe(value)}")
    return frozenset(changed), parts


def draft_differences(
    draft: StagingDraft,
    running: JobSetSnapshot | None,
    labels: Mapping[str, str] | None = None,
) -> DraftDifferences:
    """What committing ``draft`` would change in ``running``.

    Nothing differs when nothing runs (or the running set is being stopped:
    a commit then simply starts). A running set whose config is unknown
    differs as a whole — its parameters cannot be compared. Each group is
    compared with the running jobs of its own sources; sources that would
    start or stop are named once for the workflow. ``labels`` name
    parameters in the notes (default: their names).
    """
    names = labels or {}
    if running is None or running.stop_requested:
        return DraftDifferences()
    if not running.config_known:
        return DraftDifferences(notes=("running config unknown",))
    notes: list[str] = []
    by_source = {job.source_name: job for job in running.jobs}
    chosen = draft.sources
    added = [name for name in chosen if name not in by_source]
    dropped = [name for name in by_source if name not in chosen]
    if added:
        notes.append("adds " + ", ".join(added))
    if dropped:
        notes.append("drops " + ", ".join(dropped))
    group_changes: list[frozenset[str]] = []
    for index, group in enumerate(draft.groups):
        jobs = [
            by_source[source]
            for source in group.sources
            if source in by_source and by_source[source].config_known
        ]
        changed, parts = _changes(group.params, jobs, names)
        group_changes.append(changed)
        if parts and len(draft.groups) == 1:
            notes.extend(parts)
        elif parts:
            notes.append(f"{group_caption(index, draft.groups)}: {', '.join(parts)}")
    known = [job for job in running.jobs if job.config_known]
    for role, choice in draft.aux_source_names.items():
        if any(job.aux_source_names.get(role) != choice for job in known):
            notes.append(f"{role} → {choice}")
    return DraftDifferences(
        frozenset().union(*group_changes), tuple(notes), tuple(group_changes)
    )
