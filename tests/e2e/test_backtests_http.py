"""Backtests over real HTTP: started, run in the background on the shared candles, followed to the end,
filed under a strategy, refused with 422 before anything is stored, private to their owner, and failed
by a restart when their process stopped while running them; queued ones run after the restart."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from matplotlib.image import imread
from sqlalchemy import Engine, func, select, update

from tests.conftest import free_port
from tests.support import PASSWORD, ServedRuntime, make_runtime, now, seed_marketplace
from tradewire.adapters.candles_parquet import read_candles
from tradewire.adapters.store.backtests import SqlBacktests
from tradewire.adapters.store.tables import backtests, strategies
from tradewire.domain.backtest import BacktestConfig, BacktestResult, run_backtest
from tradewire.domain.exits import ExitRules
from tradewire.domain.sizing import Sizing, SizingMode
from tradewire.domain.strategies.base import Strategy
from tradewire.domain.strategies.builtin import build_strategy
from tradewire.domain.strategies.confirmation import MtfParams
from tradewire.services.backtests import Confirmed

PAIRS = ("ETH/BTC", "LTC/BTC")
BODY: dict[str, Any] = {
    "strategy": "ema_cross",
    "params": {"fast": 9, "slow": 21},
    "symbols": list(PAIRS),
    "timeframe": "5m",
    "capital": 20_000,
    "stake": 500,
    "slippage": 0.0005,
    "exit_rules": {"stop_loss_pct": "2", "take_profit_pct": "4"},
}
DEFINITION = {
    "builtin": "ema_cross",
    "params": {"fast": 9, "slow": 21},
    "timeframe": "5m",
    "symbols": list(PAIRS),
    "confirmation": {"timeframes": ["5m", "15m", "1h"], "min_priority": "MEDIUM"},
}


def direct(data_dir: Path, strategy: Strategy) -> BacktestResult:
    """BODY's backtest called directly on the same files."""
    folder = data_dir / "ohlcv" / "freqtrade"
    candles = {
        symbol: read_candles(folder / f"{symbol.replace('/', '_')}-5m.parquet", symbol, "5m")
        for symbol in PAIRS
    }
    config = BacktestConfig(
        initial_capital=20_000.0,
        slippage=0.0005,
        sizing=Sizing(SizingMode.FIXED_QUOTE, Decimal("500.0")),
        exit_rules=ExitRules(stop_loss_pct=Decimal(2), take_profit_pct=Decimal(4)),
        timeframe="5m",
    )
    return run_backtest(strategy, candles, config)


@dataclass
class Desk:
    served: ServedRuntime
    http: httpx.Client
    strategy_id: int  # the provider's public indicator strategy
    webhook_strategy_id: int  # another provider's private webhook strategy
    provider: dict[str, str]
    other: dict[str, str]

    def stored(self) -> int:
        with self.served.runtime.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(backtests)).scalar_one())

    def wait(
        self, backtest_id: int, headers: dict[str, str], timeout: float = 60
    ) -> tuple[dict[str, Any], list[float]]:
        """Poll until done or failed; the final body and every progress seen on the way."""
        seen: list[float] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.http.get(f"/api/v1/backtests/{backtest_id}", headers=headers)
            assert response.status_code == 200, response.text
            body = response.json()
            seen.append(body["progress"])
            if body["status"] in ("done", "failed"):
                return body, seen
            time.sleep(0.02)
        raise AssertionError(f"backtest {backtest_id} did not finish in {timeout} s: {body}")


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def desk(engine: Engine, tmp_path: Path, data_dir: Path) -> Iterator[Desk]:
    """A served runtime on the shared candles; a provider whose public strategy has a definition."""
    with _desk(engine, tmp_path, data_dir) as desk:
        yield desk


