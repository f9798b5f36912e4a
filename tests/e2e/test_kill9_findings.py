"""Defects found by killing the real server (kill -9) and restarting it in odd moments, each staged
deterministically here: through the real ccxt client against the fake exchange, on SQLite and
PostgreSQL.

Paper accounts on an exchange's prices (TRADEWIRE_PAPER_PRICES_FROM): a restart while the exchange
answers 503 (its JSON error body) put the paper market back on the simulation (BTC/USDT at 65,000
while the exchange had 60,000), and the exit monitor took every open position's profit at that price
within a second; an outage of the exchange while running did the same. The market now holds the
exchange's last price until it answers again.

Live accounts: a sell or exit alert decided while the exchange did not answer (its market list not
loaded yet after a restart during an outage, no price, its circuit open) was rejected for good, and
the position stayed open although the strategy was flat. An exit now waits for the exchange.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tests.e2e.test_live_exchange import _start
from tests.fakes.exchange import FakeExchange
from tests.seeding import paper_account
from tests.support import make_runtime, now, seed_marketplace, subscription_columns
from tradewire.adapters.live import guards
from tradewire.adapters.secrets_box import generate_key
from tradewire.adapters.store.tables import exchange_accounts, execution_intents, orders, positions
from tradewire.runtime import Runtime

pytestmark = pytest.mark.slow

LIVE = Decimal(60_000)  # the exchange's BTC/USDT; the simulation starts at 65,000
EXITS = {"stop_loss_pct": "2", "take_profit_pct": "3"}  # stop 58,800, target 61,800


async def _until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _runtime(tmp_path: Path, engine: Engine, fake: FakeExchange) -> Runtime:
    return make_runtime(
        tmp_path,
        engine.url.render_as_string(hide_password=False),
        paper_prices_from="binance",
        paper_prices_urls=fake.ccxt_urls(),
        paper_prices_interval_s=0.1,
        feed_interval_s=0.1,
        monitor_interval_s=0.1,
        exchange_timeout_ms=500,
    )


def _rows(engine: Engine, table: object) -> list[object]:
    with engine.connect() as conn:
        return list(conn.execute(select(table).order_by(table.c.id)))  # type: ignore[attr-defined]


def _exchange_down(fake: FakeExchange) -> None:
    """Every request answered 503 with the exchange's own JSON error body."""
    fake.fail_next("*", "", status=503, times=1_000_000, body=fake.server_error_body(503, "json"))


async def _alert(runtime: Runtime, slug: str, action: str, at: str) -> None:
    alert = {"passphrase": "abcdefgh", "ticker": "BTCUSDT", "action": action, "time": at}
    body = json.dumps(alert).encode()
    await runtime.ingest.receive_tradingview(slug, body, "application/json", None)
    await runtime.bus.drain()


async def _holding_a_position(runtime: Runtime, engine: Engine, slug: str) -> None:
    """A buy filled at the exchange's price, its stop and target armed."""
    await _until(
        lambda: runtime.feed.last_price("BTC/USDT") == LIVE, "the paper market to follow the exchange"
    )
    await _alert(runtime, slug, "buy", "2026-01-15T14:30:00Z")
    await _until(
        lambda: [(p.status, p.take_profit) for p in _rows(engine, positions)] == [("open", Decimal(61_800))],
        "the position with its target",
    )


async def test_a_restart_while_the_exchange_answers_503_keeps_paper_positions_at_its_last_price(
    tmp_path: Path, engine: Engine
) -> None:
    with FakeExchange("binance", prices={"BTC/USDT": str(LIVE), "ETH/USDT": "3000"}) as fake:
        runtime = _runtime(tmp_path, engine, fake)
        seeded = seed_marketplace(engine, [{"exit_rules": EXITS}])
        await runtime.start()
        try:
            await _holding_a_position(runtime, engine, seeded.slug)
            await asyncio.sleep(0.5)  # five steps of the paper market
        finally:
            await runtime.stop()

        _exchange_down(fake)
        restarted = _runtime(tmp_path, engine, fake)
        await restarted.start()
        try:
            await asyncio.sleep(1.0)  # ten rounds of the exit monitor
            price, source = restarted.feed.last_price("BTC/USDT"), restarted.feed.source("BTC/USDT")
        finally:
            await restarted.stop()

    assert [o.side for o in _rows(engine, orders)] == ["buy"]  # nothing sold at a price never seen
    assert [p.status for p in _rows(engine, positions)] == ["open"]
    assert price == LIVE and source.startswith("live:binance (last price")


