"""What the Kafka sub-commands share: flags, settings, logging, exit statuses.

``jobdash simulate``, ``status``, ``start`` and ``stop`` take the same
connection and dashboard flags as ``jobdash serve``. A flag given overrides
the ``JOBDASH_*`` environment, which overrides the defaults; librdkafka
options (SASL, SSL) come from ``JOBDASH_KAFKA__<OPTION>`` only, so secrets
stay out of process listings. The transport is always Kafka.

Exit statuses, shared so that scripts can rely on them:

====  ==================================================================
0     done; every command acknowledged
1     a backend answered ``ERR`` to a command
2     no answer in time, a command not delivered, or Kafka not reachable
64    usage: bad flags or settings, unknown workflow, a value the
      catalogue refuses, commands refused by a read-only setting
====  ==================================================================

argparse itself exits 2 on a usage error; these sub-commands use 2 for "no
response", so their parsers exit 64 (``EX_USAGE``) instead.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from jobdash.catalogue_file import CatalogueError
from jobdash.domain.clock import Clock
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.settings import Settings, TransportKind

__all__ = [
    "EXIT_FAILED",
    "EXIT_NO_RESPONSE",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "add_kafka_options",
    "catalogue_for",
    "configure_logging",
    "fail",
    "new_parser",
    "settings_from_args",
    "signals_set",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NO_RESPONSE = 2
EXIT_USAGE = 64

#: Seconds a command waits for its Kafka consumer to be assigned by default.
DEFAULT_CONNECT_TIMEOUT = 15.0

#: ``Settings`` fields these flags may set (``kafka`` only via the environment).
_SETTINGS_FLAGS = (
    "bootstrap_servers",
    "instrument",
    "topic_prefix",
    "catalogue",
    "config_dir",
    "heartbeat_interval",
    "stale_after",
    "command_timeout",
    "read_only",
)


class UsageError(ValueError):
    """A request this command refuses before doing anything (exit 64)."""


class _UsageParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors exit 64, and which refuses
    arguments it does not know itself (a sub-command's leftovers would
    otherwise reach the main parser, which exits 2)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def new_parser(subparsers: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """Add sub-command ``name`` with a parser whose usage errors exit 64.

    ``add_parser`` offers no choice of parser class, so the parser it made
    becomes a :class:`_UsageParser` (same state, two methods changed).
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(name, **kwargs)
    parser.__class__ = _UsageParser
    return parser


def add_kafka_options(
    parser: argparse.ArgumentParser, *, commands: bool, models: bool = True
) -> None:
    """Connection and dashboard flags.

    ``commands`` adds the flags of commands that send (command timeout,
    read-only); ``models=False`` leaves out those of the dashboard's models
    (stale threshold, config directory), for the simulated backend.
    """
    fields = Settings.model_fields

    def help_of(name: str) -> str:
        return fields[name].description or ""

    kafka = parser.add_argument_group("Kafka")
    kafka.add_argument(
        "--bootstrap",
        "--bootstrap-servers",
        dest="bootstrap_servers",
        metavar="HOST:PORT,...",
        default=argparse.SUPPRESS,
        help=f"{help_of('bootstrap_servers')} (env JOBDASH_BOOTSTRAP_SERVERS)",
    )
    kafka.add_argument(
        "--instrument",
        default=argparse.SUPPRESS,
        help=f"{help_of('instrument')} (env JOBDASH_INSTRUMENT)",
    )
    kafka.add_argument(
        "--topic-prefix",
        default=argparse.SUPPRESS,
        help=f"{help_of('topic_prefix')} (env JOBDASH_TOPIC_PREFIX)",
    )
    kafka.add_argument(
        "--connect-timeout",
        type=float,
        metavar="S",
        default=DEFAULT_CONNECT_TIMEOUT,
        help="seconds to wait for Kafka to assign the topics before giving up "
        f"(exit 2; default {DEFAULT_CONNECT_TIMEOUT:g})",
    )
    dashboard = parser.add_argument_group("dashboard settings")
    dashboard.add_argument(
        "--catalogue",
        type=Path,
        metavar="FILE",
        default=argparse.SUPPRESS,
        help=help_of("catalogue"),
    )
    dashboard.add_argument(
        "--heartbeat-interval",
        type=float,
        metavar="S",
        default=argparse.SUPPRESS,
        help=help_of("heartbeat_interval"),
    )
    if models:
        dashboard.add_argument(
            "--stale-after",
            type=float,
            metavar="S",
            default=argparse.SUPPRESS,
            help=help_of("stale_after"),
        )
        dashboard.add_argument(
            "--config-dir",
            type=Path,
            metavar="DIR",
            default=argparse.SUPPRESS,
            help=f"{help_of('config_dir')} (shared with the dashboard)",
        )
    if commands:
        dashboard.add_argument(
            "--command-timeout",
            type=float,
            metavar="S",
            default=argparse.SUPPRESS,
            help=help_of("command_timeout"),
        )
        dashboard.add_argument(
            "--read-only",
            action=argparse.BooleanOptionalAction,
            default=argparse.SUPPRESS,
            help=f"{help_of('read_only')} (env JOBDASH_READ_ONLY)",
        )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log progress on stderr (-v: info, -vv: debug)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """``Settings`` from the environment and the flags given, on Kafka.

    Raises
    ------
    UsageError
        A value out of range, naming the setting.
    """
    overrides = {name: getattr(args, name) for name in _SETTINGS_FLAGS if name in args}
    try:
        return Settings(**{**overrides, "transport": TransportKind.kafka})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise UsageError(f"invalid setting: {problems}") from None


def catalogue_for(settings: Settings) -> WorkflowCatalogue:
    """The workflow catalogue the dashboard would load for ``settings``.

    Raises
    ------
    UsageError
        Unreadable or invalid catalogue, or one of another instrument.
    """
    # The composition root decides which catalogue a deployment uses; ask it.
    from jobdash.app import StartupError, load_catalogue

    try:
        return load_catalogue(settings)
    except (CatalogueError, StartupError) as exc:
        raise UsageError(str(exc)) from None


def configure_logging(verbosity: int, clock: Clock) -> None:
    """Log to stderr (stdout is for results): warnings, ``-v`` info, ``-vv`` debug.

    librdkafka repeats its connection errors on every retry; the repeated-line
    filter lets one of each through per minute.
    """
    from jobdash.transport.kafka_config import install_repeated_log_filter

    level = (
        (logging.WARNING, logging.INFO)[verbosity] if verbosity < 2 else logging.DEBUG
    )
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_repeated_log_filter(clock)


def fail(command: str, message: str, status: int) -> int:
    """Print ``jobdash <command>: error: <message>`` on stderr; return ``status``."""
    print(f"jobdash {command}: error: {message}", file=sys.stderr)
    return status


@contextlib.contextmanager
def signals_set(event: threading.Event) -> Iterator[threading.Event]:
    """Within the block, SIGINT and SIGTERM set ``event`` instead of killing.

    Long-running commands wait on ``event`` and then shut down cleanly (flush
    Kafka, exit 0). The previous handlers come back afterwards. Outside the
    main thread (where Python cannot install handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in signals}
    for signum in signals:
        signal.signal(signum, lambda *_: event.set())
    try:
        yield event
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