@pytest.fixture(scope="module")
def refusing_desk(
    module_engine: Engine, tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> Iterator[Desk]:
    """`desk`, one for the module's tests of requests refused (they store nothing, and check so)."""
    with _desk(module_engine, tmp_path_factory.mktemp("desk"), data_dir) as desk:
        yield desk


@contextmanager
def _desk(engine: Engine, tmp_path: Path, data_dir: Path) -> Iterator[Desk]:
    runtime = make_runtime(tmp_path, _url(engine), data_dir=data_dir)
    seeded = seed_marketplace(runtime.engine, [], slug="indicator")
    private = seed_marketplace(runtime.engine, [], slug="private-hook")
    with runtime.engine.begin() as conn:
        conn.execute(
            update(strategies).where(strategies.c.id == seeded.strategy_id).values(definition=DEFINITION)
        )
        conn.execute(update(strategies).where(strategies.c.id == private.strategy_id).values(is_public=False))
    provider = runtime.members.user_by_name("provider-indicator")
    assert provider is not None
    runtime.members.create_user("other", provider.password_hash, now())  # the same password
    with ServedRuntime(runtime, free_port()) as served, httpx.Client(base_url=served.url, timeout=30) as http:
        yield Desk(
            served,
            http,
            seeded.strategy_id,
            private.strategy_id,
            served.token("provider-indicator", PASSWORD),
            served.token("other", PASSWORD),
        )


def test_a_backtest_runs_in_the_background_and_its_result_is_run_backtest_s(
    desk: Desk, data_dir: Path
) -> None:
    response = desk.http.post("/api/v1/backtests", headers=desk.provider, json=BODY)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "queued"
    assert accepted["url"].endswith(f"/api/v1/backtests/{accepted['id']}")

    body, seen = desk.wait(accepted["id"], desk.provider)
    assert body["status"] == "done", body["error"]
    assert body["progress"] == 1.0
    assert seen == sorted(seen)
    assert body["error"] is None and body["finished_at"] is not None
    assert (body["strategy_name"], body["symbols"], body["timeframe"]) == ("ema_cross", list(PAIRS), "5m")
    assert body["config"]["stake"] == 500 and body["config"]["exit_rules"] == BODY["exit_rules"]

    expected = direct(data_dir, build_strategy("ema_cross", BODY["params"])).to_json()
    result = body["result"]
    assert len(result["trades"]) > 0
    assert result["trades"] == expected["trades"]
    assert result["report"] == expected["report"]
    assert result["equity"] == expected["equity"]
    assert {p["symbol"] for p in result["report"]["per_pair"]} == set(PAIRS)

    png = desk.http.get(f"/api/v1/backtests/{accepted['id']}/equity.png", headers=desk.provider)
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert imread(io.BytesIO(png.content), format="png").shape[:2] == (900, 1400)
    title = f"Backtest #{accepted['id']}: ema_cross {', '.join(PAIRS)} 5m".encode()
    assert b"tEXtTitle\x00" + title in png.content
    # The price panel reads the candles again: the same series the backtest ran on.
    again = desk.served.runtime.backtests.candles_of(body)
    assert again is not None and set(again) == set(PAIRS) and all(len(c) for c in again.values())

    # The dashboard draws the trades on the same candles, at most 2,000 bars of them.
    url = f"/api/v1/backtests/{accepted['id']}/candles"
    bars = desk.http.get(url, params={"symbol": "ETH/BTC"}, headers=desk.provider).json()
    series = again["ETH/BTC"]
    assert (bars["symbol"], bars["timeframe"]) == ("ETH/BTC", "5m")
    assert len(bars["ts_ms"]) == len(bars["close"]) <= 2_000 < len(series)
    assert bars["ts_ms"][0] == int(series.ts[0]) and bars["close"][-1] == float(series.close[-1])
    assert bars["bar_ms"] == 300_000 * -(-len(series) // 2_000)
    assert max(bars["high"]) == float(series.high.max()) and min(bars["low"]) == float(series.low.min())
    assert desk.http.get(url, params={"symbol": "BTC/USDT"}, headers=desk.provider).status_code == 422
    assert desk.http.get(url, params={"symbol": "ETH/BTC"}, headers=desk.other).status_code == 404


def test_a_strategy_s_definition_is_backtested_and_filed_under_it(desk: Desk, data_dir: Path) -> None:
    first = desk.http.post("/api/v1/backtests", headers=desk.provider, json=_from_strategy(desk.strategy_id))
    second = desk.http.post(
        "/api/v1/backtests",
        headers=desk.provider,
        json={**_from_strategy(desk.strategy_id), "confirmation": None},
    )
    loose = desk.http.post("/api/v1/backtests", headers=desk.provider, json=BODY)  # not filed under it
    assert first.status_code == second.status_code == loose.status_code == 202, first.text
    ids = [first.json()["id"], second.json()["id"]]
    confirmed, _ = desk.wait(ids[0], desk.provider)
    desk.wait(ids[1], desk.provider)
    desk.wait(loose.json()["id"], desk.provider)

    assert confirmed["status"] == "done", confirmed["error"]
    assert confirmed["strategy_id"] == desk.strategy_id
    assert confirmed["config"]["confirmation"] == DEFINITION["confirmation"]
    mtf = MtfParams.model_validate(DEFINITION["confirmation"])
    expected = direct(data_dir, Confirmed(build_strategy("ema_cross", DEFINITION["params"]), mtf))
    plain = direct(data_dir, build_strategy("ema_cross", DEFINITION["params"]))
    assert confirmed["result"]["trades"] == expected.to_json()["trades"]
    assert 0 < len(expected.trades) < len(plain.trades)  # the confirmation drops entries

    listing = desk.http.get(f"/api/v1/strategies/{desk.strategy_id}/backtests", headers=desk.provider)
    assert listing.status_code == 200
    rows = listing.json()
    assert [row["id"] for row in rows] == ids[::-1]  # newest first, only those filed under it
    assert all("result" not in row and row["status"] == "done" for row in rows)
    # A public strategy: another user sees it, but not the provider's backtests.
    theirs = desk.http.get(f"/api/v1/strategies/{desk.strategy_id}/backtests", headers=desk.other)
    assert theirs.status_code == 200 and theirs.json() == []
    paged = desk.http.get(
        f"/api/v1/strategies/{desk.strategy_id}/backtests",
        headers=desk.provider,
        params={"before_id": ids[1]},
    )
    assert [row["id"] for row in paged.json()] == [ids[0]]


def _from_strategy(strategy_id: int) -> dict[str, Any]:
    fields = {k: v for k, v in BODY.items() if k not in ("strategy", "params", "symbols", "timeframe")}
    return {**fields, "strategy_id": strategy_id}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"strategy": "nope"}, "unknown strategy 'nope'"),
        ({"params": {"fast": 30, "slow": 21}}, "fast must be shorter than slow"),
        ({"params": {"speed": 3}}, "speed: unknown parameter"),
        ({"symbols": ["ETH/BTC", "DOGE/USDT"]}, "no 5m candles for DOGE/USDT"),
        ({"timeframe": "3d"}, "no 3d candles for ETH/BTC, LTC/BTC"),
        ({"timeframe": "5x"}, "unknown timeframe '5x'"),
        ({"symbols": ["ETH-BTC"]}, "unified symbols"),
        ({"start": "2018-01-20", "end": "2018-01-10"}, "must be after start"),
        ({"start": "2030-01-01"}, "no candles between 2030-01-01T00:00:00+00:00"),
        ({"fee": 1.5}, "less than 1"),
        ({"exit_rules": {"stop_loss_pct": "150"}}, "less than 100"),
        ({"strategy_id": 1}, "either strategy"),
        ({"confirmation": {"timeframes": ["1m"]}}, "'1m' is not a whole multiple"),
    ],
)
def test_bad_input_is_422_and_nothing_is_stored(
    refusing_desk: Desk, change: dict[str, Any], words: str
) -> None:
    desk = refusing_desk
    response = desk.http.post("/api/v1/backtests", headers=desk.provider, json={**BODY, **change})
    assert response.status_code == 422
    assert words in response.text
    assert desk.stored() == 0


