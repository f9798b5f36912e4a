"""Subscriptions without a database: what may be subscribed, pair filters checked at the account's own
venue, and what a change does."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

import pytest

from tests.fakes.memory_members import Desk, desk
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import (
    AccountMode,
    Conflict,
    Invalid,
    NotFound,
    SubscriptionChanges,
    SubscriptionSettings,
    Unavailable,
    User,
)
from tradewire.domain.risk import RiskLimits, TradingState
from tradewire.domain.sizing import SizingMode, SizingParams
from tradewire.domain.tranches import DcaMode, DcaPlan
from tradewire.ports import ExchangeUnavailable
from tradewire.services.members.accounts import AccountRequest
from tradewire.services.members.strategies import StrategyRequest
from tradewire.services.members.subscriptions import SubscriptionRequest

DCA = DcaPlan(DcaMode.EQUAL, 3, Decimal(2))


@dataclass
class Setup:
    d: Desk
    alice: User
    bob: User
    strategy_id: int  # alice's, private
    paper_id: int  # alice's paper account
    live_id: int  # alice's binance account


async def setup() -> Setup:
    d = desk()
    alice, bob = d.user("alice"), d.user("bob")
    strategy = (await d.market.strategies.publish(alice.id, StrategyRequest("S"))).strategy
    paper = await d.market.accounts.open(alice.id, AccountRequest("paper"))
    live = await d.market.accounts.open(
        alice.id, AccountRequest("live", "binance", AccountMode.LIVE, api_key="k", api_secret="s")
    )
    return Setup(d, alice, bob, strategy.id, paper.id, live.id)


async def test_another_users_private_strategy_or_account_is_not_found() -> None:
    s = await setup()
    bobs_account = await s.d.market.accounts.open(s.bob.id, AccountRequest("paper"))

    with pytest.raises(NotFound, match=f"no strategy {s.strategy_id}"):
        await s.d.market.subscriptions.subscribe(
            s.bob.id, SubscriptionRequest(s.strategy_id, bobs_account.id)
        )
    with pytest.raises(NotFound, match=f"no exchange account {s.paper_id + 99}"):
        await s.d.market.subscriptions.subscribe(
            s.alice.id, SubscriptionRequest(s.strategy_id, s.paper_id + 99)
        )
    with pytest.raises(NotFound):
        await s.d.market.subscriptions.subscribe(
            s.alice.id, SubscriptionRequest(s.strategy_id, bobs_account.id)
        )

    assert s.d.members.subscriptions_ == {}


async def test_a_pair_filter_names_markets_of_the_paper_market_or_of_the_live_exchange() -> None:
    s = await setup()
    subs = s.d.market.subscriptions

    with pytest.raises(Invalid, match=r"unknown pairs on paper: \['SOL/USDT'\]"):
        await subs.subscribe(s.alice.id, SubscriptionRequest(s.strategy_id, s.paper_id, ["SOL/USDT"]))
    with pytest.raises(Invalid, match=r"unknown pairs on binance: \['ETH/USDT'\]"):
        await subs.subscribe(s.alice.id, SubscriptionRequest(s.strategy_id, s.live_id, ["ETH/USDT"]))
    live = await subs.subscribe(s.alice.id, SubscriptionRequest(s.strategy_id, s.live_id, ["SOL/USDT"]))

    assert (live.pairs, live.mode, live.status) == (["SOL/USDT"], AccountMode.LIVE, SubscriptionStatus.ACTIVE)


async def test_a_live_exchange_that_cannot_list_its_markets_makes_the_check_unavailable() -> None:
    s = await setup()
    request = SubscriptionRequest(s.strategy_id, s.live_id, ["SOL/USDT"])
    s.d.directory.error = ExchangeUnavailable("binance is down")

    with pytest.raises(Unavailable, match="cannot check the pairs: binance markets could not be loaded"):
        await s.d.market.subscriptions.subscribe(s.alice.id, request)
    s.d.directory.error = None
    s.d.directory.hang = True
    with pytest.raises(Unavailable, match="cannot check the pairs"):
        await s.d.market.subscriptions.subscribe(s.alice.id, request)

    assert s.d.members.subscriptions_ == {}


async def test_settings_are_kept_as_their_domain_types_write_them() -> None:
    s = await setup()
    request = SubscriptionRequest(
        s.strategy_id,
        s.paper_id,
        sizing_mode=SizingMode.EQUITY_PCT,
        sizing_value=Decimal("2.5"),
        settings=SubscriptionSettings(
            risk_limits=RiskLimits(daily_loss_pct=Decimal("3")), dca=DcaPlan(DcaMode.EQUAL, 3, Decimal(2))
        ),
    )

    made = await s.d.market.subscriptions.subscribe(s.alice.id, request)

    assert (made.sizing_mode, made.sizing_value) == (SizingMode.EQUITY_PCT, Decimal("2.5"))
    assert made.risk_limits == RiskLimits(daily_loss_pct=Decimal("3")).as_json()
    assert made.dca == {"mode": "equal", "tranches": 3, "step_pct": "2"}
    assert made.exit_rules is None


async def test_a_change_needs_something_to_change_and_not_both_dca_and_no_dca() -> None:
    s = await setup()
    subs = s.d.market.subscriptions
    made = await subs.subscribe(s.alice.id, SubscriptionRequest(s.strategy_id, s.paper_id))
    both = SubscriptionChanges(settings=SubscriptionSettings(dca=DCA), no_dca=True)

    with pytest.raises(Invalid, match="nothing to change"):
        await subs.change(s.alice, made.id, SubscriptionChanges())
    with pytest.raises(Invalid, match="give either dca or no_dca, not both"):
        await subs.change(s.alice, made.id, both)
    with pytest.raises(NotFound, match=f"no subscription {made.id}"):
        await subs.change(s.bob, made.id, SubscriptionChanges(status=SubscriptionStatus.PAUSED))

    assert await subs.get(s.alice.id, made.id) == made


async def test_new_sizing_params_are_checked_against_the_current_sizing_mode() -> None:
    s = await setup()
    subs = s.d.market.subscriptions
    request = SubscriptionRequest(
        s.strategy_id,
        s.paper_id,
        sizing_mode=SizingMode.RISK_PCT,
        sizing_value=Decimal(1),
        settings=SubscriptionSettings(sizing_params=SizingParams(stop_loss_pct=Decimal(2))),
    )
    made = await subs.subscribe(s.alice.id, request)

    with pytest.raises(Invalid, match="risk-based sizing needs stop_loss_pct"):
        await subs.change(
            s.alice, made.id, SubscriptionChanges(settings=SubscriptionSettings(sizing_params=SizingParams()))
        )
    wider = await subs.change(
        s.alice,
        made.id,
        SubscriptionChanges(
            settings=SubscriptionSettings(sizing_params=SizingParams(stop_loss_pct=Decimal(5)))
        ),
    )

    assert wider.sizing_params == SizingParams(stop_loss_pct=Decimal(5)).to_json()


async def test_resuming_trading_restarts_the_drawdown_and_says_who_did_it() -> None:
    s = await setup()
    made = await s.d.market.subscriptions.subscribe(
        s.alice.id, SubscriptionRequest(s.strategy_id, s.paper_id)
    )
    s.d.members.subscriptions_[made.id] = replace(made, pnl_total=Decimal(-40), pnl_peak=Decimal(10))

    reducing = await s.d.market.subscriptions.change(
        s.alice, made.id, SubscriptionChanges(trading_state=TradingState.REDUCING)
    )
    active = await s.d.market.subscriptions.change(
        s.alice, made.id, SubscriptionChanges(trading_state=TradingState.ACTIVE)
    )

    assert (reducing.state_reason, reducing.pnl_peak) == ("set to REDUCING by alice", Decimal(10))
    assert (active.state_reason, active.pnl_peak) == ("set to ACTIVE by alice", Decimal(-40))


async def test_all_pairs_drops_the_filter_and_no_dca_the_tranches() -> None:
    s = await setup()
    request = SubscriptionRequest(
        s.strategy_id, s.paper_id, ["BTC/USDT"], settings=SubscriptionSettings(dca=DCA)
    )
    made = await s.d.market.subscriptions.subscribe(s.alice.id, request)

    changed = await s.d.market.subscriptions.change(
        s.alice, made.id, SubscriptionChanges(all_pairs=True, no_dca=True)
    )

    assert (changed.pairs, changed.dca) == (None, None)


async def test_a_cancelled_subscription_never_changes_again() -> None:
    s = await setup()
    made = await s.d.market.subscriptions.subscribe(
        s.alice.id, SubscriptionRequest(s.strategy_id, s.paper_id)
    )
    cancel = SubscriptionChanges(status=SubscriptionStatus.CANCELLED)
    await s.d.market.subscriptions.change(s.alice, made.id, cancel)

    with pytest.raises(Conflict, match="a cancelled subscription cannot change"):
        await s.d.market.subscriptions.change(
            s.alice, made.id, SubscriptionChanges(status=SubscriptionStatus.ACTIVE)
        )

    assert (await s.d.market.subscriptions.get(s.alice.id, made.id)).status is SubscriptionStatus.CANCELLED


async def test_telegram_confirmation_is_refused_where_the_server_runs_no_bot() -> None:
    from tradewire.domain.confirmation import ConfirmVia, TradeConfirmation

    s = await setup()
    asks = TradeConfirmation(ConfirmVia.TELEGRAM)
    request = SubscriptionRequest(s.strategy_id, s.paper_id, confirmation=asks)
    subscriptions = replace(s.d.market.subscriptions, telegram_bot=False)

    with pytest.raises(Invalid, match="needs this server's Telegram bot"):
        await subscriptions.subscribe(s.alice.id, request)
    made = await subscriptions.subscribe(s.alice.id, replace(request, confirmation=TradeConfirmation()))
    with pytest.raises(Invalid, match="needs this server's Telegram bot"):
        await subscriptions.change(s.alice, made.id, SubscriptionChanges(confirmation=ConfirmVia.TELEGRAM))
    dashboard = await subscriptions.change(
        s.alice, made.id, SubscriptionChanges(confirmation=ConfirmVia.DASHBOARD)
    )
    assert dashboard.confirmation is ConfirmVia.DASHBOARD
    assert (await s.d.market.subscriptions.subscribe(s.alice.id, replace(request, account_id=s.live_id))).id
