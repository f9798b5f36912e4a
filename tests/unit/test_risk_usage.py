"""Risk usage for the dashboard: the entry rules' own numbers and verdicts, per subscription, for its
owner only; equity from the account's exchange in the quote of the markets it trades (as the executor
sizes), or why it is missing; every subscription reached by pages of bounded work."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradewire.domain.balances import Valuation
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.markets import Market
from tradewire.domain.members import Account, AccountMode, Subscription
from tradewire.domain.records import Page, RiskKeys, RiskSnapshot
from tradewire.domain.risk import RiskContext, RiskLimits, TradingState, assess_entry, drawdown_pct, usage
from tradewire.domain.sizing import SizingMode
from tradewire.ports import ExchangeUnavailable
from tradewire.services.risk_usage import MAX_PAGE, MAX_VALUATIONS, RiskUsage
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
        self.quotes: list[tuple[int, str]] = []

    async def balance(self, account_id: int, exchange: str, mode: str, quote: str) -> AccountBalance:
        self.asked.append(account_id)
        self.quotes.append((account_id, quote))
        value = self.equity[account_id]
        if value is None:
            raise BalanceUnavailable("exchange did not answer", timed_out=True)
        return AccountBalance({}, Valuation(quote, value, {}, {}), NOW)


class Clock:
    def now(self) -> datetime:
        return NOW


def market(symbol: str, quote: str) -> Market:
    return Market(
        symbol, symbol.replace("/", ""), symbol.split("/")[0], quote, Decimal("0.001"), Decimal("0.01")
    )


class Venue:
    def __init__(self, markets: dict[str, Market]) -> None:
        self._markets = markets

    async def markets(self) -> dict[str, Market]:
        return self._markets


class Directory:
    """Every account's venue lists `markets`; an account in `down` has an unreachable exchange."""

    def __init__(self, markets: dict[str, Market] | None = None, down: set[int] | None = None) -> None:
        self.venue = Venue(markets or {})
        self.down = down or set()

    def for_account(self, account_id: int, exchange: str, mode: str) -> Venue:
        if account_id in self.down:
            raise ExchangeUnavailable("unreachable")
        return self.venue


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
    risk = RiskUsage(accounts, subs, reads, balances, Directory(), Clock(), "USDT")  # type: ignore[arg-type]
    return risk, reads, balances


SNAP = RiskSnapshot(
    per_subscription={5: 2, 6: 1, 8: 9},
    per_account={10: 3, 11: 1, 20: 9},
    realized_today={10: Decimal(-60), 20: Decimal(-500)},
)


@pytest.mark.asyncio
async def test_each_limit_is_measured_by_the_rule_itself() -> None:
    risk, reads, balances = service(SNAP, {10: Decimal(1000), 11: None})
    page = await risk.of(1)
    found = page.found
    assert page.as_of == NOW and page.next_before_id is None
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
    found = (await risk.of(1)).found
    six = found[0]
    assert six.equity is None and six.equity_error == "exchange did not answer"
    limits = {u.rule: u for u in six.limits}
    assert limits["daily_loss"].limit is None and limits["daily_loss"].used == 0
    assert limits["daily_loss"].passed


@pytest.mark.asyncio
async def test_another_users_subscriptions_and_accounts_are_not_read() -> None:
    risk, reads, balances = service(SNAP, {10: Decimal(1000), 11: Decimal(5), 20: Decimal(1)})
    found = (await risk.of(2)).found
    assert [r.subscription.id for r in found] == [8]
    assert reads.keys[0].account_ids == [20] and balances.asked == [20]
    assert (await risk.of(3)).found == []


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


def one_user(
    subs: list[Subscription], accounts: list[Account], directory: Directory, snap: RiskSnapshot = SNAP
) -> tuple[RiskUsage, Balances]:
    balances = Balances(dict.fromkeys((a.id for a in accounts), Decimal(1000)))
    risk = RiskUsage(
        Owned({1: accounts}),
        Owned({1: subs}),
        Reads(snap),
        balances,
        directory,  # type: ignore[arg-type]
        Clock(),
        "USDT",
    )
    return risk, balances


