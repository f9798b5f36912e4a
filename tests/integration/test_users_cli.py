"""`tradewire user create` and `tradewire user role`, run as the real command: the API's password
policy, the first admin from --admin, providers by default, and role changes that keep an admin."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.integration.test_exports_cli import TRADEWIRE, tradewire
from tradewire.adapters.store.db import make_engine, upgrade
from tradewire.adapters.store.members import SqlMembers
from tradewire.domain.members import Role

STRONG = "violet-lantern-harbor-42"


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


def _create(var_dir: Path, name: str, password: str, *options: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRADEWIRE_VAR_DIR": str(var_dir), "TRADEWIRE_CONFIG": str(var_dir / "absent.toml")}
    env.pop("TRADEWIRE_DATABASE_URL", None)
    return subprocess.run(
        [TRADEWIRE, "user", "create", name, "--password-stdin", *options],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def _members(var_dir: Path) -> tuple[Engine, SqlMembers]:
    engine = make_engine(f"sqlite:///{var_dir / 'tradewire.db'}")
    upgrade(engine)
    return engine, SqlMembers(engine)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1!", "at least 10 characters"),  # 8 characters were enough before
        ("password123456", "too common"),
        ("x" * 257, "at most 256 characters"),
    ],
)
def test_user_create_refuses_what_the_api_refuses_and_creates_nothing(
    var_dir: Path, password: str, why: str
) -> None:
    result = _create(var_dir, "root", password, "--admin")

    assert result.returncode == 2 and why in result.stderr
    assert _members(var_dir)[1].user_by_name("root") is None


def test_the_first_admin_comes_from_admin_and_others_are_providers_unless_told(var_dir: Path) -> None:
    assert _create(var_dir, "root", STRONG, "--admin").returncode == 0
    made = _create(var_dir, "carol", STRONG)
    subscriber = _create(var_dir, "dave", STRONG, "--role", "subscriber")
    wrong = _create(var_dir, "erin", STRONG, "--role", "owner")

    assert "(id 2, provider)" in made.stdout and subscriber.returncode == 0
    assert wrong.returncode == 2 and "not a role" in wrong.stderr
    members = _members(var_dir)[1]
    roles = {
        name: getattr(members.user_by_name(name), "role", None) for name in ("root", "carol", "dave", "erin")
    }
    assert roles == {"root": Role.ADMIN, "carol": Role.PROVIDER, "dave": Role.SUBSCRIBER, "erin": None}


def test_user_role_changes_a_role_but_never_the_last_admin_s(var_dir: Path) -> None:
    _create(var_dir, "root", STRONG, "--admin")
    _create(var_dir, "carol", STRONG)

    last = tradewire(var_dir, "user", "role", "root", "provider")
    promoted = tradewire(var_dir, "user", "role", "carol", "admin")
    stepped_down = tradewire(var_dir, "user", "role", "root", "subscriber")
    nobody = tradewire(var_dir, "user", "role", "zed", "admin")

    assert last.returncode == 1 and "last active admin" in last.stderr
    assert promoted.returncode == 0 and "carol is now admin" in promoted.stdout
    assert stepped_down.returncode == 0
    assert nobody.returncode == 1 and "no user 'zed'" in nobody.stderr
    members = _members(var_dir)[1]
    assert [getattr(members.user_by_name(n), "role", None) for n in ("root", "carol")] == [
        Role.SUBSCRIBER,
        Role.ADMIN,
    ]
