"""``jobdash status``: what runs now, per workflow and job, from the live heartbeats.

It listens to the heartbeat topic for one stale threshold (``--collect``),
feeding the dashboard's own models, then prints a table, or with ``--json``
the structure documented in :mod:`jobdash.cli.status_report`. ``--watch``
keeps listening and prints again every ``--interval`` seconds until
interrupted. Read-only: it never sends anything, whatever the settings say.

Exit status: 0; 2 if Kafka does not assign the heartbeat topic within
``--connect-timeout``; 64 for bad flags or settings.
"""

from __future__ import annotations

import argparse
import json
import threading
from typing import Any

from jobdash.cli.kafka_options import (
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
from jobdash.cli.status_report import build_report, render_table
from jobdash.domain.clock import SystemClock

__all__ = ["register", "run"]

#: Seconds between reports with ``--watch`` by default.
DEFAULT_INTERVAL = 5.0


def register(subparsers: Any) -> None:
    """Add the ``status`` sub-command."""
    parser = new_parser(
        subparsers,
        "status",
        help="print what runs now, per workflow and job",
        description="Listen to the heartbeats for one stale threshold and print "
        "what runs, per workflow and job. Exit 0; 2 if Kafka is not reachable.",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the documented JSON structure"
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="keep listening and print again every --interval seconds until "
        "interrupted (Ctrl-C)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        metavar="S",
        default=DEFAULT_INTERVAL,
        help=f"seconds between reports with --watch (default {DEFAULT_INTERVAL:g})",
    )
    parser.add_argument(
        "--collect",
        type=float,
        metavar="S",
        default=None,
        help="seconds of heartbeats to collect before the first report "
        "(default: the stale threshold)",
    )
    add_kafka_options(parser, commands=False)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """List what runs; the exit status."""
    clock = SystemClock()
    configure_logging(args.verbose, clock)
    if args.interval <= 0 or (args.collect is not None and args.collect < 0):
        return fail(
            "status", "--interval must be positive, --collect not negative", EXIT_USAGE
        )
    try:
        settings = settings_from_args(args)
        catalogue = catalogue_for(settings)
    except UsageError as exc:
        return fail("status", str(exc), EXIT_USAGE)
    collect = settings.effective_stale_after if args.collect is None else args.collect

    interrupted = threading.Event()
    with (
        signals_set(interrupted),
        KafkaSession(settings, catalogue, clock, commands=False) as session,
    ):
        try:
            session.start(args.connect_timeout)
        except KafkaUnavailableError as exc:
            return fail("status", str(exc), EXIT_NO_RESPONSE)
        if not session.listen(collect, interrupted):
            return EXIT_OK
        listened = collect
        while True:
            _print(_report(session, listened), as_json=args.json)
            if not args.watch or not session.listen(args.interval, interrupted):
                return EXIT_OK
            listened += args.interval


def _report(session: KafkaSession, listened: float) -> dict[str, Any]:
    settings = session.settings
    return build_report(
        instrument=settings.instrument,
        bootstrap_servers=settings.bootstrap_servers,
        now=session.clock.now_ns(),
        listened_s=listened,
        health=session.health.snapshot(),
        workflows=session.job_orchestrator.snapshots(),
        jobs=session.job_service.snapshot(),
        workers=session.worker_registry.workers(),
    )


def _print(report: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        # One document per line, so that --watch --json is JSON Lines.
        print(json.dumps(report, ensure_ascii=False), flush=True)
    else:
        print(render_table(report) + "\n", flush=True)
