"""`tradewire export` and `tradewire tax`, run as the real command on the database the server uses."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.history import add_fills, add_order
from tests.seeding import seed_members
from tradewire.adapters.store.db import make_engine, upgrade
from tradewire.adapters.store.members import SqlMembers

TRADEWIRE = str(Path(sys.executable).parent / "tradewire")
T0 = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


@pytest.fixture
def database(var_dir: Path) -> Engine:
    engine = make_engine(f"sqlite:///{var_dir / 'tradewire.db'}")
    upgrade(engine)
    return engine


def tradewire(var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRADEWIRE_VAR_DIR": str(var_dir), "TRADEWIRE_CONFIG": str(var_dir / "absent.toml")}
    env.pop("TRADEWIRE_DATABASE_URL", None)
    return subprocess.run(
        [TRADEWIRE, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


@pytest.fixture
def accounts(database: Engine) -> tuple[int, int]:
    """cli-sub1's account with a buy and a sale (2024), and cli-sub2's account."""
    seeded = seed_members(SqlMembers(database), [{}, {}], slug="cli")
    user, account = seeded.subscriber_ids[0], seeded.account_ids[0]
    buy = add_order(database, user, account, seeded.subscription_ids[0], T0)
    add_fills(database, buy, account, [{"amount": "2", "price": "100", "fee": "0.2", "executed_at": T0}])
    sale = add_order(database, user, account, None, T0 + timedelta(days=1), side="sell")
    later = T0 + timedelta(days=1)
    add_fills(
        database, sale, account, [{"amount": "0.5", "price": "120", "fee": "0.06", "executed_at": later}]
    )
    return account, seeded.account_ids[1]


def test_export_writes_the_users_fills_as_csv(var_dir: Path, accounts: tuple[int, int]) -> None:
    done = tradewire(var_dir, "export", "fills", "--user", "cli-sub1", "--account-id", str(accounts[0]))

    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["side"], r["amount"], r["price"], r["executed_at"]) for r in rows] == [
        ("buy", "2", "100", "2024-03-01T00:00:00Z"),
        ("sell", "0.5", "120", "2024-03-02T00:00:00Z"),
    ]


def test_export_to_a_file_as_json_within_a_range(
    var_dir: Path, accounts: tuple[int, int], tmp_path: Path
) -> None:
    out = tmp_path / "orders.json"

    done = tradewire(
        var_dir,
        "export",
        "orders",
        "--user",
        "cli-sub1",
        "--from",
        "2024-03-02",
        "--format",
        "json",
        "--out",
        str(out),
    )

    assert (done.returncode, done.stdout) == (0, "")
    [order] = json.loads(out.read_text())
    assert (order["side"], order["created_at"]) == ("sell", "2024-03-02T00:00:00Z")


def test_tax_prints_the_report(var_dir: Path, accounts: tuple[int, int]) -> None:
    done = tradewire(
        var_dir, "tax", "2024", "--user", "cli-sub1", "--account-id", str(accounts[0]), "--format", "json"
    )

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # 0.5 of a lot of 2 that cost 200.2: 50.05; sold for 60 less a 0.06 fee.
    [line] = report["lines"]
    assert (line["proceeds"], line["cost"], line["gain"]) == ("59.94", "50.05", "9.89")
    assert report["open_lots"][0]["cost"] == "150.15"
    assert Decimal(report["totals"][0]["gain"]) == Decimal("9.89")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "fills", "--user", "nobody"], "--user: no user 'nobody'"),
        (
            ["export", "trades", "--user", "cli-sub1"],
            "KIND: expected one of orders, fills, positions, signals",
        ),
        (["export", "fills", "--user", "cli-sub1", "--format", "xml"], "--format: expected csv or json"),
        (["export", "fills", "--user", "cli-sub1", "--from", "soon"], "--from: 'soon' is not a date"),
        (
            ["export", "fills", "--user", "cli-sub1", "--from", "2024-02-01", "--to", "2024-01-01"],
            "'from' must be",
        ),
        (
            ["tax", "1969", "--user", "cli-sub1", "--account-id", "1"],
            "the year must be between 1970 and 9998",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    var_dir: Path, accounts: tuple[int, int], args: list[str], message: str
) -> None:
    done = tradewire(var_dir, *args)

    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {message}")


def test_another_users_account_is_not_found(var_dir: Path, accounts: tuple[int, int]) -> None:
    for args in (["export", "fills", "--account-id"], ["tax", "2024", "--account-id"]):
        done = tradewire(var_dir, *args, str(accounts[1]), "--user", "cli-sub1")

        assert (done.returncode, done.stderr) == (2, f"error: no exchange account {accounts[1]}\n")
