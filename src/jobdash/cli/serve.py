# mypy: untyped-calls-exclude=panel
"""``jobdash serve``: run the dashboard web server.

Every :class:`~jobdash.settings.Settings` field has a flag; a flag given on the
command line overrides the ``JOBDASH_*`` environment, which overrides the
defaults. The services are built *before* the server starts, so a bad
catalogue or setting is reported on stderr with a non-zero exit status instead
of on every page load.

The server is Panel's (``pn.serve``) in this process, serving the same page
factory as ``panel serve app.py`` (``jobdash.ui.page.build_page``): one page
per browser session over the one set of services. This avoids a second
process and passing the settings through the environment; ``panel serve
app.py`` remains the way to use Panel's own server flags.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jobdash.services.workflow_catalogue import CatalogueError
from jobdash.settings import Settings, TransportKind
from jobdash.transport.simulated_scenarios import SCENARIOS

__all__ = ["register", "run", "settings_from_args"]

_logger = logging.getLogger(__name__)

#: Settings fields that have a flag; ``kafka`` (a mapping of librdkafka
#: options) is set through ``JOBDASH_KAFKA__<OPTION>`` only.
_SETTINGS_FLAGS = (
    "transport",
    "instrument",
    "catalogue",
    "heartbeat_interval",
    "stale_after",
    "refresh_interval",
    "command_timeout",
    "scenario",
    "seed",
    "clock_speed",
    "frozen_clock",
    "read_only",
    "config_dir",
    "bootstrap_servers",
    "topic_prefix",
)


def register(subparsers: Any) -> None:
    """Add the ``serve`` sub-command."""
    fields = Settings.model_fields

    def help_of(name: str) -> str:
        return fields[name].description or ""

    scenarios = ", ".join(f"{s.name} ({s.summary})" for s in SCENARIOS.values())
    parser = subparsers.add_parser(
        "serve",
        help="serve the dashboard",
        description="Serve the dashboard. Flags override JOBDASH_* environment "
        "variables (e.g. JOBDASH_TRANSPORT=kafka); librdkafka options are set "
        "with JOBDASH_KAFKA__<OPTION>, e.g. JOBDASH_KAFKA__SECURITY_PROTOCOL.",
        argument_default=argparse.SUPPRESS,
    )
    settings = parser.add_argument_group("dashboard settings")
    settings.add_argument(
        "--transport",
        choices=[kind.value for kind in TransportKind],
        help=help_of("transport"),
    )
    settings.add_argument("--instrument", help=help_of("instrument"))
    settings.add_argument(
        "--catalogue", type=Path, metavar="FILE", help=help_of("catalogue")
    )
    settings.add_argument(
        "--heartbeat-interval",
        type=float,
        metavar="S",
        help=help_of("heartbeat_interval"),
    )
    settings.add_argument(
        "--stale-after", type=float, metavar="S", help=help_of("stale_after")
    )
    settings.add_argument(
        "--refresh-interval",
        type=float,
        metavar="S",
        help=help_of("refresh_interval"),
    )
    settings.add_argument(
        "--command-timeout", type=float, metavar="S", help=help_of("command_timeout")
    )
    settings.add_argument(
        "--scenario",
        choices=list(SCENARIOS),
        help=f"simulated backend fault scenario: {scenarios}",
    )
    settings.add_argument("--seed", type=int, help=help_of("seed"))
    settings.add_argument(
        "--clock-speed", type=float, metavar="X", help=help_of("clock_speed")
    )
    settings.add_argument(
        "--frozen-clock",
        action=argparse.BooleanOptionalAction,
        help=help_of("frozen_clock"),
    )
    settings.add_argument(
        "--read-only",
        action=argparse.BooleanOptionalAction,
        help=help_of("read_only"),
    )
    settings.add_argument(
        "--config-dir", type=Path, metavar="DIR", help=help_of("config_dir")
    )
    settings.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT,...",
        help=help_of("bootstrap_servers"),
    )
    settings.add_argument("--topic-prefix", help=help_of("topic_prefix"))

    server = parser.add_argument_group("web server")
    server.add_argument(
        "--port", type=int, default=5006, help="port to listen on (default 5006)"
    )
    server.add_argument(
        "--address",
        default=None,
        help="address to listen on (default: all interfaces)",
    )
    server.add_argument(
        "--allow-websocket-origin",
        action="append",
        default=None,
        metavar="HOST[:PORT]",
        help="extra origin browsers may connect from (repeatable); needed when "
        "the page is opened under another host name than localhost",
    )
    server.add_argument(
        "--show",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="open a browser tab (default: no)",
    )
    parser.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """``Settings`` from the environment, overridden by the flags given.

    Raises
    ------
    pydantic.ValidationError
        A value out of range (e.g. a negative heartbeat interval).
    """
    overrides = {name: getattr(args, name) for name in _SETTINGS_FLAGS if name in args}
    return Settings(**overrides)


def run(args: argparse.Namespace) -> int:
    """Build the services, then serve until interrupted; the exit status."""
    # Imported here: building the parser (``jobdash --help``) needs no Panel.
    from jobdash.app import StartupError, get_services

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = settings_from_args(args)
        services = get_services(settings)
    except ValidationError as exc:
        return _fail(_describe_validation(exc))
    except (CatalogueError, StartupError, ValueError) as exc:
        return _fail(str(exc))

    import panel as pn

    from jobdash.ui.page import build_page

    title = f"jobdash · {settings.instrument.upper()}"
    pn.serve(
        {"/": lambda: build_page(services)},
        port=args.port,
        address=args.address,
        websocket_origin=args.allow_websocket_origin,
        show=args.show,
        title=title,
        # GET /liveness?endpoint=/ answers 200 once the page builds (probes).
        liveness=True,
    )
    return 0


def _describe_validation(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
        for error in exc.errors()
    ]
    return "invalid setting: " + "; ".join(problems)


def _fail(message: str) -> int:
    print(f"jobdash serve: error: {message}", file=sys.stderr)
    return 2
