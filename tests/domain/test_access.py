import pytest

from jobdash.domain.access import (
    LOCAL_USER,
    AccessPolicy,
    Actor,
    PermissionDeniedError,
    ReadOnlyError,
    Role,
)

OPERATOR = Actor("olga", Role.operator)
VIEWER = Actor("alice", Role.viewer)


def test_without_authentication_the_local_user_is_an_operator():
    assert AccessPolicy().actor_for(None) == Actor(LOCAL_USER, Role.operator)
    assert AccessPolicy().actor_for("") == Actor(LOCAL_USER, Role.operator)


def test_without_authentication_a_read_only_dashboard_makes_the_local_user_a_viewer():
    assert AccessPolicy(read_only=True).actor_for(None) == Actor(
        LOCAL_USER, Role.viewer
    )


def test_listed_users_are_operators_and_everyone_else_a_viewer():
    policy = AccessPolicy(operators=frozenset({"olga", "oscar"}))
    assert policy.actor_for("olga") == Actor("olga", Role.operator)
    assert policy.actor_for("oscar").role is Role.operator
    assert policy.actor_for("alice") == Actor("alice", Role.viewer)


def test_user_names_are_matched_exactly():
    policy = AccessPolicy(operators=frozenset({"olga"}))
    assert policy.actor_for("Olga").role is Role.viewer
    assert policy.actor_for("olga ").role is Role.viewer


def test_a_star_makes_every_authenticated_user_an_operator():
    policy = AccessPolicy(operators=frozenset({"*"}))
    assert policy.actor_for("anyone").role is Role.operator


def test_a_missing_user_when_operators_are_configured_is_an_anonymous_viewer():
    # Authentication was expected; its absence must not grant operator rights.
    policy = AccessPolicy(operators=frozenset({"*"}))
    actor = policy.actor_for(None)
    assert actor.role is Role.viewer
    assert actor.name != LOCAL_USER


def test_authenticated_users_get_the_default_role_when_no_list_is_configured():
    assert AccessPolicy().actor_for("alice").role is Role.viewer
    policy = AccessPolicy(default_role=Role.operator)
    assert policy.actor_for("alice").role is Role.operator


def test_read_only_makes_every_user_a_viewer_even_listed_operators():
    policy = AccessPolicy(operators=frozenset({"olga", "*"}), read_only=True)
    assert policy.actor_for("olga").role is Role.viewer
    assert policy.actor_for("alice").role is Role.viewer


def test_operators_may_act():
    AccessPolicy().require_operator(OPERATOR, "stop workflows")


def test_a_viewer_is_refused_with_a_message_naming_role_user_and_action():
    with pytest.raises(PermissionDeniedError) as info:
        AccessPolicy().require_operator(VIEWER, "stop workflows")
    assert str(info.value) == "viewer 'alice' may not stop workflows"
    assert info.value.actor == VIEWER
    assert info.value.action == "stop workflows"
    assert not isinstance(info.value, ReadOnlyError)


def test_read_only_refuses_everyone_operators_included():
    policy = AccessPolicy(read_only=True)
    for actor in (OPERATOR, VIEWER):
        with pytest.raises(ReadOnlyError, match=r"read-only dashboard: .* may not"):
            policy.require_operator(actor, "commit workflows")


def test_refusals_are_permission_errors():
    assert issubclass(PermissionDeniedError, PermissionError)
    assert issubclass(ReadOnlyError, PermissionDeniedError)
    refusal = ReadOnlyError("read-only", actor=OPERATOR, action="stop jobs")
    assert str(refusal) == "read-only"
    assert refusal.actor == OPERATOR


def test_there_is_no_implied_actor_and_actors_are_immutable_values():
    # Fail closed: nothing acts unnamed (there was an operator "system" actor
    # that every action defaulted to).
    assert not hasattr(Actor, "system")
    assert Actor("olga", Role.operator) == Actor("olga", Role.operator)
    with pytest.raises(AttributeError):
        OPERATOR.role = Role.viewer  # type: ignore[misc]


def test_roles_are_their_wire_names():
    assert [role.value for role in Role] == ["viewer", "operator"]
    assert AccessPolicy(default_role="operator").actor_for("x").role is Role.operator  # type: ignore[arg-type]


def test_a_terminal_user_is_an_operator_when_no_operator_list_is_configured():
    assert AccessPolicy().terminal_actor("olga") == Actor("olga", Role.operator)


def test_a_terminal_user_is_judged_by_the_operator_list_when_one_is_configured():
    policy = AccessPolicy(operators=frozenset({"olga"}))
    assert policy.terminal_actor("olga") == Actor("olga", Role.operator)
    assert policy.terminal_actor("bob") == Actor("bob", Role.viewer)


def test_a_read_only_policy_makes_a_terminal_user_a_viewer():
    assert AccessPolicy(read_only=True).terminal_actor("olga").role is Role.viewer
