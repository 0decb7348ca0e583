# mypy: untyped-calls-exclude=panel
"""A workflow's parameter form, generated from its catalogue schema.

One input per :class:`~jobdash.domain.workflow_catalogue.ParameterSpec`:
``int`` → ``IntInput`` and ``float`` → ``FloatInput`` (with the schema's bounds,
which the browser enforces while typing), ``bool`` → ``Checkbox``, ``str`` →
``TextInput``, ``choice`` → ``Select``. The schema's own ``check`` validates
each value as it changes, so a refused value shows its message next to the
field at once; the orchestrator validates again when staging, and its
:class:`~jobdash.domain.workflow_catalogue.ParameterError` is shown the same
way. The form never sends anything: the card decides when to stage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import suppress
from html import escape
from typing import Any

import panel as pn

from jobdash.domain.workflow_catalogue import ParameterError, ParameterSpec
from jobdash.ui.live_html import LiveHTML

__all__ = ["ParameterForm"]

_CHANGED_SUFFIX = " (changed)"


def _widget(spec: ParameterSpec, value: Any) -> pn.widgets.Widget:
    """The input for one parameter, showing ``value``.

    A value the input cannot hold (a persisted config from an older catalogue)
    shows as empty, or as the default for a checkbox or a choice, rather than
    failing: the schema check then says what is wrong.
    """
    common: dict[str, Any] = {
        "label": spec.label,
        "css_classes": [f"jd-param-{spec.name}"],
    }
    if spec.type in ("int", "float"):
        number = value if isinstance(value, int | float) else None
        if isinstance(number, bool):
            number = None
        if spec.type == "int" and isinstance(number, float):
            number = int(number) if number.is_integer() else None
        widget_type = (
            pn.widgets.IntInput if spec.type == "int" else pn.widgets.FloatInput
        )
        low, high = spec.min, spec.max
        if spec.type == "int":
            low = None if low is None else math.ceil(low)
            high = None if high is None else math.floor(high)
        return widget_type(
            value=number, start=low, end=high, description=_description(spec), **common
        )
    if spec.type == "bool":
        # Checkbox has no description tooltip: the form shows its help below it.
        checked = value if isinstance(value, bool) else bool(spec.default)
        return pn.widgets.Checkbox(value=checked, **common)
    if spec.type == "choice":
        assert spec.choices is not None  # guaranteed by the schema's validator
        chosen = value if value in spec.choices else spec.default
        return pn.widgets.Select(
            options=list(spec.choices),
            value=chosen,
            description=_description(spec),
            **common,
        )
    text = value if isinstance(value, str) else str(value)
    return pn.widgets.TextInput(value=text, description=_description(spec), **common)


def _description(spec: ParameterSpec) -> str | None:
    # Panel renders a description as Markdown (raw HTML passes through), and the
    # catalogue is operator-supplied: escape first, Markdown shows entities as text.
    parts = [spec.help] if spec.help else []
    if spec.min is not None or spec.max is not None:
        low = "-∞" if spec.min is None else f"{spec.min:g}"
        high = "∞" if spec.max is None else f"{spec.max:g}"
        parts.append(f"Allowed: {low} … {high}")
    return escape(" ".join(parts)) if parts else None


class ParameterForm(pn.viewable.Viewer):
    """Inputs for a workflow's parameters, with per-field error messages.

    Parameters
    ----------
    parameters
        The workflow's schema, in display order.
    values
        Initial values by name; missing ones take their defaults.
    disabled
        Show the values without letting them be edited (a viewer's card).
    stylesheets
        CSS (text) for the form's own markup.
    """

    def __init__(
        self,
        parameters: Sequence[ParameterSpec],
        values: Mapping[str, Any] | None = None,
        *,
        disabled: bool = False,
        stylesheets: Sequence[str] = (),
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Viewer is untyped
        given = values or {}
        self._specs = {spec.name: spec for spec in parameters}
        self._widgets: dict[str, pn.widgets.Widget] = {}
        self._messages: dict[str, pn.pane.HTML] = {}
        self._changed: frozenset[str] = frozenset()
        # What each visible message says, as plain text (the panes hold it escaped).
        self._shown: dict[str, str] = {}
        self._listeners: list[Callable[[str], None]] = []
        rows: list[Any] = []
        for spec in parameters:
            widget = _widget(spec, given.get(spec.name, spec.default))
            widget.disabled = disabled
            widget.param.watch(self._on_value, "value")
            message = LiveHTML(
                "",
                visible=False,
                css_classes=["jd-field-error"],
                stylesheets=list(stylesheets),
                margin=(0, 10, 4, 10),
            )
            self._widgets[spec.name] = widget
            self._messages[spec.name] = message
            rows.append(widget)
            if spec.type == "bool" and spec.help:
                rows.append(
                    LiveHTML(
                        f'<span class="jd-help">{escape(spec.help)}</span>',
                        stylesheets=list(stylesheets),
                        margin=(0, 10, 4, 30),
                    )
                )
            rows.append(message)
        self._form_message = LiveHTML(
            "",
            visible=False,
            css_classes=["jd-field-error"],
            stylesheets=list(stylesheets),
        )
        self._layout = pn.Column(
            *rows,
            self._form_message,
            css_classes=["jd-parameter-form"],
            stylesheets=list(stylesheets),
            margin=0,
        )
        self._names = {id(widget): name for name, widget in self._widgets.items()}
        for name in self._specs:
            # An initial value the schema refuses is shown, not fatal.
            with suppress(ParameterError):
                self._check(name)

    def __panel__(self) -> pn.Column:
        return self._layout

    @property
    def widgets(self) -> Mapping[str, pn.widgets.Widget]:
        """The input of each parameter, by name (read-only view)."""
        return dict(self._widgets)

    @property
    def values(self) -> dict[str, Any]:
        """The values as entered, by name; not validated (see :meth:`validate`)."""
        return {name: widget.value for name, widget in self._widgets.items()}

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Show ``values`` (by name; unknown names are ignored)."""
        for name, value in values.items():
            widget = self._widgets.get(name)
            if widget is not None:
                widget.value = value

    @property
    def errors(self) -> dict[str, str]:
        """The message shown next to each refused field, by name (plain text)."""
        return {name: text for name, text in self._shown.items() if name}

    @property
    def form_error(self) -> str | None:
        """The message shown under the form (a problem not tied to one field)."""
        return self._shown.get("")

    def validate(self) -> dict[str, Any]:
        """Every value checked against its schema, every refusal shown.

        Returns
        -------
        :
            The values coerced to their types.

        Raises
        ------
        ParameterError
            The first refused field's error (all are displayed).
        """
        first: ParameterError | None = None
        checked: dict[str, Any] = {}
        for name in self._specs:
            try:
                checked[name] = self._check(name)
            except ParameterError as error:
                first = first or error
        if first is not None:
            raise first
        return checked

    def show_error(self, error: ParameterError) -> None:
        """Show a refusal next to its field, or under the form if it names none."""
        name = error.parameter if error.parameter in self._messages else ""
        text = str(error)
        if name:
            # The field's label already says which parameter it is.
            text = text.removeprefix(f"{name}: ")
        self._show(name, text)

    def clear_errors(self) -> None:
        """Hide every message (fields are re-checked when they change)."""
        for name in list(self._shown):
            self._show(name, None)

    def _show(self, name: str, text: str | None) -> None:
        """Show ``text`` next to field ``name`` ("" = the form), or hide it if None."""
        pane = self._messages[name] if name else self._form_message
        if text is None:
            if self._shown.pop(name, None) is not None:
                pane.visible = False
                pane.object = ""
            return
        self._shown[name] = text
        pane.object = escape(text)
        pane.visible = True

    def mark_changed(self, names: Collection[str]) -> None:
        """Mark the labels of ``names`` as differing from the running config."""
        changed = frozenset(names) & self._specs.keys()
        if changed == self._changed:
            return
        for name in changed ^ self._changed:
            widget = self._widgets[name]
            label = self._specs[name].label
            is_changed = name in changed
            widget.label = label + _CHANGED_SUFFIX if is_changed else label
            classes = [c for c in widget.css_classes if c != "jd-param-changed"]
            widget.css_classes = (
                [*classes, "jd-param-changed"] if is_changed else classes
            )
        self._changed = changed

    @property
    def changed(self) -> frozenset[str]:
        """The parameters currently marked as changed."""
        return self._changed

    def set_disabled(self, disabled: bool) -> None:
        """Enable or disable every input."""
        for widget in self._widgets.values():
            widget.disabled = disabled

    def on_change(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(name)`` after the operator changed a value."""
        self._listeners.append(callback)

    def _on_value(self, event: Any) -> None:
        name = self._names[id(event.obj)]
        # A refusal is shown next to the field; the operator can read and fix it.
        with suppress(ParameterError):
            self._check(name)
        self._show("", None)  # a form-wide refusal is stale once anything changed
        for listener in self._listeners:
            listener(name)

    def _check(self, name: str) -> Any:
        """Validate one field, show or hide its message, return the coerced value.

        Raises
        ------
        ParameterError
            If the schema refuses the value (after showing the message).
        """
        try:
            value = self._specs[name].check(self._widgets[name].value)
        except ParameterError as error:
            self.show_error(error)
            raise
        self._show(name, None)
        return value