async def test_an_exchange_outage_while_running_neither_fires_exits_nor_fills_at_another_markets_price(
    tmp_path: Path, engine: Engine
) -> None:
    with FakeExchange("binance", prices={"BTC/USDT": str(LIVE), "ETH/USDT": "3000"}) as fake:
        runtime = _runtime(tmp_path, engine, fake)
        seeded = seed_marketplace(engine, [{"exit_rules": EXITS}])
        await runtime.start()
        try:
            await _holding_a_position(runtime, engine, seeded.slug)
            _exchange_down(fake)
            await asyncio.sleep(1.5)  # fifteen price refreshes and rounds of the exit monitor
            # Nothing sold at another market's price (the simulation's, 65,000), and the price held.
            assert [o.side for o in _rows(engine, orders)] == ["buy"]
            assert runtime.feed.last_price("BTC/USDT") == LIVE
            # An entry meanwhile fills at that price too.
            await _alert(runtime, seeded.slug, "buy", "2026-01-15T14:31:00Z")
            await _until(
                lambda: [o.state for o in _rows(engine, orders)] == ["filled", "filled"], "the second buy"
            )
            added = _rows(engine, orders)[1].average
            # The exchange answers again, above the target: the target is taken at its price.
            fake.clear_faults()
            fake.set_price("BTC/USDT", "61900")
            await _until(
                lambda: [p.status for p in _rows(engine, positions)] == ["closed"], "the target to be taken"
            )
        finally:
            await runtime.stop()

    assert added == LIVE
    [sold] = [o for o in _rows(engine, orders) if o.side == "sell"]
    assert (sold.close_reason, sold.average) == ("TP", Decimal(61_900))


async def test_a_sell_alert_after_a_restart_while_the_exchange_does_not_answer_waits_and_closes_the_position(
    tmp_path: Path, engine: Engine, fake: FakeExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The account's circuit opens during the outage: its pause shortened from 30 s to 0.3 s.
    monkeypatch.setattr(guards, "CircuitBreaker", functools.partial(guards.CircuitBreaker, cooldown_s=0.3))
    url = engine.url.render_as_string(hide_password=False)
    key = generate_key()
    live = await _start(tmp_path, fake, database_url=url, key=key)
    # A paper subscriber of the strategy on another pair: the paper market resolves the alerts' ticker
    # while the exchange's list cannot be loaded.
    [provider] = [a.user_id for a in live.rows(exchange_accounts)]
    paper = live.runtime.members.create_account(paper_account(provider, name="paper-eth"))
    strategy = live.runtime.store.webhook_strategy(live.slug)
    assert strategy is not None
    live.runtime.members.create_subscription(
        subscription_columns(provider, paper, now(), strategy_id=strategy.strategy_id, pairs=["ETH/USDT"])
    )
    try:
        await live.alert("buy")
        await live.until(lambda: [p.status for p in live.rows(positions)] == ["open"])
    finally:
        await live.runtime.stop()
    _exchange_down(fake)  # and across the restart: no market list, no price
    live = await _start(tmp_path, fake, database_url=url, key=key, seed=False, markets_retry_s=0.2)
    try:
        await live.alert("sell")
        await asyncio.sleep(1.5)  # seven sweeps
        [_, waiting] = live.rows(execution_intents)
        assert waiting.status == "created", waiting.reason  # not rejected: it waits for the exchange
        assert waiting.reason.startswith("waiting for the exchange (try ")
        fake.clear_faults()
        await live.until(lambda: [p.status for p in live.rows(positions)] == ["closed"])
    finally:
        await live.runtime.stop()

    assert "markets could not be loaded" in waiting.reason
    assert [(o.side, o.state) for o in live.rows(orders)] == [("buy", "filled"), ("sell", "filled")]
    assert [i.status for i in live.rows(execution_intents)] == ["done", "done"]
    live.agrees_with_exchange()
