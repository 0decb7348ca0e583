"""Groups of sources that share parameter values, and what they are called.

A workflow's sources (detector banks, monitors) can need different settings:
the staging form sets parameters per *group* of sources, and the wire
carries one config per source. Going back from per-source configs (what
runs, what is staged) to groups is a rule, not a memory: sources whose
parameters are equal form one group, so a split configuration reopens as
the groups it was committed with. Pure data and functions, no Panel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jobdash.domain.ids import SourceName
from jobdash.domain.workflow_catalogue import ParameterError

__all__ = [
    "GroupParameterError",
    "SourceGroup",
    "check_groups",
    "group_by_params",
    "group_caption",
    "group_title",
    "in_group",
]


@dataclass(frozen=True, slots=True)
class SourceGroup:
    """Sources started with the same parameter values.

    Attributes
    ----------
    sources
        The group's chosen sources, in catalogue order (may be empty while
        the operator is still assigning sources to a new group).
    params
        Their parameter values as entered (not yet validated).
    """

    sources: tuple[SourceName, ...]
    params: Mapping[str, Any]


def group_by_params(
    params_by_source: Iterable[tuple[SourceName, Mapping[str, Any]]],
    source_order: Sequence[SourceName],
) -> tuple[SourceGroup, ...]:
    """Sources with equal ``params`` as one group each.

    Values are compared with ``==`` (so ``128`` and ``128.0`` are equal, as
    they are for the schema). Sources within a group, and groups by their
    first source, follow ``source_order``; sources not in it come last, by
    name. The first source of a group gives its ``params``.
    """
    rank = {name: index for index, name in enumerate(source_order)}
    ordered = sorted(
        params_by_source, key=lambda item: (rank.get(item[0], len(rank)), item[0])
    )
    members: list[list[SourceName]] = []
    values: list[Mapping[str, Any]] = []
    for source, params in ordered:
        for index, known in enumerate(values):
            if known == params:
                members[index].append(source)
                break
        else:
            members.append([source])
            values.append(params)
    return tuple(
        SourceGroup(tuple(names), params)
        for names, params in zip(members, values, strict=True)
    )


def group_title(index: int, count: int) -> str:
    """What group ``index`` (0-based) of ``count`` is called on the form.

    A single group is "All sources"; with several they are numbered from 1
    in display order (so removing one renumbers the rest).
    """
    return "All sources" if count == 1 else f"Group {index + 1}"


def group_caption(index: int, groups: Sequence[SourceGroup]) -> str:
    """The title with the group's sources, for notes and messages.

    ``"Group 2 (endcap_backward_detector, endcap_forward_detector)"``;
    a single group is just "All sources".
    """
    title = group_title(index, len(groups))
    if len(groups) == 1:
        return title
    sources = ", ".join(groups[index].sources) or "no sources"
    return f"{title} ({sources})"


class GroupParameterError(ParameterError):
    """A refusal within one group of sources: names the group and the field.

    ``str()`` is ``"<group caption>: <error>"`` (e.g. ``"Group 2
    (endcap_forward_detector): resolution: must be ≥ 16, got 4"``), for the
    card's feedback and the notification log; :attr:`error` is the plain
    refusal, to show next to the field in that group's form.

    Attributes
    ----------
    group
        The group's index (0-based, display order).
    error
        The refusal without the group, naming its parameter (or ``None``).
    """

    def __init__(self, group: int, caption: str, error: ParameterError) -> None:
        ValueError.__init__(self, f"{caption}: {error}")
        self.parameter = error.parameter
        self.group = group
        self.error = error


def check_groups(groups: Sequence[SourceGroup]) -> None:
    """Refuse an empty group among several (one group without sources is an
    empty choice of sources, refused as such by ``StagingDraft.validated``).

    Raises
    ------
    GroupParameterError
        For the first empty group.
    """
    if len(groups) < 2:
        return
    for index, group in enumerate(groups):
        if not group.sources:
            raise GroupParameterError(
                index,
                group_title(index, len(groups)),
                ParameterError(
                    None, "no source is in this group; choose it for one, or remove it"
                ),
            )


def in_group(
    error: ParameterError, index: int, groups: Sequence[SourceGroup]
) -> ParameterError:
    """``error`` of group ``index``, naming the group if there are several."""
    if len(groups) == 1:
        return error
    return GroupParameterError(index, group_caption(index, groups), error)
