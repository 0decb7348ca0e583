"""The workflow catalogue: which workflows an instrument offers, and their inputs.

Plain validated data (pydantic models), shared by the services, the
transport (the simulated backend runs the catalogue's workflows) and the UI
(the parameter schema drives the staging form; the server validates staged
configs with it). Reading a catalogue *file* is the composition root's job:
:mod:`jobdash.catalogue_file`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from jobdash.domain.ids import WorkflowId

__all__ = [
    "DEFAULT_RESET_NOTE",
    "OutputSpec",
    "ParameterError",
    "ParameterSpec",
    "WorkflowCatalogue",
    "WorkflowSpec",
]

_T = TypeVar("_T")

DEFAULT_RESET_NOTE = "This workflow does not support a reset."
"""Why Reset is unavailable, when the catalogue gives no ``reset_note``."""


class ParameterError(ValueError):
    """A staged parameter value the workflow's schema refuses.

    ``parameter`` names it (``None`` for a problem with the set as a whole).
    """

    def __init__(self, parameter: str | None, message: str) -> None:
        super().__init__(f"{parameter}: {message}" if parameter else message)
        self.parameter = parameter


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ParameterSpec(_Strict):
    """One input of a workflow.

    ``type`` decides the form widget and the validation: ``int``/``float``
    (with optional ``min``/``max``), ``bool``, ``str``, or ``choice`` (one of
    ``choices``).
    """

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    title: str | None = None
    type: Literal["int", "float", "bool", "str", "choice"]
    default: int | float | bool | str
    min: float | None = None
    max: float | None = None
    choices: list[str | int | float] | None = None
    unit: str | None = None
    help: str = ""

    @property
    def label(self) -> str:
        """Human title, with the unit if any: ``Time bins [µs]``."""
        title = self.title or self.name.replace("_", " ").capitalize()
        return f"{title} [{self.unit}]" if self.unit else title

    @model_validator(mode="after")
    def _consistent(self) -> ParameterSpec:
        if self.type == "choice" and not self.choices:
            raise ValueError("a 'choice' parameter needs a non-empty 'choices' list")
        if self.type != "choice" and self.choices is not None:
            raise ValueError("'choices' is only allowed for type 'choice'")
        if (self.min is not None or self.max is not None) and self.type not in (
            "int",
            "float",
        ):
            raise ValueError("'min'/'max' are only allowed for int and float")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is greater than 'max' ({self.max})")
        self.check(self.default)  # a default must satisfy its own schema
        return self

    def check(self, value: Any) -> int | float | bool | str:
        """Return ``value`` coerced to this parameter's type, or raise.

        Raises
        ------
        ParameterError
            With a message an operator can act on.
        """
        kind = self.type
        if kind == "bool":
            if isinstance(value, bool):
                return value
            raise ParameterError(self.name, f"must be true or false, got {value!r}")
        if kind == "str":
            if isinstance(value, str):
                return value
            raise ParameterError(self.name, f"must be text, got {value!r}")
        if kind == "choice":
            assert self.choices is not None
            if value in self.choices and not isinstance(value, bool):
                return cast(int | float | str, value)
            options = ", ".join(map(str, self.choices))
            raise ParameterError(self.name, f"must be one of {options}; got {value!r}")
        number = self._number(value)
        if self.min is not None and number < self.min:
            raise ParameterError(self.name, f"must be ≥ {self.min:g}, got {number:g}")
        if self.max is not None and number > self.max:
            raise ParameterError(self.name, f"must be ≤ {self.max:g}, got {number:g}")
        return number

    def _number(self, value: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParameterError(self.name, f"must be a number, got {value!r}")
        if self.type == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ParameterError(
                    self.name, f"must be a whole number, got {value!r}"
                )
            return int(value)
        if not math.isfinite(value):
            raise ParameterError(self.name, f"must be a finite number, got {value!r}")
        return float(value)


class OutputSpec(_Strict):
    """One result a workflow publishes (its ``output_name`` on the wire).

    Shown on the workflow's card, so an operator knows what a workflow
    produces before starting it.
    """

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")
    title: str | None = None
    description: str = ""

    @property
    def label(self) -> str:
        """Human title: ``title``, else the name with spaces (``I of d``)."""
        return self.title or self.name.replace("_", " ")


class WorkflowSpec(_Strict):
    """One workflow an operator can start.

    Attributes
    ----------
    id
        Text form of the :class:`WorkflowId` (``dream/detector_view/1``).
    source_names
        The sources it can run on: one job per chosen source.
    aux_sources
        Auxiliary inputs by role, each with the source names allowed for it;
        the first is the default.
    parameters
        The parameter schema shared by every job of the workflow.
    outputs
        The results it publishes, with what each one is.
    supports_reset
        ``False`` for a workflow a reset would harm (a time series whose
        points a reset duplicates): the card disables Reset and says why
        (:attr:`reset_refusal`), and the orchestrator refuses one.
    reset_note
        Why it has no reset; only with ``supports_reset: false``.
    confirm_actions
        ``True`` for a workflow that feeds the instrument control system:
        Stop, Reset and Restart ask for confirmation first, whatever runs.
    """

    id: str
    title: str = Field(min_length=1)
    description: str = ""
    source_names: list[str] = Field(min_length=1)
    aux_sources: dict[str, list[str]] = Field(default_factory=dict)
    parameters: list[ParameterSpec] = Field(default_factory=list)
    outputs: list[OutputSpec] = Field(default_factory=list)
    supports_reset: StrictBool = True
    reset_note: str = ""
    confirm_actions: StrictBool = False

    @model_validator(mode="after")
    def _consistent(self) -> WorkflowSpec:
        WorkflowId.parse(self.id)  # ValueError → a validation error naming 'id'
        if len(set(self.source_names)) != len(self.source_names):
            raise ValueError("'source_names' contains duplicates")
        names = [parameter.name for parameter in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError("'parameters' contains duplicate names")
        for role, choices in self.aux_sources.items():
            if not choices:
                raise ValueError(f"aux source {role!r} needs at least one choice")
        outputs = [output.name for output in self.outputs]
        if len(set(outputs)) != len(outputs):
            raise ValueError("'outputs' contains duplicate names")
        if self.reset_note and self.supports_reset:
            raise ValueError(
                "'reset_note' is only allowed with 'supports_reset: false'"
            )
        return self

    @property
    def reset_refusal(self) -> str | None:
        """Why this workflow cannot be reset, or ``None`` if it can."""
        if self.supports_reset:
            return None
        return self.reset_note or DEFAULT_RESET_NOTE

    @cached_property
    def workflow_id(self) -> WorkflowId:
        return WorkflowId.parse(self.id)

    @cached_property
    def _source_rank(self) -> dict[str, int]:
        return {source: rank for rank, source in enumerate(self.source_names)}

    def has_source(self, source_name: str) -> bool:
        """Whether ``source_name`` is one of :attr:`source_names` (O(1))."""
        return source_name in self._source_rank

    def in_source_order(self, by_source: Mapping[str, _T]) -> dict[str, _T]:
        """``by_source`` in catalogue source order; unknown sources last, by name."""
        rank = self._source_rank
        last = len(rank)
        return dict(
            sorted(
                by_source.items(), key=lambda item: (rank.get(item[0], last), item[0])
            )
        )

    def default_params(self) -> dict[str, Any]:
        """Every parameter at its default."""
        return {parameter.name: parameter.default for parameter in self.parameters}

    def default_aux_sources(self) -> dict[str, str]:
        """Every auxiliary role at its first choice."""
        return {role: choices[0] for role, choices in self.aux_sources.items()}

    def validate_config(
        self, source_name: str, params: Mapping[str, Any], aux: Mapping[str, str]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The parameters and auxiliary sources one source's job would start
        with: validated, completed with defaults.

        Raises
        ------
        ParameterError
            ``source_name`` is not a source of the workflow (named in the
            message), or a value or auxiliary source the schema refuses.
        """
        if not self.has_source(source_name):
            raise ParameterError(
                None,
                f"{source_name!r} is not a source of {self.title!r} "
                f"(sources: {', '.join(self.source_names)})",
            )
        return self.validate_params(params), self.validate_aux_sources(aux)

    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a full or partial set of values; fill the rest with defaults.

        Raises
        ------
        ParameterError
            For an unknown name or a value its schema refuses.
        """
        by_name = {parameter.name: parameter for parameter in self.parameters}
        unknown = sorted(set(params) - set(by_name))
        if unknown:
            raise ParameterError(unknown[0], f"not a parameter of {self.title!r}")
        return {
            name: spec.check(params[name]) if name in params else spec.default
            for name, spec in by_name.items()
        }

    def validate_aux_sources(self, aux: Mapping[str, str]) -> dict[str, str]:
        """Validate auxiliary source choices; fill missing roles with defaults."""
        unknown = sorted(set(aux) - set(self.aux_sources))
        if unknown:
            raise ParameterError(unknown[0], "not an auxiliary input of this workflow")
        result = self.default_aux_sources()
        for role, name in aux.items():
            if name not in self.aux_sources[role]:
                choices = ", ".join(self.aux_sources[role])
                raise ParameterError(role, f"must be one of {choices}; got {name!r}")
            result[role] = name
        return result


class WorkflowCatalogue(_Strict):
    """All workflows of one instrument, in display order."""

    instrument: str = Field(min_length=1)
    workflows: list[WorkflowSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> WorkflowCatalogue:
        seen: set[WorkflowId] = set()
        for spec in self.workflows:
            workflow_id = spec.workflow_id
            if workflow_id.instrument != self.instrument:
                raise ValueError(
                    f"workflow {spec.id!r} belongs to instrument "
                    f"{workflow_id.instrument!r}, not {self.instrument!r}"
                )
            if workflow_id in seen:
                raise ValueError(f"workflow {spec.id!r} is listed twice")
            seen.add(workflow_id)
        return self

    @cached_property
    def _by_id(self) -> dict[WorkflowId, WorkflowSpec]:
        return {spec.workflow_id: spec for spec in self.workflows}

    @property
    def workflow_ids(self) -> list[WorkflowId]:
        return [spec.workflow_id for spec in self.workflows]

    def get(self, workflow_id: WorkflowId) -> WorkflowSpec | None:
        """The spec of a workflow, or ``None`` if the catalogue lacks it."""
        return self._by_id.get(workflow_id)

    def __getitem__(self, workflow_id: WorkflowId) -> WorkflowSpec:
        spec = self._by_id.get(workflow_id)
        if spec is None:
            raise KeyError(
                f"no workflow {workflow_id} in the {self.instrument} catalogue"
            )
        return spec

    def __contains__(self, workflow_id: object) -> bool:
        return workflow_id in self._by_id
