"""SessionRegistry: open dashboard sessions, with an injected clock."""

from __future__ import annotations

import pytest

from jobdash.domain.access import Role
from jobdash.domain.clock import ManualClock
from jobdash.services.session_registry import SessionInfo, SessionRegistry
from jobdash.testing.actors import OPERATOR, VIEWER

T0 = 1_764_374_400_000_000_000
S = 1_000_000_000


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def registry(clock: ManualClock) -> SessionRegistry:
    return SessionRegistry(clock)


def test_a_registered_session_is_listed_with_its_user_role_and_time(
    registry: SessionRegistry,
) -> None:
    info = registry.register("s1", actor=VIEWER)

    assert info == SessionInfo("s1", VIEWER.name, Role.viewer, T0, T0)
    assert registry.sessions() == (info,)
    assert len(registry) == 1


def test_sessions_are_listed_in_the_order_they_registered(
    registry: SessionRegistry, clock: ManualClock
) -> None:
    registry.register("b", actor=OPERATOR)
    clock.advance(1)
    registry.register("a", actor=VIEWER)

    assert [s.session_id for s in registry.sessions()] == ["b", "a"]
    assert [s.since for s in registry.sessions()] == [T0, T0 + S]


def test_seen_moves_last_seen_but_not_since_nor_the_version(
    registry: SessionRegistry, clock: ManualClock
) -> None:
    registry.register("s1", actor=OPERATOR)
    version = registry.version
    clock.advance(7)

    registry.seen("s1")

    (info,) = registry.sessions()
    assert (info.since, info.last_seen) == (T0, T0 + 7 * S)
    assert registry.version == version


def test_seen_of_an_unknown_session_registers_nothing(
    registry: SessionRegistry,
) -> None:
    registry.seen("nobody")

    assert registry.sessions() == ()


def test_register_and_unregister_bump_the_version(
    registry: SessionRegistry,
) -> None:
    before = registry.version
    registry.register("s1", actor=OPERATOR)
    registered = registry.version
    registry.unregister("s1")

    assert before < registered < registry.version
    assert registry.sessions() == ()


def test_unregistering_twice_bumps_once(registry: SessionRegistry) -> None:
    registry.register("s1", actor=OPERATOR)
    registry.unregister("s1")
    version = registry.version

    registry.unregister("s1")

    assert registry.version == version


def test_registering_an_id_again_starts_its_entry_over(
    registry: SessionRegistry, clock: ManualClock
) -> None:
    registry.register("s1", actor=VIEWER)
    registry.register("s2", actor=VIEWER)
    clock.advance(3)

    registry.register("s1", actor=OPERATOR)

    assert registry.sessions() == (
        SessionInfo("s2", VIEWER.name, Role.viewer, T0, T0),
        SessionInfo("s1", OPERATOR.name, Role.operator, T0 + 3 * S, T0 + 3 * S),
    )


def test_a_session_unseen_for_expire_after_is_forgotten_at_the_next_registration(
    clock: ManualClock,
) -> None:
    registry = SessionRegistry(clock, expire_after=60)
    registry.register("gone", actor=VIEWER)
    registry.register("alive", actor=VIEWER)
    clock.advance(59)
    registry.seen("alive")
    clock.advance(2)

    registry.register("new", actor=OPERATOR)

    assert [s.session_id for s in registry.sessions()] == ["alive", "new"]


def test_a_non_positive_expiry_is_refused(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="expire_after"):
        SessionRegistry(clock, expire_after=0)
