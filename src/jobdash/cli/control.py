"""``jobdash start``, ``stop``, ``pause`` and ``resume``: control workflows from a terminal or script.

They act through the dashboard's own ``JobOrchestrator`` (see
:mod:`jobdash.cli.kafka_session`), so a command from a script is validated,
persisted and tracked exactly like a click on a workflow card:

``jobdash start WORKFLOW [--source S ...] [--param k=v ...] [--aux role=name ...]``
    Stages a config per source and commits it: one ``workflow_config`` per
    source under a fresh job number, after a stop for every job of the
    running JobSet (learnt from the heartbeats first, as after a dashboard
    restart). Sources: those given; else those staged in the config file;
    else every source of the workflow. Each source starts from its staged
    values (else the defaults), overridden by ``--param``/``--aux``; values
    are JSON where they parse (``resolution=256``, ``cumulative=true``),
    text otherwise (``projection=xy_plane``). The staged configs and the job
    number are saved to the dashboard's config file.
``jobdash stop WORKFLOW``
    Listens to the heartbeats for one stale threshold, adopting running jobs
    it does not know (its config file's job number is recognised as its own),
    then stops every job of the workflow it heard from, current and orphans,
    each by its full job id. See ``docs/decisions/0007-terminal-commands-over-kafka.md``
    for why not one workflow-wide ``job_command``.
``jobdash pause WORKFLOW`` / ``jobdash resume WORKFLOW``
    Listen likewise, then send a ``pause`` (``resume``) per job of the
    current JobSet not yet stopped, for the jobs whose source a backend
    worker heard from accepts the action (its service heartbeat says so;
    ``docs/decisions/0011-paused-aggregate-and-action-support.md``). When no
    job's worker does, nothing is sent: the refusal is audited and the
    command exits 64 with a message naming the sources.

All then wait for the acknowledgements, up to the command timeout (or a
shorter ``--timeout``), printing the dashboard's feedback lines as they come
(``success: Started 4/4 jobs for Detector view``). Exit status: 0 when every
command was acknowledged (or ``stop``/``pause``/``resume`` found nothing
running), 1 when a backend
answered ``ERR``, 2 when one did not answer in time, a command was not
delivered, or Kafka was unreachable; 64 for usage and validation errors (the
message names the bad parameter), when read-only, and for an action refused
(no backend worker accepts it; the user is not an operator); 130 when interrupted
before anything was sent.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jobdash.cli.command_outcomes import CommandOutcome
from jobdash.cli.kafka_options import (
    EXIT_FAILED,
    EXIT_NO_RESPONSE,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    add_kafka_options,
    catalogue_for,
    configure_logging,
    fail,
    new_parser,
    settings_from_args,
    signals_set,
)
from jobdash.cli.kafka_session import KafkaSession, KafkaUnavailableError
from jobdash.domain.access import PermissionDeniedError
from jobdash.domain.clock import SystemClock
from jobdash.domain.ids import WorkflowId
from jobdash.domain.workflow_catalogue import (
    ParameterError,
    WorkflowCatalogue,
    WorkflowSpec,
)
from jobdash.domain.workflow_status import WorkflowAggregate
from jobdash.services.action_guard import ActionRefusedError
from jobdash.services.workflow_state import SourceConfig
from jobdash.settings import Settings

__all__ = [
    "exit_status",
    "parse_assignments",
    "parse_value",
    "register",
    "resolve_workflow",
]

#: Exit status when interrupted before anything was sent (128 + SIGINT).
EXIT_INTERRUPTED = 130

#: Seconds beyond the command timeout to let the tracker report the silence.
_TRACKER_GRACE_S = 1.0

_Action = Callable[[KafkaSession], int | None]
"""What a command does once it knows what runs: an exit status to stop
there, or ``None`` to wait for the answers to what it sent."""


def register(subparsers: Any) -> None:
    """Add the ``start``, ``stop``, ``pause`` and ``resume`` sub-commands."""
    start = new_parser(
        subparsers,
        "start",
        help="start (or restart) a workflow",
        description="Stage a config per source and commit it, as the dashboard's "
        "Start does; wait for the acknowledgements. Exit 0 all acknowledged, "
        "1 a backend refused, 2 no response or not delivered, 64 usage.",
    )
    _add_workflow(start)
    start.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="S",
        help="a source to start (repeatable); default: the staged sources, "
        "else all sources of the workflow",
    )
    start.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter for every source started (repeatable); VALUE is JSON "
        "where it parses (256, true, 0.5), text otherwise",
    )
    start.add_argument(
        "--aux",
        action="append",
        default=[],
        metavar="ROLE=SOURCE",
        help="an auxiliary source by role (repeatable), e.g. monitor=monitor_cave",
    )
    _add_common(start)
    start.set_defaults(func=run_start)

    stop = new_parser(
        subparsers,
        "stop",
        help="stop a workflow",
        description="Stop every job of a workflow heard from within the stale "
        "threshold; wait for the acknowledgements. Exit 0 all acknowledged or "
        "nothing running, 1 a backend refused, 2 no response, 64 usage.",
    )
    _add_workflow(stop)
    _add_common(stop)
    stop.set_defaults(func=run_stop)

    for name, run, what in (
        ("pause", run_pause, "Pause every running job of a workflow"),
        ("resume", run_resume, "Resume every paused job of a workflow"),
    ):
        parser = new_parser(
            subparsers,
            name,
            help=f"{name} a workflow",
            description=f"{what} (its current jobs, where a backend worker "
            f"accepts {name}); wait for the acknowledgements. Exit 0 all "
            "acknowledged or nothing running, 1 a backend refused, 2 no "
            f"response, 64 usage or no worker accepts {name}.",
        )
        _add_workflow(parser)
        _add_common(parser)
        parser.set_defaults(func=run)


def _add_workflow(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "workflow",
        metavar="WORKFLOW",
        help="workflow id (dream/detector_view/1) or its name (detector_view) "
        "when only one version has it",
    )


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        default=None,
        help="seconds to wait for acknowledgements, at most the command timeout "
        "(default: the command timeout)",
    )
    parser.add_argument(
        "--collect",
        type=float,
        metavar="S",
        default=None,
        help="seconds to listen to heartbeats to learn what runs "
        "(default: the stale threshold)",
    )
    add_kafka_options(parser, commands=True)


# --- start ---------------------------------------------------------------------------


def run_start(args: argparse.Namespace) -> int:
    """Stage and commit a workflow; the exit status."""
    prepared = _prepare(args, "start")
    if isinstance(prepared, int):
        return prepared
    settings, catalogue, spec = prepared
    try:
        params = parse_assignments(args.param, "--param")
        aux = parse_assignments(args.aux, "--aux")
        typed = {name: parse_value(spec, name, text) for name, text in params.items()}
        # Validated before connecting: a typo costs no round trip.
        spec.validate_params(typed)
        spec.validate_aux_sources(aux)
        for source in args.source:
            if source not in spec.source_names:
                raise UsageError(
                    f"--source {source}: not a source of {spec.title!r} "
                    f"(sources: {', '.join(spec.source_names)})"
                )
    except (UsageError, ParameterError) as exc:
        return fail("start", str(exc), EXIT_USAGE)

    def act(session: KafkaSession) -> int | None:
        orchestrator = session.job_orchestrator
        wid = spec.workflow_id
        staged = orchestrator.snapshot(wid).staged
        sources = list(args.source) or list(staged) or list(spec.source_names)
        # Staged and committed in one step: what starts is exactly this draft.
        draft = {
            source: SourceConfig(
                {**(base.params if base else {}), **typed},
                {**(base.aux_source_names if base else {}), **aux},
            )
            for source in sources
            for base in (staged.get(source),)
        }
        running = orchestrator.snapshot(wid).current
        job_number = orchestrator.commit_workflow(wid, actor=session.actor, draft=draft)
        replaced = (
            f"; stopping job number {running.job_number}"
            if running is not None
            and running.aggregate.aggregate is not WorkflowAggregate.STOPPED
            else ""
        )
        print(
            f"Starting {spec.title} ({wid}): {len(sources)} job(s) "
            f"({', '.join(sources)}) under job number {job_number}{replaced}",
            flush=True,
        )
        return None

    return _run(args, "start", settings, catalogue, act)


# --- stop ----------------------------------------------------------------------------


def run_stop(args: argparse.Namespace) -> int:
    """Stop what runs of a workflow; the exit status."""
    prepared = _prepare(args, "stop")
    if isinstance(prepared, int):
        return prepared
    settings, catalogue, spec = prepared

    def act(session: KafkaSession) -> int | None:
        wid = spec.workflow_id
        sent = session.job_orchestrator.stop_workflow(wid, actor=session.actor)
        if sent == 0:
            print(
                f"Nothing to stop: no job of {spec.title} ({wid}) was heard from "
                "running.",
                flush=True,
            )
            return EXIT_OK
        print(f"Stopping {spec.title} ({wid}): {sent} job(s)", flush=True)
        return None

    return _run(args, "stop", settings, catalogue, act)


# --- pause, resume ----------------------------------------------------------------------


def run_pause(args: argparse.Namespace) -> int:
    """Pause the current jobs of a workflow; the exit status."""
    return _pause_or_resume(args, "pause")


def run_resume(args: argparse.Namespace) -> int:
    """Resume the current jobs of a workflow; the exit status."""
    return _pause_or_resume(args, "resume")


def _pause_or_resume(args: argparse.Namespace, command: str) -> int:
    prepared = _prepare(args, command)
    if isinstance(prepared, int):
        return prepared
    settings, catalogue, spec = prepared

    def act(session: KafkaSession) -> int | None:
        wid = spec.workflow_id
        orchestrator = session.job_orchestrator
        send = (
            orchestrator.pause_workflow
            if command == "pause"
            else orchestrator.resume_workflow
        )
        sent = send(wid, actor=session.actor)
        if sent == 0:
            print(
                f"Nothing to {command}: no job of {spec.title} ({wid}) was heard "
                "from running.",
                flush=True,
            )
            return EXIT_OK
        verb = "Pausing" if command == "pause" else "Resuming"
        print(f"{verb} {spec.title} ({wid}): {sent} job(s)", flush=True)
        return None

    return _run(args, command, settings, catalogue, act)


# --- shared ---------------------------------------------------------------------------


def _prepare(
    args: argparse.Namespace, command: str
) -> tuple[Settings, WorkflowCatalogue, WorkflowSpec] | int:
    """Settings, catalogue and workflow, or the exit status of a usage error."""
    clock = SystemClock()
    configure_logging(args.verbose, clock)
    try:
        settings = settings_from_args(args)
        if settings.read_only:
            raise UsageError(
                f"read-only (--read-only or JOBDASH_READ_ONLY): refusing to {command} "
                "workflows; viewers cannot send commands"
            )
        for flag in ("timeout", "collect"):
            value = getattr(args, flag)
            if value is not None and value < 0:
                raise UsageError(f"--{flag} must not be negative, got {value:g}")
        catalogue = catalogue_for(settings)
        spec = resolve_workflow(catalogue, args.workflow)
    except UsageError as exc:
        return fail(command, str(exc), EXIT_USAGE)
    return settings, catalogue, spec


def _run(
    args: argparse.Namespace,
    command: str,
    settings: Settings,
    catalogue: WorkflowCatalogue,
    act: _Action,
) -> int:
    """Connect, learn what runs, ``act``, then wait for the outcomes."""
    clock = SystemClock()
    collect = settings.effective_stale_after if args.collect is None else args.collect
    timeout = settings.command_timeout
    if args.timeout is not None and args.timeout < timeout:
        timeout, wait = args.timeout, args.timeout
    else:
        # The tracker reports silence itself at the command timeout, on the
        # ingestion thread's next tick: give it that long to do so.
        wait = timeout + _TRACKER_GRACE_S
    interrupted = threading.Event()
    printed = 0
    with signals_set(interrupted):
        session = KafkaSession(settings, catalogue, clock, commands=True)
        try:
            session.start(args.connect_timeout)
            if not session.listen(collect, interrupted):
                return fail(command, "interrupted; nothing was sent", EXIT_INTERRUPTED)
            early = act(session)
            if early is not None:
                return early
            tracker = session.tracker
            deadline = clock.now_ns() + round(wait * 1e9)
            while not tracker.wait_settled(0.1):
                printed = _print_feedback(session, printed)
                if interrupted.is_set() or clock.now_ns() >= deadline:
                    break
        except KafkaUnavailableError as exc:
            return fail(command, str(exc), EXIT_NO_RESPONSE)
        except (ParameterError, ActionRefusedError) as exc:
            # A value the schema refuses, or an action no worker accepts:
            # refused (and audited) before anything was sent.
            return fail(command, str(exc), EXIT_USAGE)
        except PermissionDeniedError as exc:
            # The deployment's operators list does not name this user:
            # refused before anything was sent, like a read-only setting.
            return fail(command, str(exc), EXIT_USAGE)
        finally:
            session.stop()  # flushes; an undelivered command is a send failure
        _print_feedback(session, printed)
        outcomes = session.tracker.outcomes()
        waiting = sum(1 for o in outcomes.values() if o is CommandOutcome.pending)
        if waiting:
            # Only when --timeout ended the wait before the tracker's own
            # timeout, which prints its "No response" line itself.
            print(
                f"warning: {waiting} command(s) without an answer after {timeout:g} s"
            )
        return exit_status(outcomes)


def _print_feedback(session: KafkaSession, printed: int) -> int:
    """Print the dashboard's new feedback lines; return the last seq printed."""
    for note in session.notifications.since(printed):
        print(f"{note.level.value}: {note.text}", flush=True)
        printed = note.seq
    return printed


