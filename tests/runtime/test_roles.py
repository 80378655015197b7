"""The role table: every role names workers that have a factory, and ``all`` runs every one."""

from __future__ import annotations

from leadgate.runtime.roles import FACTORIES, Role, names_of


def test_every_role_but_all_is_one_worker_with_a_factory() -> None:
    """``leadgate run --role X`` builds exactly worker X, for every X the CLI offers."""
    for role in Role:
        if role is not Role.ALL:
            assert names_of(role) == (role.value,)
            assert role.value in FACTORIES


def test_all_runs_every_worker() -> None:
    """``--role all`` (and ``leadgate dev``) runs every worker in the factory table."""
    assert set(names_of(Role.ALL)) == set(FACTORIES)
    assert set(FACTORIES) == {role.value for role in Role if role is not Role.ALL}
