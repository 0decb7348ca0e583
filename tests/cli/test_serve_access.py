"""``jobdash serve`` access flags: authentication options and roles."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from jobdash.app import build_services
from jobdash.cli import build_parser
from jobdash.cli.serve import AuthError, auth_options, settings_from_args
from jobdash.domain.access import ReadOnlyError, Role
from jobdash.domain.ids import WorkflowId

BEAM_MONITORS = WorkflowId("dream", "monitor_histogram", 1)


def serve_args(*flags: str) -> object:
    return build_parser().parse_args(["serve", *flags])


def credentials(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "users.json"
    path.write_text(content, encoding="utf-8")
    return path


def test_basic_auth_passes_the_checked_file_and_the_cookie_secret(
    tmp_path: Path,
) -> None:
    path = credentials(tmp_path, json.dumps({"olga": "a", "victor": "b"}))
    args = serve_args("--basic-auth", str(path), "--cookie-secret", "s3cret")
    assert auth_options(args, environ={}) == {  # type: ignore[arg-type]
        "basic_auth": str(path.resolve()),
        "cookie_secret": "s3cret",
    }


def test_without_a_cookie_secret_one_is_drawn_per_process_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = credentials(tmp_path, '{"olga": "a"}')
    args = serve_args("--basic-auth", str(path))
    with caplog.at_level(logging.WARNING, logger="jobdash.cli.serve"):
        first = auth_options(args, environ={})  # type: ignore[arg-type]
        second = auth_options(args, environ={})  # type: ignore[arg-type]
    assert len(first["cookie_secret"]) >= 32
    assert first["cookie_secret"] != second["cookie_secret"]
    assert "every sign-in ends when this process restarts" in caplog.text


def test_the_cookie_secret_comes_from_the_environment_when_no_flag_gives_one(
    tmp_path: Path,
) -> None:
    path = credentials(tmp_path, '{"olga": "a"}')
    args = serve_args("--basic-auth", str(path))
    options = auth_options(args, environ={"JOBDASH_COOKIE_SECRET": "from-env"})  # type: ignore[arg-type]
    assert options["cookie_secret"] == "from-env"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "is not JSON"),
        ('["olga"]', "must be a JSON object of strings"),
        ('{"olga": 1}', "must be a JSON object of strings"),
        ("{}", "names no user"),
    ],
)
def test_a_malformed_credentials_file_is_refused_before_serving(
    tmp_path: Path, content: str, problem: str
) -> None:
    # Panel would take a path that is not a readable file as one password
    # for every user name: never pass it on.
    path = credentials(tmp_path, content)
    with pytest.raises(AuthError, match=problem):
        auth_options(serve_args("--basic-auth", str(path)), environ={})  # type: ignore[arg-type]


def test_a_missing_credentials_file_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nobody.json"
    with pytest.raises(AuthError, match="cannot read --basic-auth file"):
        auth_options(serve_args("--basic-auth", str(missing)), environ={})  # type: ignore[arg-type]


def test_oauth_options_pass_through_to_panel() -> None:
    args = serve_args(
        "--oauth-provider",
        "azure",
        "--oauth-key",
        "client-id",
        "--oauth-secret",
        "client-secret",
        "--oauth-extra-params",
        '{"tenant": "facility-tenant"}',
        "--oauth-redirect-uri",
        "https://dash.example.org/",
        "--cookie-secret",
        "c",
    )
    assert auth_options(args, environ={}) == {  # type: ignore[arg-type]
        "oauth_provider": "azure",
        "oauth_key": "client-id",
        "oauth_secret": "client-secret",
        "oauth_extra_params": {"tenant": "facility-tenant"},
        "oauth_redirect_uri": "https://dash.example.org/",
        "cookie_secret": "c",
    }


def test_oauth_without_its_client_secret_is_refused() -> None:
    args = serve_args("--oauth-provider", "github", "--oauth-key", "id")
    with pytest.raises(AuthError, match="needs --oauth-key and --oauth-secret"):
        auth_options(args, environ={})  # type: ignore[arg-type]


def test_basic_auth_and_oauth_together_are_refused(tmp_path: Path) -> None:
    path = credentials(tmp_path, '{"olga": "a"}')
    args = serve_args(
        "--basic-auth", str(path), "--oauth-provider", "github", "--oauth-key", "k"
    )
    with pytest.raises(AuthError, match="not both"):
        auth_options(args, environ={})  # type: ignore[arg-type]


def test_without_authentication_nothing_is_passed() -> None:
    assert auth_options(serve_args(), environ={}) == {}  # type: ignore[arg-type]


def test_operator_flags_replace_the_environment_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBDASH_OPERATORS", '["oscar"]')
    args = serve_args("--operator", "olga", "--operator", "otto")
    settings = settings_from_args(args)  # type: ignore[arg-type]
    assert settings.operators == ["olga", "otto"]
    policy = settings.access_policy()
    assert policy.actor_for("olga").role is Role.operator
    assert policy.actor_for("oscar").role is Role.viewer


def test_read_only_makes_listed_operators_viewers_and_the_services_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBDASH_READ_ONLY", "true")
    args = serve_args(
        "--operator", "olga", "--config-dir", str(tmp_path), "--frozen-clock"
    )
    settings = settings_from_args(args)  # type: ignore[arg-type]
    services = build_services(settings)
    olga = services.policy.actor_for("olga")
    assert olga.role is Role.viewer
    with pytest.raises(ReadOnlyError, match="read-only dashboard: 'olga' may not"):
        services.job_orchestrator.stage_config(
            BEAM_MONITORS, "monitor_bunker", {}, actor=olga
        )
    with pytest.raises(ReadOnlyError):
        services.job_orchestrator.commit_workflow(BEAM_MONITORS, actor=olga)
    with pytest.raises(ReadOnlyError):
        services.job_orchestrator.stop_workflow(BEAM_MONITORS, actor=olga)
    assert services.tracker.pending_count() == 0
    assert services.audit is not None
    refused = [
        json.loads(line)
        for line in services.audit.path.read_text(encoding="utf-8").splitlines()
    ]
    assert {(r["user"], r["outcome"]) for r in refused} == {("olga", "refused")}