def test_a_webhook_strategy_cannot_be_backtested_and_a_hidden_one_is_not_found(desk: Desk) -> None:
    own_hook = seed_marketplace(desk.served.runtime.engine, [], slug="own-hook")  # a new provider
    token = desk.served.token("provider-own-hook", PASSWORD)
    hook = desk.http.post("/api/v1/backtests", headers=token, json=_from_strategy(own_hook.strategy_id))
    assert hook.status_code == 422
    assert "no indicator definition" in hook.text
    hidden = desk.http.post(
        "/api/v1/backtests", headers=desk.other, json=_from_strategy(desk.webhook_strategy_id)
    )
    assert hidden.status_code == 404
    listing = desk.http.get(f"/api/v1/strategies/{desk.webhook_strategy_id}/backtests", headers=desk.other)
    assert listing.status_code == 404
    assert desk.stored() == 0


def test_another_user_gets_404(desk: Desk) -> None:
    backtest_id = desk.http.post("/api/v1/backtests", headers=desk.provider, json=BODY).json()["id"]
    desk.wait(backtest_id, desk.provider)
    for path in (f"/api/v1/backtests/{backtest_id}", f"/api/v1/backtests/{backtest_id}/equity.png"):
        response = desk.http.get(path, headers=desk.other)
        assert response.status_code == 404
        assert response.json() == {"detail": f"no backtest {backtest_id}"}
    assert desk.http.get(f"/api/v1/backtests/{backtest_id}").status_code == 401


