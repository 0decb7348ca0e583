# mypy: untyped-calls-exclude=panel
"""The parameters of each group of sources, and which group each source is in.

Part of the staging form. It starts with the groups it is given (usually one,
"All sources"); "New group" adds one with a copy of the last group's values
and no sources yet, and a "Group" picker per chosen source moves sources
between groups (the pickers show only while there are several groups).
"Remove group" merges a group's sources into the first remaining one; the
others are renumbered. Each group has its own
:class:`~jobdash.ui.workflows.parameter_form.ParameterForm`, so a refusal is
shown next to its field in its group, and the card marks changed fields per
group. Every source of the workflow has a group, chosen or not: unticking
and ticking a source again keeps it where it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import panel as pn

from jobdash.domain.ids import SourceName
from jobdash.domain.workflow_catalogue import ParameterError, WorkflowSpec
from jobdash.ui.live_html import LiveHTML
from jobdash.ui.workflows.parameter_form import ParameterForm
from jobdash.ui.workflows.source_groups import (
    GroupParameterError,
    SourceGroup,
    check_groups,
    group_title,
    in_group,
)

__all__ = ["ParameterGroups"]


@dataclass(slots=True)
class _Group:
    """The widgets of one group."""

    form: ParameterForm
    title: LiveHTML
    remove: pn.widgets.Button
    block: pn.Column


class ParameterGroups(pn.viewable.Viewer):
    """One parameter form per group of sources, with the source → group pickers.

    Parameters
    ----------
    spec
        The workflow's catalogue entry (schema and sources).
    groups
        The initial groups (at least one); sources of the workflow in none
        of them (unchosen ones) start in the first.
    chosen
        The sources currently chosen (ticked) in the staging form.
    disabled
        Show without allowing edits (a viewer's card).
    stylesheets
        CSS (text) for the markup and the group blocks.
    """

    def __init__(
        self,
        spec: WorkflowSpec,
        groups: Sequence[SourceGroup],
        chosen: Sequence[SourceName],
        *,
        disabled: bool = False,
        stylesheets: Sequence[str] = (),
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Viewer is untyped
        if not groups:
            groups = (SourceGroup((), spec.default_params()),)
        self._spec = spec
        self._css = list(stylesheets)
        self._disabled = disabled
        self._chosen = set(chosen)
        self._listeners: list[Callable[[], None]] = []
        self._groups: list[_Group] = []
        self._membership: dict[SourceName, _Group] = {}
        self._quiet = False  # while pickers are set from here, not by the operator
        for group in groups:
            self._add(group.params)
        for group, view in zip(groups, self._groups, strict=True):
            self._membership.update(dict.fromkeys(group.sources, view))
        for source in spec.source_names:
            self._membership.setdefault(source, self._groups[0])
        self._pickers = {
            source: pn.widgets.Select(
                label=source,
                options={},
                disabled=disabled,
                css_classes=["jd-group-picker", f"jd-group-of-{source}"],
                width=200,
                margin=(2, 10),
            )
            for source in spec.source_names
        }
        self._picked = {id(picker): source for source, picker in self._pickers.items()}
        for picker in self._pickers.values():
            picker.param.watch(self._on_pick, "value")
        self._picker_section = pn.Column(
            LiveHTML(
                '<span class="jd-field-label">Group of each source</span>',
                stylesheets=self._css,
                margin=(4, 10, 0, 10),
            ),
            pn.FlexBox(*self._pickers.values(), margin=0),
            css_classes=["jd-group-pickers"],
            margin=0,
        )
        self._new = pn.widgets.Button(
            label="New group",
            color="light",
            disabled=disabled,
            # A workflow of one source has nothing to group.
            visible=len(spec.source_names) > 1,
            css_classes=["jd-new-group"],
            margin=(4, 10),
        )
        self._new.on_click(lambda _event: self.add_group())
        self._blocks = pn.Column(margin=0)
        self._layout = pn.Column(
            self._picker_section,
            self._blocks,
            self._new,
            css_classes=["jd-param-groups"],
            margin=0,
        )
        self._relayout()

    def __panel__(self) -> pn.Column:
        return self._layout

    # --- reading -------------------------------------------------------------

    @property
    def forms(self) -> tuple[ParameterForm, ...]:
        """Each group's parameter form, in display order."""
        return tuple(group.form for group in self._groups)

    @property
    def pickers(self) -> Mapping[str, pn.widgets.Select]:
        """The group picker of each source (value: the group's index)."""
        return dict(self._pickers)

    @property
    def new_group_button(self) -> pn.widgets.Button:
        return self._new

    @property
    def remove_buttons(self) -> tuple[pn.widgets.Button, ...]:
        """Each group's "Remove group" button (hidden while there is one group)."""
        return tuple(group.remove for group in self._groups)

    @property
    def titles(self) -> tuple[str, ...]:
        """Each group's title and sources, as shown (plain text)."""
        return tuple(self._caption(index) for index in range(len(self._groups)))

    def groups(self) -> tuple[SourceGroup, ...]:
        """The groups with their chosen sources (catalogue order) and values."""
        return tuple(
            SourceGroup(self._sources_of(group), group.form.values)
            for group in self._groups
        )

    def validate(self) -> tuple[SourceGroup, ...]:
        """The groups with their values checked and coerced; refusals shown.

        Raises
        ------
        ParameterError
            The first refusal, naming its group (a
            :class:`~jobdash.ui.workflows.source_groups.GroupParameterError`)
            if there are several: a refused value (see
            :meth:`validate_values`), or a group without a chosen source.
        """
        checked = self.validate_values()
        try:
            check_groups(checked)
        except GroupParameterError as error:
            self.show_error(error)
            raise
        return checked

    def validate_values(self) -> tuple[SourceGroup, ...]:
        """Every group's values checked (each refusal shown next to its field).

        Raises
        ------
        ParameterError
            The first refused value, naming its group if there are several.
        """
        groups = self.groups()
        first: ParameterError | None = None
        checked: list[SourceGroup] = []
        for index, group in enumerate(self._groups):
            try:
                params = group.form.validate()
            except ParameterError as error:
                first = first or in_group(error, index, groups)
                continue
            checked.append(SourceGroup(groups[index].sources, params))
        if first is not None:
            raise first
        return tuple(checked)

    # --- changing ------------------------------------------------------------

    def add_group(self) -> None:
        """A new last group: the last group's values, no sources yet."""
        self._add(self._groups[-1].form.values)
        self._relayout()
        self._notify()

    def remove_group(self, index: int) -> None:
        """Remove group ``index``; its sources join the first remaining group."""
        if len(self._groups) < 2:
            return
        removed = self._groups.pop(index)
        for source, group in self._membership.items():
            if group is removed:
                self._membership[source] = self._groups[0]
        self._relayout()
        self._notify()

    def set_chosen(self, chosen: Sequence[SourceName]) -> None:
        """Which sources are ticked: only they show a picker and count."""
        self._chosen = set(chosen)
        self._relayout()

    def show_error(self, error: ParameterError) -> None:
        """Show a refusal in its group's form (a plain one in the first group's)."""
        if isinstance(error, GroupParameterError) and error.group < len(self._groups):
            self._groups[error.group].form.show_error(error.error)
        else:
            self._groups[0].form.show_error(error)

    def clear_errors(self) -> None:
        for group in self._groups:
            group.form.clear_errors()

    def mark_changed(self, changes: Sequence[frozenset[str]]) -> None:
        """Mark each group's changed parameters (``changes`` in group order)."""
        for index, group in enumerate(self._groups):
            group.form.mark_changed(changes[index] if index < len(changes) else ())

    def set_disabled(self, disabled: bool) -> None:
        self._disabled = disabled
        for group in self._groups:
            group.form.set_disabled(disabled)
            group.remove.disabled = disabled
        for picker in self._pickers.values():
            picker.disabled = disabled
        self._new.disabled = disabled

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after the operator changed a value or a group."""
        self._listeners.append(callback)

    # --- internals --------------------------------------------------------------

    def _add(self, params: Mapping[str, Any]) -> None:
        form = ParameterForm(
            self._spec.parameters,
            params,
            disabled=self._disabled,
            stylesheets=self._css,
        )
        form.on_change(lambda _name: self._notify())
        title = LiveHTML(
            "",
            stylesheets=self._css,
            css_classes=["jd-group-title"],
            sizing_mode="stretch_width",
        )
        remove = pn.widgets.Button(
            label="Remove group",
            color="light",
            disabled=self._disabled,
            css_classes=["jd-remove-group"],
            margin=(2, 10),
        )
        block = pn.Column(
            pn.Row(title, remove, sizing_mode="stretch_width", margin=0),
            form,
            stylesheets=self._css,
            margin=(4, 0),
        )
        group = _Group(form, title, remove, block)
        remove.on_click(lambda _event: self.remove_group(self._groups.index(group)))
        self._groups.append(group)

    def _sources_of(self, group: _Group) -> tuple[SourceName, ...]:
        return tuple(
            source
            for source in self._spec.source_names
            if source in self._chosen and self._membership[source] is group
        )

    def _caption(self, index: int) -> str:
        title = group_title(index, len(self._groups))
        if len(self._groups) == 1:
            return title
        sources = self._sources_of(self._groups[index])
        return f"{title}: {', '.join(sources) if sources else 'no sources yet'}"

    def _relayout(self) -> None:
        """Titles, classes, picker options and visibility after a structural change."""
        count = len(self._groups)
        split = count > 1
        options = {group_title(index, count): index for index in range(count)}
        self._quiet = True
        try:
            for source, picker in self._pickers.items():
                if picker.options != options:
                    picker.options = options
                index = self._groups.index(self._membership[source])
                if picker.value != index:
                    picker.value = index
                visible = split and source in self._chosen
                if picker.visible != visible:
                    picker.visible = visible
        finally:
            self._quiet = False
        self._picker_section.visible = split
        for index, group in enumerate(self._groups):
            title = group_title(index, count)
            sources = self._sources_of(group)
            listed = ", ".join(sources) if sources else "no sources yet"
            markup = f'<span class="jd-group-name">{escape(title)}</span>'
            if split:
                markup += f' <span class="jd-group-sources">{escape(listed)}</span>'
            if group.title.object != markup:
                group.title.object = markup
            group.remove.visible = split
            classes = ["jd-param-group", f"jd-param-group-{index + 1}"]
            if group.block.css_classes != classes:
                group.block.css_classes = classes
        blocks = [group.block for group in self._groups]
        if self._blocks.objects != blocks:
            self._blocks.objects = blocks

    def _on_pick(self, event: Any) -> None:
        if self._quiet or event.new is None:
            return
        source = self._picked[id(event.obj)]
        self._membership[source] = self._groups[event.new]
        self._relayout()
        self._notify()

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()
