"""Risk usage for the dashboard: the entry rules' own numbers and verdicts, per subscription, for its
owner only; equity from the account's exchange, or why it is missing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradewire.domain.balances import Valuation
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import Account, AccountMode, Subscription
from tradewire.domain.records import RiskKeys, RiskSnapshot
from tradewire.domain.risk import RiskContext, RiskLimits, TradingState, assess_entry, drawdown_pct, usage
from tradewire.domain.sizing import SizingMode
from tradewire.services.risk_usage import RiskUsage
from tradewire.services.valuation import AccountBalance, BalanceUnavailable

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)


def account(id_: int, user: str) -> Account:
    return Account(id_, f"{user}-{id_}", "paper", AccountMode.PAPER, False, None, False, NOW)


def subscription(id_: int, account_id: int, **fields: object) -> Subscription:
    values: dict[str, object] = {
        "id": id_,
        "strategy_id": 1,
        "strategy_slug": "trend",
        "account_id": account_id,
        "account_name": f"acc-{account_id}",
        "mode": AccountMode.PAPER,
        "status": SubscriptionStatus.ACTIVE,
        "pairs": None,
        "sizing_mode": SizingMode.FIXED_QUOTE,
        "sizing_value": Decimal(100),
        "sizing_params": None,
        "risk_limits": None,
        "exit_rules": None,
        "dca": None,
        "entry_order": None,
        "trading_state": TradingState.ACTIVE,
        "state_reason": None,
        "pnl_total": Decimal(0),
        "pnl_peak": Decimal(0),
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(fields)
    return Subscription(**values)  # type: ignore[arg-type]


class Owned:
    def __init__(self, rows: dict[int, list]) -> None:  # type: ignore[type-arg]
        self.rows = rows

    async def owned(self, user_id: int) -> list:  # type: ignore[type-arg]
        return list(self.rows.get(user_id, []))


class Reads:
    def __init__(self, snap: RiskSnapshot) -> None:
        self.snap = snap
        self.keys: list[RiskKeys] = []

    def risk_snapshot(self, keys: RiskKeys) -> RiskSnapshot:
        self.keys.append(keys)
        return self.snap


class Balances:
    def __init__(self, equity: dict[int, Decimal | None]) -> None:
        self.equity = equity
        self.asked: list[int] = []

    async def balance(self, account_id: int, exchange: str, mode: str, quote: str) -> AccountBalance:
        self.asked.append(account_id)
        value = self.equity[account_id]
        if value is None:
            raise BalanceUnavailable("exchange did not answer", timed_out=True)
        return AccountBalance({}, Valuation(quote, value, {}, {}), NOW)


class Clock:
    def now(self) -> datetime:
        return NOW


def service(snap: RiskSnapshot, equity: dict[int, Decimal | None]) -> tuple[RiskUsage, Reads, Balances]:
    reads, balances = Reads(snap), Balances(equity)
    accounts = Owned({1: [account(10, "alice"), account(11, "alice")], 2: [account(20, "bob")]})
    subs = Owned(
        {
            1: [
                subscription(
                    5,
                    10,
                    risk_limits={
                        "daily_loss_pct": "5",
                        "max_positions_per_strategy": 2,
                        "drawdown_pause_pct": "20",
                    },
                    pnl_peak=Decimal(100),
                    pnl_total=Decimal(-100),
                ),
                subscription(6, 11),
                subscription(7, 10, status=SubscriptionStatus.CANCELLED),
            ],
            2: [subscription(8, 20)],
        }
    )
    return RiskUsage(accounts, subs, reads, balances, Clock(), "USDT"), reads, balances  # type: ignore[arg-type]


SNAP = RiskSnapshot(
    per_subscription={5: 2, 6: 1, 8: 9},
    per_account={10: 3, 11: 1, 20: 9},
    realized_today={10: Decimal(-60), 20: Decimal(-500)},
)


@pytest.mark.asyncio
async def test_each_limit_is_measured_by_the_rule_itself() -> None:
    risk, reads, balances = service(SNAP, {10: Decimal(1000), 11: None})
    as_of, found = await risk.of(1)
    assert as_of == NOW
    assert [r.subscription.id for r in found] == [6, 5]  # newest first, the cancelled one left out
    five = {u.rule: u for u in found[1].limits}
    assert found[1].equity == Decimal(1000) and found[1].equity_error is None
    # 5 % of 1,000 equity is 50: 60 lost today refuses entries, as the daily loss rule does.
    assert (five["daily_loss"].used, five["daily_loss"].limit, five["daily_loss"].passed) == (
        Decimal(60),
        Decimal(50),
        False,
    )
    assert five["daily_loss"].detail == "lost 60 today, limit 50 until 00:00 UTC"
    # 200 lost from the peak on 1,000 equity now: 200 / 1,200 = 16.7 %, under the 20 % pause.
    assert five["drawdown"].used is not None and round(five["drawdown"].used, 1) == Decimal("16.7")
    assert (five["drawdown"].limit, five["drawdown"].warn, five["drawdown"].passed) == (
        Decimal(20),
        Decimal(15),
        True,
    )
    assert (five["positions_per_strategy"].used, five["positions_per_strategy"].limit) == (2, 2)
    assert not five["positions_per_strategy"].passed  # a third would pass the limit
    assert (five["positions_total"].used, five["positions_total"].limit, five["positions_total"].passed) == (
        3,
        50,
        True,
    )
    # Only Alice's accounts were read and valued, for today.
    assert reads.keys == [RiskKeys([10, 11], "2026-03-04")]
    assert sorted(balances.asked) == [10, 11]


@pytest.mark.asyncio
async def test_missing_equity_is_said_and_leaves_percent_limits_unbounded() -> None:
    risk, _, _ = service(SNAP, {10: Decimal(1000), 11: None})
    _, found = await risk.of(1)
    six = found[0]
    assert six.equity is None and six.equity_error == "exchange did not answer"
    limits = {u.rule: u for u in six.limits}
    assert limits["daily_loss"].limit is None and limits["daily_loss"].used == 0
    assert limits["daily_loss"].passed


@pytest.mark.asyncio
async def test_another_users_subscriptions_and_accounts_are_not_read() -> None:
    risk, reads, balances = service(SNAP, {10: Decimal(1000), 11: Decimal(5), 20: Decimal(1)})
    _, found = await risk.of(2)
    assert [r.subscription.id for r in found] == [8]
    assert reads.keys[0].account_ids == [20] and balances.asked == [20]
    _, none = await risk.of(3)
    assert none == []


@pytest.mark.parametrize(
    ("today", "open_sub", "open_acc", "peak", "total"),
    [(Decimal(-49), 1, 1, Decimal(0), Decimal(0)), (Decimal(-50), 19, 49, Decimal(300), Decimal(0))],
)
def test_usage_verdicts_agree_with_the_entry_assessment(
    today: Decimal, open_sub: int, open_acc: int, peak: Decimal, total: Decimal
) -> None:
    limits = RiskLimits(cooldown_s=0, min_risk_reward=None)
    equity = Decimal(1000)
    context = RiskContext(
        open_sub, open_acc, today, equity, None, drawdown_pct=drawdown_pct(peak, total, equity)
    )
    shown = {u.rule: u.passed for u in usage(limits, context)}
    assessed = assess_entry(limits, context)
    assert set(shown) == {"daily_loss", "drawdown", "positions_per_strategy", "positions_total"}
    for rule, passed in shown.items():
        assert passed is not assessed.failed(rule)
    assert any(shown.values()) and (today <= -50) is not all(shown.values())
