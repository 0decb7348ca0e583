"""Settings from the environment: parsing, derived defaults and the access policy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from jobdash.domain.access import LOCAL_USER, Actor, ReadOnlyError, Role
from jobdash.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No JOBDASH_* variable of the machine leaks in; the config home is a tmp dir."""
    for name in list(os.environ):
        if name.upper().startswith("JOBDASH_"):
            monkeypatch.delenv(name)
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


# --- the access and audit settings ---------------------------------------------------


def test_access_and_audit_defaults(clean_environment: Path) -> None:
    settings = Settings()
    assert settings.operators is None
    assert settings.default_role is Role.viewer
    assert settings.audit_file == clean_environment / "jobdash" / "dream-audit.jsonl"
    assert settings.audit_max_bytes == 50 * 1024 * 1024
    assert settings.audit_fsync is False


def test_the_default_audit_file_follows_config_dir_and_instrument(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert Settings(config_dir=tmp_path, instrument="loki").audit_file == (
        tmp_path / "loki-audit.jsonl"
    )
    monkeypatch.setenv("JOBDASH_CONFIG_DIR", str(tmp_path / "etc"))
    monkeypatch.setenv("JOBDASH_INSTRUMENT", "bifrost")
    assert Settings().audit_file == tmp_path / "etc" / "bifrost-audit.jsonl"


def test_an_explicit_audit_file_wins_over_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chosen = tmp_path / "var" / "audit.jsonl"
    assert Settings(config_dir=tmp_path, audit_file=chosen).audit_file == chosen
    monkeypatch.setenv("JOBDASH_AUDIT_FILE", str(chosen))
    assert Settings(config_dir=tmp_path / "elsewhere").audit_file == chosen


@pytest.mark.parametrize("spelling", ["none", "None", " NONE "])
def test_audit_file_none_in_the_environment_disables_auditing(
    monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    monkeypatch.setenv("JOBDASH_AUDIT_FILE", spelling)
    assert Settings().audit_file is None


def test_audit_file_none_in_code_disables_auditing() -> None:
    assert Settings(audit_file=None).audit_file is None
    assert Settings(audit_file="none").audit_file is None


def test_an_empty_audit_file_is_refused_rather_than_taken_as_the_working_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBDASH_AUDIT_FILE", "")
    with pytest.raises(ValidationError, match="'none' to disable auditing"):
        Settings()


def test_audit_size_and_fsync_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBDASH_AUDIT_MAX_BYTES", "1048576")
    monkeypatch.setenv("JOBDASH_AUDIT_FSYNC", "true")
    settings = Settings()
    assert (settings.audit_max_bytes, settings.audit_fsync) == (1024 * 1024, True)
    with pytest.raises(ValidationError, match="audit_max_bytes"):
        Settings(audit_max_bytes=0)


def test_operators_and_default_role_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBDASH_OPERATORS", '["olga","oscar"]')
    monkeypatch.setenv("JOBDASH_DEFAULT_ROLE", "operator")
    settings = Settings()
    assert settings.operators == ["olga", "oscar"]
    assert settings.default_role is Role.operator


def test_operators_must_be_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBDASH_OPERATORS", "olga,oscar")
    with pytest.raises(ValidationError, match="operators"):
        Settings()


def test_an_unknown_default_role_is_refused() -> None:
    with pytest.raises(ValidationError, match="default_role"):
        Settings(default_role="admin")


def test_the_access_policy_makes_listed_users_operators_and_others_viewers() -> None:
    policy = Settings(operators=["olga", "oscar"]).access_policy()
    assert policy.actor_for("olga") == Actor("olga", Role.operator)
    assert policy.actor_for("bob") == Actor("bob", Role.viewer)
    # Authentication expected but absent: fail closed.
    assert not policy.actor_for(None).is_operator


def test_the_access_policy_takes_the_default_role_and_the_wildcard() -> None:
    policy = Settings(operators=[], default_role=Role.operator).access_policy()
    assert policy.actor_for("bob").is_operator
    everyone = Settings(operators=["*"]).access_policy()
    assert everyone.actor_for("bob").is_operator


def test_without_operators_or_authentication_the_local_user_may_act() -> None:
    assert Settings().access_policy().actor_for(None) == Actor(
        LOCAL_USER, Role.operator
    )


def test_a_read_only_dashboard_gives_a_policy_that_refuses_everyone() -> None:
    policy = Settings(read_only=True, operators=["olga"]).access_policy()
    assert policy.read_only
    olga = policy.actor_for("olga")
    assert not olga.is_operator
    with pytest.raises(ReadOnlyError):
        policy.require_operator(Actor("olga", Role.operator), "stop workflows")


# --- the other settings ------------------------------------------------------------


def test_librdkafka_options_from_the_environment_use_dotted_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBDASH_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("JOBDASH_KAFKA__SASL_MECHANISM", "SCRAM-SHA-256")
    assert Settings().kafka == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
    }


def test_stale_after_defaults_to_three_heartbeat_intervals() -> None:
    assert Settings(heartbeat_interval=0.5).effective_stale_after == 1.5
    assert Settings(heartbeat_interval=0.5, stale_after=4).effective_stale_after == 4


def test_stale_after_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="stale_after"):
        Settings(stale_after=0)


def test_topic_names_carry_the_prefix_and_instrument(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().topic("heartbeat") == "dream_livedata_heartbeat"
    monkeypatch.setenv("JOBDASH_TOPIC_PREFIX", "staging_")
    monkeypatch.setenv("JOBDASH_INSTRUMENT", "loki")
    assert Settings().topic("commands") == "staging_loki_livedata_commands"


def test_the_config_file_is_per_instrument_in_the_xdg_config_home(
    clean_environment: Path,
) -> None:
    assert Settings(instrument="loki").config_file == (
        clean_environment / "jobdash" / "loki.json"
    )


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="operator_list"):
        Settings(operator_list=["olga"])