# -- a restart --------------------------------------------------------------------------------------


def long_series(directory: Path, candles: int = 1_500_000) -> None:
    """A random-walk 1m series long enough that the event-driven walk takes a few seconds."""
    rng = np.random.default_rng(5)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.001, candles)))
    open_ = np.concatenate(([100.0], close[:-1]))
    spread = np.abs(rng.normal(0, 0.0005, candles)) * close
    table = pa.table(
        {
            "ts": 1_600_000_000_000 + 60_000 * np.arange(candles, dtype=np.int64),
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": np.ones(candles),
        }
    )
    (directory / "ohlcv" / "test").mkdir(parents=True)
    pq.write_table(table, directory / "ohlcv" / "test" / "LONG_USDT-1m.parquet")


def test_a_restart_fails_the_backtest_left_running_and_runs_the_queued_ones(tmp_path: Path) -> None:
    data = tmp_path / "data"
    long_series(data)
    first = make_runtime(tmp_path, data_dir=data)
    seeded = seed_marketplace(first.engine, [], slug="restart")
    body = {
        "strategy": "ema_cross",
        "symbols": ["LONG/USDT"],
        "timeframe": "1m",
        "exit_rules": {"trailing_pct": "1"},  # the event-driven walk, with progress
    }
    with ServedRuntime(first, free_port()) as served, httpx.Client(base_url=served.url, timeout=30) as http:
        headers = served.token("provider-restart")
        backtest_id = http.post("/api/v1/backtests", headers=headers, json=body).json()["id"]
        # Accepted behind the running one (one at a time): still queued when the server stops.
        queued = http.post("/api/v1/backtests", headers=headers, json={**body, "end": "2020-09-20"}).json()[
            "id"
        ]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = http.get(f"/api/v1/backtests/{backtest_id}", headers=headers).json()
            if running["status"] != "queued" and running["progress"] > 0:
                break
            time.sleep(0.02)
        assert running["status"] == "running" and 0 < running["progress"] < 1
    # The server stopped mid-run: the walk gave up and left the row as it was.
    store = SqlBacktests(first.engine)
    assert store.get(seeded.provider_id, backtest_id)["status"] == "running"
    assert store.get(seeded.provider_id, queued)["status"] == "queued"

    second = make_runtime(tmp_path, data_dir=data)  # the same database, a new process
    with ServedRuntime(second, free_port()) as served, httpx.Client(base_url=served.url, timeout=30) as http:
        headers = served.token("provider-restart")
        row = http.get(f"/api/v1/backtests/{backtest_id}", headers=headers).json()
        assert (row["status"], row["error"]) == ("failed", "interrupted by a restart")
        assert row["finished_at"] is not None and row["result"] is None
        # What was accepted and never started runs now, as would a new one.
        again = queued
        deadline = time.monotonic() + 30
        while (row := http.get(f"/api/v1/backtests/{again}", headers=headers).json())["status"] != "done":
            assert row["status"] != "failed", row["error"]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert row["progress"] == 1.0
