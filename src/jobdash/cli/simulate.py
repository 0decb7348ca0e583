"""``jobdash simulate``: the simulated backend as a service on Kafka.

Runs the seeded :class:`~jobdash.transport.simulated.SimulatedBackend` of the
in-process dashboard behind a
:class:`~jobdash.transport.kafka_backend_bridge.KafkaBackendBridge`: it obeys
the commands topic and publishes heartbeats, acknowledgements and results,
so a dashboard (``jobdash serve --transport kafka``) and ``jobdash status``,
``start`` and ``stop`` can be tried against any Kafka broker before real
backends exist.

Prints ``jobdash simulate: ready ...`` on stdout once commands are read, and
runs until SIGINT or SIGTERM, then stops cleanly (flushing what is queued)
and exits 0. Exit 2 if Kafka does not assign the commands topic within
``--connect-timeout``; 64 for bad flags, settings or scenario.
"""

from __future__ import annotations

import argparse
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
from jobdash.domain.clock import SystemClock
from jobdash.transport.kafka_backend_bridge import KafkaBackendBridge
from jobdash.transport.simulated import SimulatedBackend
from jobdash.transport.simulated_scenarios import SCENARIOS

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``simulate`` sub-command."""
    # argparse %-formats help texts: "20 % of heartbeats" needs its % doubled.
    scenarios = ", ".join(
        f"{s.name} ({s.summary})" for s in SCENARIOS.values()
    ).replace("%", "%%")
    parser = new_parser(
        subparsers,
        "simulate",
        help="run the simulated backend on Kafka",
        description="Run the simulated backend as its own process on Kafka: it "
        "obeys the commands topic and publishes heartbeats, acknowledgements and "
        "results, until interrupted.",
    )
    simulation = parser.add_argument_group("simulation")
    simulation.add_argument(
        "--scenario",
        choices=list(SCENARIOS),
        default=argparse.SUPPRESS,
        help=f"fault scenario: {scenarios}",
    )
    simulation.add_argument(
        "--seed",
        type=int,
        default=argparse.SUPPRESS,
        help="random seed (env JOBDASH_SEED)",
    )
    simulation.add_argument(
        "--ack-latency",
        type=float,
        metavar="S",
        default=0.3,
        help="seconds before a command takes effect and is answered (default 0.3)",
    )
    add_kafka_options(parser, commands=False, models=False)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve the simulated backend until interrupted; the exit status."""
    clock = SystemClock()
    configure_logging(args.verbose, clock)
    try:
        settings = settings_from_args(args)
        scenario = getattr(args, "scenario", None)
        seed = getattr(args, "seed", None)
        settings = settings.model_copy(
            update={
                **({} if scenario is None else {"scenario": scenario}),
                **({} if seed is None else {"seed": seed}),
            }
        )
        catalogue = catalogue_for(settings)
        backend = SimulatedBackend(
            catalogue,
            clock,
            seed=settings.seed,
            heartbeat_interval=settings.heartbeat_interval,
            ack_latency=args.ack_latency,
            scenario=settings.scenario,
        )
    except (UsageError, ValueError) as exc:
        return fail("simulate", str(exc), EXIT_USAGE)

    bridge = KafkaBackendBridge(backend, settings, clock)
    interrupted = threading.Event()
    with signals_set(interrupted):
        bridge.start()
        try:
            if not bridge.wait_ready(args.connect_timeout):
                return fail(
                    "simulate",
                    f"Kafka at {settings.bootstrap_servers} did not assign "
                    f"{bridge.commands_topic} within {args.connect_timeout:g} s",
                    EXIT_NO_RESPONSE,
                )
            print(
                f"jobdash simulate: ready: {catalogue.instrument} backend "
                f"({settings.scenario}, seed {settings.seed}) on Kafka "
                f"{settings.bootstrap_servers}, commands from {bridge.commands_topic}",
                flush=True,
            )
            while not interrupted.wait(1.0):
                pass
        finally:
            bridge.stop()
    return EXIT_OK