def exit_status(outcomes: Mapping[Any, CommandOutcome]) -> int:
    """1 if any command was refused (``ERR``), else 2 if any went unanswered or
    undelivered, else 0 (also when nothing was sent)."""
    values = set(outcomes.values())
    if CommandOutcome.failed in values:
        return EXIT_FAILED
    if values - {CommandOutcome.acknowledged}:
        return EXIT_NO_RESPONSE
    return EXIT_OK


# --- parsing -------------------------------------------------------------------------


def resolve_workflow(catalogue: WorkflowCatalogue, text: str) -> WorkflowSpec:
    """The workflow named by its id text, or by its bare name if unambiguous.

    Raises
    ------
    UsageError
        Naming the workflows that exist (or the ids sharing the name).
    """
    try:
        spec = catalogue.get(WorkflowId.parse(text))
    except ValueError:
        spec = None
    if spec is not None:
        return spec
    named = [s for s in catalogue.workflows if s.workflow_id.name == text]
    if len(named) == 1:
        return named[0]
    if named:
        ids = ", ".join(s.id for s in named)
        raise UsageError(f"workflow {text!r} is ambiguous: use one of {ids}")
    known = ", ".join(s.workflow_id.name for s in catalogue.workflows)
    raise UsageError(
        f"no workflow {text!r} in the {catalogue.instrument} catalogue (workflows: {known})"
    )


def parse_assignments(items: Sequence[str], flag: str) -> dict[str, str]:
    """``["k=v", ...]`` → ``{k: v}`` (text values); ``UsageError`` if malformed."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"{flag} {item!r}: expected NAME=VALUE")
        if name in result:
            raise UsageError(f"{flag} {name} given twice")
        result[name] = value
    return result


def parse_value(spec: WorkflowSpec, name: str, text: str) -> Any:
    """A ``--param`` value: JSON where it parses and the schema accepts it,
    else the text itself (so ``vanadium_run=123`` stays text for a text
    parameter, and ``projection=xy_plane`` needs no quotes)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    parameter = next((p for p in spec.parameters if p.name == name), None)
    if parameter is None or isinstance(value, str):
        return value
    try:
        parameter.check(value)
    except ParameterError:
        try:
            parameter.check(text)
        except ParameterError:
            return value  # refused either way: report the JSON value
        return text
    return value