@pytest.mark.asyncio
async def test_equity_is_valued_in_the_quote_of_the_markets_a_subscription_trades() -> None:
    # The executor sizes a BTC/EUR entry on the account's equity in EUR: the usage measures it so.
    directory = Directory({"BTC/EUR": market("BTC/EUR", "EUR"), "ETH/EUR": market("ETH/EUR", "EUR")})
    subs = [
        subscription(5, 10, pairs=["BTC/EUR", "ETH/EUR"]),
        subscription(6, 10, pairs=["BTC/EUR", "BTC/USDC"]),  # USDC: not listed, the symbol says it
        subscription(7, 10),  # no pair filter: the quotes of its open positions
        subscription(8, 10),  # nothing known: the default quote
    ]
    snap = RiskSnapshot(subscription_symbols={7: ["SOL/BTC", "ETH/BTC"]})
    risk, balances = one_user(subs, [account(10, "alice")], directory, snap)
    page = await risk.of(1)
    assert [(r.subscription.id, r.quote, r.symbols) for r in page.found] == [
        (8, "USDT", ()),
        (7, "BTC", ("ETH/BTC", "SOL/BTC")),
        (6, "EUR", ("BTC/EUR",)),
        (6, "USDC", ("BTC/USDC",)),
        (5, "EUR", ("BTC/EUR", "ETH/EUR")),
    ]
    # One valuation per (account, quote), however many subscriptions share it.
    assert sorted(balances.quotes) == [(10, "BTC"), (10, "EUR"), (10, "USDC"), (10, "USDT")]


@pytest.mark.asyncio
async def test_an_unreachable_market_list_falls_back_to_the_symbols_quote() -> None:
    risk, balances = one_user(
        [subscription(5, 10, pairs=["BTC/EUR"])], [account(10, "alice")], Directory(down={10})
    )
    [found] = (await risk.of(1)).found
    assert (found.quote, found.symbols) == ("EUR", ("BTC/EUR",)) and balances.quotes == [(10, "EUR")]


@pytest.mark.asyncio
async def test_pages_reach_every_subscription_with_bounded_work_each() -> None:
    # 250 subscriptions on 250 accounts: more than one page holds.
    accounts = [account(1000 + n, "alice") for n in range(250)]
    subs = [subscription(n + 1, 1000 + n) for n in range(250)]
    risk, balances = one_user(subs, accounts, Directory())
    seen: list[int] = []
    before: int | None = None
    pages = 0
    while True:
        asked = len(balances.asked)
        page = await risk.of(1, Page(1000, before))  # a larger limit is capped
        pages += 1
        assert len(balances.asked) - asked <= MAX_VALUATIONS
        assert len(page.found) <= MAX_PAGE
        seen += [r.subscription.id for r in page.found]
        before = page.next_before_id
        if before is None:
            break
    assert pages == 3
    assert seen == list(range(250, 0, -1))  # every one once, newest first


@pytest.mark.asyncio
async def test_a_page_stops_before_its_valuations_exceed_the_bound() -> None:
    # Each subscription trades in 30 quotes on its own account: 3 fit in 100 valuations, not 4.
    quotes = [f"Q{n}" for n in range(30)]
    accounts = [account(10 + n, "alice") for n in range(5)]
    subs = [subscription(n + 1, 10 + n, pairs=[f"BTC/{q}" for q in quotes]) for n in range(5)]
    risk, balances = one_user(subs, accounts, Directory())
    first = await risk.of(1, Page(10))
    assert {r.subscription.id for r in first.found} == {5, 4, 3} and first.next_before_id == 3
    assert len(balances.quotes) == 90
    second = await risk.of(1, Page(10, first.next_before_id))
    assert {r.subscription.id for r in second.found} == {2, 1} and second.next_before_id is None


@pytest.mark.asyncio
async def test_a_subscription_whose_limits_cannot_be_read_is_left_out_and_the_others_answer() -> None:
    """Limits stored by hand or an older version ("max_positions_total": a list) never fail the page."""
    risk, _, _ = service(SNAP, {10: Decimal(1000), 11: Decimal(5)})
    spoiled = subscription(9, 10, risk_limits={"max_positions_total": [], "daily_loss_pct": "lots"})
    risk.subscriptions.rows[1].insert(0, spoiled)  # type: ignore[attr-defined]

    found = (await risk.of(1)).found

    assert sorted(r.subscription.id for r in found) == [5, 6]
