# mypy: untyped-calls-exclude=panel
"""The staging section of a workflow card: sources, auxiliary sources, parameters.

It edits a :class:`~jobdash.ui.workflows.staging_draft.StagingDraft`: which
sources run, one auxiliary source choice for all, and the parameters of each
group of sources (``parameter_groups``). The card compares that draft with
the running JobSet and has the labels of changed parameters marked here, per
group. Like the parameter form, it never stages or sends anything itself:
the card decides when.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

import panel as pn

from jobdash.domain.workflow_catalogue import ParameterError, WorkflowSpec
from jobdash.ui.live_html import LiveHTML
from jobdash.ui.workflows.parameter_form import ParameterForm
from jobdash.ui.workflows.parameter_groups import ParameterGroups
from jobdash.ui.workflows.staging_draft import DraftDifferences, StagingDraft

__all__ = ["StagingForm"]


class StagingForm(pn.viewable.Viewer):
    """Choose sources and auxiliary sources, and set the parameters per group.

    Parameters
    ----------
    spec
        The workflow's catalogue entry.
    draft
        What the form shows initially.
    disabled
        Show without allowing edits (a viewer's card).
    stylesheets
        CSS (text) for the section's markup.
    """

    def __init__(
        self,
        spec: WorkflowSpec,
        draft: StagingDraft,
        *,
        disabled: bool = False,
        stylesheets: Sequence[str] = (),
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Viewer is untyped
        self._spec = spec
        self._listeners: list[Callable[[], None]] = []
        self._sources = pn.widgets.CheckBoxGroup(
            label="Sources",
            options=list(spec.source_names),
            value=list(draft.sources),
            inline=False,
            disabled=disabled,
            css_classes=["jd-sources"],
        )
        self._aux = {
            role: pn.widgets.Select(
                label=f"{role.replace('_', ' ').capitalize()} source",
                options=list(choices),
                value=draft.aux_source_names.get(role, choices[0]),
                disabled=disabled,
                css_classes=[f"jd-aux-{role}"],
            )
            for role, choices in spec.aux_sources.items()
        }
        self._groups = ParameterGroups(
            spec,
            draft.groups,
            draft.sources,
            disabled=disabled,
            stylesheets=stylesheets,
        )
        self._aux_message = LiveHTML(
            "",
            visible=False,
            css_classes=["jd-field-error"],
            stylesheets=list(stylesheets),
        )
        self._sources.param.watch(self._changed, "value")
        for select in self._aux.values():
            select.param.watch(self._changed, "value")
        self._groups.on_change(self._changed)
        self._layout = pn.Column(
            LiveHTML(
                '<span class="jd-field-label">Sources</span>',
                stylesheets=list(stylesheets),
                margin=(4, 10, 0, 10),
            ),
            self._sources,
            *self._aux.values(),
            self._aux_message,
            self._groups,
            css_classes=["jd-staging"],
            margin=0,
        )

    def __panel__(self) -> pn.Column:
        return self._layout

    @property
    def parameter_form(self) -> ParameterForm:
        """The first group's form (the only one unless the operator split)."""
        return self._groups.forms[0]

    @property
    def groups(self) -> ParameterGroups:
        """The groups of sources, each with its parameter form."""
        return self._groups

    @property
    def source_selector(self) -> pn.widgets.CheckBoxGroup:
        return self._sources

    @property
    def aux_selectors(self) -> Mapping[str, pn.widgets.Select]:
        return dict(self._aux)

    def draft(self) -> StagingDraft:
        """What the form shows now, each group's sources in catalogue order.

        Every group is in it, even one without a chosen source (so that it
        lines up with the form's groups); :meth:`validate` refuses those.
        """
        return StagingDraft(
            self._groups.groups(),
            {role: select.value for role, select in self._aux.items()},
        )

    def validate(self) -> StagingDraft:
        """The draft with its values checked and coerced; refusals shown.

        Raises
        ------
        ParameterError
            For the first refused value (every refusal is displayed), for an
            empty choice of sources, or (a ``GroupParameterError``, naming
            the group) a group without a chosen source.
        """
        self.clear_errors()
        draft = self.draft()
        try:
            aux = self._spec.validate_aux_sources(draft.aux_source_names)
        except ParameterError as error:
            self.show_error(error)
            raise
        if not draft.sources:
            self._groups.validate_values()
            empty = ParameterError(None, "choose at least one source")
            self.show_error(empty)
            raise empty
        return StagingDraft(self._groups.validate(), aux)

    def show_error(self, error: ParameterError) -> None:
        """Show a refusal next to its field (aux source, parameter) or the form.

        A refusal naming a group (``GroupParameterError``) is shown in that
        group's form; any other in the first group's.
        """
        if error.parameter in self._aux:
            self._aux_message.object = escape(str(error))
            self._aux_message.visible = True
        else:
            self._groups.show_error(error)

    def clear_errors(self) -> None:
        self._aux_message.visible = False
        self._groups.clear_errors()

    def mark_changed(self, names: frozenset[str]) -> None:
        """Mark the labels of ``names`` in every group."""
        self._groups.mark_changed([names] * len(self._groups.forms))

    def mark_differences(self, differences: DraftDifferences) -> None:
        """Mark, in each group, the parameters that differ from what its sources run.

        ``differences`` is of this form's :meth:`draft`; without per-group
        changes (nothing compared) every mark is cleared.
        """
        self._groups.mark_changed(differences.group_changes)

    def set_disabled(self, disabled: bool) -> None:
        self._sources.disabled = disabled
        for select in self._aux.values():
            select.disabled = disabled
        self._groups.set_disabled(disabled)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after the operator changed anything."""
        self._listeners.append(callback)

    def _changed(self, *_event: Any) -> None:
        self._groups.set_chosen(self._sources.value)
        self._aux_message.visible = False
        for listener in self._listeners:
            listener()
