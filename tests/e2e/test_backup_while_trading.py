"""A backup taken with `tradewire db backup` while webhooks keep a served platform placing paper orders,
restored with `tradewire db restore` into another database: every order committed before the backup
started is there, and the restore matches the backup's manifest. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from tests.conftest import free_port
from tests.databases import sibling_database
from tests.support import PASSPHRASE, ServedRuntime, make_runtime, pin_prices, seed_marketplace
from tradewire.adapters.backup import Manifest, backups_in
from tradewire.adapters.store.db import disposable_engine
from tradewire.adapters.store.tables import orders
from tradewire.cli import app

pytestmark = pytest.mark.slow


class AlertStream:
    """Buy alerts for the strategy, each with its own time, sent one after another until stopped."""

    def __init__(self, url: str, slug: str) -> None:
        self.url = f"{url}/api/v1/webhooks/tradingview/{slug}"
        self.answers: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send, daemon=True)

    def _send(self) -> None:
        with httpx.Client(timeout=10) as http:
            number = 0
            while not self._stop.is_set():
                number += 1
                alert = {
                    "passphrase": PASSPHRASE,
                    "time": f"2025-01-15T14:{number // 60:02d}:{number % 60:02d}Z",
                    "ticker": "BINANCE:BTCUSDT",
                    "action": "buy",
                    "contracts": "0.0001",
                }
                self.answers.append(http.post(self.url, json=alert).status_code)
                time.sleep(0.02)

    def __enter__(self) -> AlertStream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=20)


def _client_order_ids(url: str) -> set[str]:
    engine = disposable_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(select(orders.c.client_order_id)).scalars())
    finally:
        engine.dispose()


def _wait_for_orders(url: str, at_least: int, timeout: float = 30) -> set[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _client_order_ids(url)
        if len(found) >= at_least:
            return found
        time.sleep(0.1)
    raise AssertionError(f"fewer than {at_least} orders after {timeout}s")


def _cli(args: list[str], url: str, var_dir: Path) -> str:
    env = {
        "TRADEWIRE_DATABASE_URL": url,
        "TRADEWIRE_VAR_DIR": str(var_dir),
        "TRADEWIRE_CONFIG": "absent.toml",
    }
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def restore_url(engine: Engine, tmp_path: Path) -> Iterator[str]:
    with sibling_database(engine, tmp_path, "restored") as url:
        yield url


def test_a_backup_taken_while_trading_restores_every_order_committed_before_it(
    engine: Engine, restore_url: str, tmp_path: Path
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    runtime = make_runtime(tmp_path, url)
    seeded = seed_marketplace(runtime.engine, [{"sizing_value": "10"}] * 3)
    pin_prices(runtime, {"BTC/USDT": "60000"})
    backups = tmp_path / "backups"

    with ServedRuntime(runtime, free_port()) as served, AlertStream(served.url, seeded.slug) as alerts:
        before = _wait_for_orders(url, at_least=30)
        sent_before = len(alerts.answers)
        output = _cli(["db", "backup", "--dir", str(backups), "--verify"], url, tmp_path / "var")
        after = _wait_for_orders(url, at_least=len(before) + 15)  # trading went on
        assert len(alerts.answers) > sent_before
    assert set(alerts.answers) == {202}, "every alert was taken while the backup ran"

    [backup] = backups_in(backups)
    assert f"backup written: {backup}" in output and "verified" in output
    restored = _cli(["db", "restore", str(backup)], restore_url, tmp_path / "var-restored")
    assert "match the backup" in restored

    found = _client_order_ids(restore_url)
    assert before <= found, f"{len(before - found)} orders committed before the backup are missing"
    assert len(found) == Manifest.read(backup).tables["orders"]
    assert found <= after | _client_order_ids(url)
