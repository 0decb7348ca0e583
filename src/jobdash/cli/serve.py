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

Authentication is Panel's: ``--basic-auth FILE`` (a JSON object of user name
to password) or an OAuth provider (``--oauth-provider`` and its key, secret,
extra parameters and redirect URI), with ``--cookie-secret`` signing the
session cookies. Who may act is ``Settings.operators`` (``--operator NAME``,
``JOBDASH_OPERATORS``); see ``docs/security.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jobdash.catalogue_file import CatalogueError
from jobdash.domain.access import Role
from jobdash.settings import Settings, TransportKind
from jobdash.transport.simulated_scenarios import SCENARIOS

__all__ = ["AuthError", "auth_options", "register", "run", "settings_from_args"]

#: Where the cookie secret comes from when ``--cookie-secret`` is not given.
COOKIE_SECRET_ENV = "JOBDASH_COOKIE_SECRET"

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
    "operators",
    "default_role",
    "audit_file",
    "audit_max_bytes",
    "audit_fsync",
    "bootstrap_servers",
    "topic_prefix",
)


def register(subparsers: Any) -> None:
    """Add the ``serve`` sub-command."""
    fields = Settings.model_fields

    def help_of(name: str) -> str:
        return fields[name].description or ""

    # argparse %-formats help texts: a literal % must be doubled.
    scenarios = ", ".join(
        f"{s.name} ({s.summary})" for s in SCENARIOS.values()
    ).replace("%", "%%")
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
        "--operator",
        dest="operators",
        action="append",
        metavar="NAME",
        help="user who may send commands (repeatable; '*' = every signed-in "
        "user); replaces JOBDASH_OPERATORS",
    )
    settings.add_argument(
        "--default-role",
        choices=[role.value for role in Role],
        help=help_of("default_role"),
    )
    settings.add_argument(
        "--audit-file", metavar="FILE|none", help=help_of("audit_file")
    )
    settings.add_argument(
        "--audit-max-bytes", type=int, metavar="N", help=help_of("audit_max_bytes")
    )
    settings.add_argument(
        "--audit-fsync",
        action=argparse.BooleanOptionalAction,
        help=help_of("audit_fsync"),
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

    auth = parser.add_argument_group(
        "authentication",
        "Panel's authentication: without one of --basic-auth or --oauth-provider "
        "anyone who reaches the port may use the dashboard.",
    )
    auth.add_argument(
        "--basic-auth",
        type=Path,
        default=None,
        metavar="FILE",
        help='JSON file of user names and passwords, {"olga": "secret", ...}; '
        "a login form guards the page and its websocket",
    )
    auth.add_argument(
        "--cookie-secret",
        default=None,
        metavar="SECRET",
        help=f"secret that signs the session cookies (default ${COOKIE_SECRET_ENV}, "
        "else a random one per process: sign-ins end when it restarts)",
    )
    auth.add_argument(
        "--oauth-provider",
        default=None,
        metavar="NAME",
        help="Panel OAuth provider (github, azure, google, gitlab, okta, "
        "auth0, generic, ...)",
    )
    auth.add_argument(
        "--oauth-key", default=None, metavar="KEY", help="OAuth client ID"
    )
    auth.add_argument(
        "--oauth-secret", default=None, metavar="SECRET", help="OAuth client secret"
    )
    auth.add_argument(
        "--oauth-extra-params",
        default=None,
        metavar="JSON",
        help='provider options as a JSON object, e.g. \'{"tenant": "..."}\' '
        "(azure) or the endpoints of a generic provider",
    )
    auth.add_argument(
        "--oauth-redirect-uri",
        default=None,
        metavar="URL",
        help="the dashboard's public URL the provider redirects back to",
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


class AuthError(ValueError):
    """The authentication flags cannot protect the server as asked."""


def auth_options(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The ``pn.serve`` keywords of the authentication flags.

    Checked before the server starts, because Panel fails open or late:
    a ``basic_auth`` string that is not a file is taken as one password for
    every user name, and a bad OAuth setup surfaces only at the first login.

    Parameters
    ----------
    args
        The parsed ``serve`` flags.
    environ
        Where ``JOBDASH_COOKIE_SECRET`` is looked up (default ``os.environ``).

    Returns
    -------
    dict
        Empty without authentication (then only a given cookie secret);
        otherwise ``basic_auth`` (the file's absolute path) or the
        ``oauth_*`` options, and ``cookie_secret`` (random per process,
        with a warning, when neither the flag nor the environment gives one).

    Raises
    ------
    AuthError
        Both basic auth and OAuth; an unreadable or malformed credentials file;
        OAuth without key or secret; extra parameters that are not a JSON
        object of strings.
    """
    environ = os.environ if environ is None else environ
    basic_auth: Path | None = getattr(args, "basic_auth", None)
    provider: str | None = getattr(args, "oauth_provider", None)
    cookie_secret = getattr(args, "cookie_secret", None) or environ.get(
        COOKIE_SECRET_ENV
    )
    options: dict[str, Any] = {}
    if basic_auth is not None and provider:
        raise AuthError("use either --basic-auth or --oauth-provider, not both")
    if basic_auth is not None:
        _check_credentials(basic_auth)
        options["basic_auth"] = str(basic_auth.resolve())
    elif provider:
        key = getattr(args, "oauth_key", None)
        secret = getattr(args, "oauth_secret", None)
        if not key or not secret:
            raise AuthError(
                f"--oauth-provider {provider} needs --oauth-key and --oauth-secret"
            )
        options.update(oauth_provider=provider, oauth_key=key, oauth_secret=secret)
        extra = getattr(args, "oauth_extra_params", None)
        if extra:
            options["oauth_extra_params"] = _string_mapping(
                extra, "--oauth-extra-params"
            )
        redirect = getattr(args, "oauth_redirect_uri", None)
        if redirect:
            options["oauth_redirect_uri"] = redirect
    if options and not cookie_secret:
        cookie_secret = secrets.token_urlsafe(32)
        _logger.warning(
            "no --cookie-secret or %s: using a random one, so every sign-in "
            "ends when this process restarts",
            COOKIE_SECRET_ENV,
        )
    if cookie_secret:
        options["cookie_secret"] = cookie_secret
    return options


def _check_credentials(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AuthError(f"cannot read --basic-auth file {path}: {exc}") from None
    credentials = _string_mapping(text, f"--basic-auth file {path}")
    if not credentials:
        raise AuthError(f"--basic-auth file {path} names no user")


def _string_mapping(text: str, what: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AuthError(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise AuthError(f"{what} must be a JSON object of strings")
    return value


def run(args: argparse.Namespace) -> int:
    """Build the services, then serve until interrupted; the exit status."""
    # Imported here: building the parser (``jobdash --help``) needs no Panel.
    from jobdash.app import StartupError, get_services

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = settings_from_args(args)
        auth = auth_options(args)
        services = get_services(settings)
    except ValidationError as exc:
        return _fail(_describe_validation(exc))
    except (CatalogueError, StartupError, ValueError) as exc:
        return _fail(str(exc))

    import panel as pn

    from jobdash.ui.page import build_page

    if auth and not settings.operators and not settings.read_only:
        _logger.warning(
            "authentication without operators: every signed-in user is a %s "
            "(set --operator or JOBDASH_OPERATORS)",
            settings.default_role.value,
        )
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
        **auth,
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
