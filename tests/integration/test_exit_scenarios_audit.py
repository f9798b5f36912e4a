"""Prices set by hand against the exit monitor, as a trader checks it: a price exactly at a level,
a trailing stop's activation reached exactly, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine

from tests.integration.test_exit_monitor import _rows, _running
from tradewire.adapters.store.tables import execution_log, orders, positions


async def test_a_price_exactly_at_the_trailing_stop_closes_the_position(
    engine: Engine, tmp_path: Path
) -> None:
    # Best price 60,000 and a 7 % trailing stop: the stop is at 55,800 exactly (60,000 × 0.93).
    async with _running(engine, tmp_path, {"exit_rules": {"trailing_pct": "7"}}) as monitored:
        await monitored.alert()
        assert await monitored.tick("60000") == 0
        assert await monitored.tick("55800.01") == 0  # a cent above the stop: nothing
        assert await monitored.tick("55800") == 1  # at the stop
    [position] = _rows(engine, positions)
    assert position.status == "closed" and position.close_reason == "TRAILING"
    sell = next(o for o in _rows(engine, orders) if o.side == "sell")
    assert sell.average == Decimal("55800")
    [entry] = [r for r in _rows(engine, execution_log) if r.order_id == sell.id]
    assert "TRAILING: trailing stop at 55800, price 55800" in entry.reason


async def test_a_best_price_exactly_at_the_activation_price_starts_the_trailing_stop(
    engine: Engine, tmp_path: Path
) -> None:
    # Entry 50,000; the trailing stop (5 %) starts once the price has made 10 %: at 55,000 exactly.
    rules = {"trailing_pct": "5", "trailing_activation_pct": "10"}
    async with _running(engine, tmp_path, {"exit_rules": rules}) as monitored:
        await monitored.alert()
        assert await monitored.tick("55000") == 0  # activated, not hit
        assert await monitored.tick("52250.01") == 0
        assert await monitored.tick("52250") == 1  # 5 % below 55,000
    [position] = _rows(engine, positions)
    assert position.status == "closed" and position.close_reason == "TRAILING"


async def test_a_short_of_the_activation_price_never_starts_the_trailing_stop(
    engine: Engine, tmp_path: Path
) -> None:
    rules = {"trailing_pct": "5", "trailing_activation_pct": "10"}
    async with _running(engine, tmp_path, {"exit_rules": rules}) as monitored:
        await monitored.alert()
        assert await monitored.tick("54999.99") == 0  # a cent short of 10 %
        assert await monitored.tick("45000") == 0  # never started: a fall does not trigger it
    [position] = _rows(engine, positions)
    assert position.status == "open"


async def test_a_stop_hit_while_halted_goes_out_on_the_first_tick_after_the_owner_resumes(
    engine: Engine, tmp_path: Path
) -> None:
    async with _running(engine, tmp_path, {"exit_rules": {"stop_loss_pct": "2"}}) as monitored:
        await monitored.alert()
        [position] = _rows(engine, positions)
        members = monitored.runtime.members
        members.update_subscription(position.user_id, position.subscription_id, {"trading_state": "HALTED"})
        assert await monitored.tick("48500") == 0  # through the stop, but no orders at all while HALTED
        assert await monitored.tick() == 0
        members.update_subscription(position.user_id, position.subscription_id, {"trading_state": "ACTIVE"})
        # Still below the stop: the exit goes out at once, not after the monitor's next full reload.
        assert await monitored.tick() == 1
    [position] = _rows(engine, positions)
    assert position.status == "closed" and position.close_reason == "SL"


async def test_an_adaptive_dca_gap_buys_more_but_never_beyond_the_size_the_entry_was_approved_for(
    engine: Engine, tmp_path: Path
) -> None:
    # 300 USDT in three adaptive tranches (1:2:3), the largest entry allowed 300 USDT. The price gaps
    # from 50,000 straight through both triggers (49,000 and 48,000) to 46,000.
    spec = {
        "sizing_value": "300",
        "dca": {"mode": "adaptive", "tranches": 3, "step_pct": "2"},
        "risk_limits": {"max_position_quote": "300", "cooldown_s": 0},
    }
    async with _running(engine, tmp_path, spec) as monitored:
        await monitored.alert()
        assert await monitored.tick("46000") == 1
        assert await monitored.tick() == 1
        assert await monitored.tick() == 0  # every tranche bought once
    buys = [o for o in _rows(engine, orders) if o.side == "buy"]
    assert [(o.tranche, o.state) for o in buys] == [(None, "filled"), (2, "filled"), (3, "filled")]
    spent = sum((o.filled * o.average for o in buys), Decimal(0))
    [position] = _rows(engine, positions)
    assert position.amount > Decimal("0.006")  # the gap bought more than the plan's 0.006 BTC ...
    assert spent <= Decimal("300")  # ... within the 300 USDT the entry was sized and approved for
