"""Confirm before trade on the in-memory store and exchange: an approved entry waits with its proposal
instead of becoming an order; a confirm has it decided afresh (risk and sizing on the state of now,
refused when the price drifted too far); a decline or the deadline ends it with nothing traded; exits
never wait; each intent is answered once."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.fakes.world import World, world
from tradewire.domain.members import Conflict, NotFound, User
from tradewire.domain.signals import SignalAction
from tradewire.services.confirmations import Confirmations

ASKS: dict[str, Any] = {
    "confirmation": "api",
    "exit_rules": {"stop_loss_pct": "5", "take_profit_pct": "10"},
}


def _owner(w: World, number: int = 1) -> User:
    user_id = w.seeded.subscriber_ids[number - 1]
    return User(user_id, w.store.tables["users"][user_id]["username"], "")


def _confirmations(w: World) -> Confirmations:
    return Confirmations(w.store, w.bus, w.clock)


def _intent(w: World, intent_id: int = 1) -> dict[str, Any]:
    return w.store.tables["execution_intents"][intent_id]


async def _proposed(subscribers: list[dict[str, Any]] | None = None, **signal: Any) -> World:
    """A world whose first subscriber asks for confirmation, with a buy proposed to it."""
    w = world(subscribers or [ASKS])
    w.signal(**signal)
    assert await w.executor().execute_pending() == 0
    return w


async def test_an_approved_entry_waits_with_its_proposal_instead_of_becoming_an_order() -> None:
    w = world([ASKS, {}])  # the second subscriber does not ask
    w.signal(price=Decimal(100), details={"ticker": "BTCUSDT", "confidence": 0.73})

    sent = await w.executor().execute_pending()

    assert sent == 1
    assert [r.client_order_id for r in w.exchange.creates] == ["tw0000000002"]
    waiting = _intent(w)
    assert waiting["status"] == "awaiting_confirmation"
    assert waiting["confirm_by"] == w.clock.now() + timedelta(seconds=300)
    proposal = waiting["proposal"]
    assert {k: proposal[k] for k in ("symbol", "side", "amount", "order_type", "price")} == {
        "symbol": "BTC/USDT",
        "side": "buy",
        "amount": "1",
        "order_type": "market",
        "price": "100",
    }
    assert (proposal["stop_loss"], proposal["take_profit"], proposal["confidence"]) == ("95", "110", 0.73)
    assert {v["rule"] for v in proposal["risk"]} >= {"positions_total", "daily_loss", "risk_reward"}
    assert all(v["passed"] for v in proposal["risk"])
    assert proposal["sizing_note"].startswith("fixed 100 USDT; risk ok:")
    assert [r["status"] for r in w.rows("execution_log", intent_id=1)] == ["WAITING"]
    assert [r["id"] for r in w.rows("orders")] == [1]  # the other subscriber's only
    owner = w.seeded.subscriber_ids[0]
    [event] = [e for e in w.store.tables.events if e["user_id"] == owner and e["topic"] == "intents"][1:]
    assert event["type"] == "proposed"
    data = json.loads(event["data"])
    assert (data["status"], data["via"], data["proposal"]["amount"]) == ("awaiting_confirmation", "api", "1")


async def test_a_confirmed_entry_is_decided_again_and_ordered_once() -> None:
    w = await _proposed()

    answer = await _confirmations(w).confirm(_owner(w), 1)
    sent = await w.executor().execute_pending()
    again = await w.executor().execute_pending()

    assert (answer.won, answer.status, sent, again) == (True, "created", 1, 0)
    assert _intent(w)["status"] == "done" and _intent(w)["confirmed_at"] == w.clock.now()
    assert w.column("orders", "state", "amount") == [("filled", Decimal(1))]
    assert len(w.exchange.creates) == 1


async def test_a_second_confirm_or_a_decline_after_it_changes_nothing() -> None:
    w = await _proposed()
    confirmations = _confirmations(w)
    await confirmations.confirm(_owner(w), 1)

    with pytest.raises(Conflict, match="is created"):
        await confirmations.confirm(_owner(w), 1)
    with pytest.raises(Conflict, match="not awaiting confirmation"):
        await confirmations.decline(_owner(w), 1)
    await w.executor().execute_pending()

    assert len(w.exchange.creates) == 1


async def test_the_risk_rules_run_again_on_confirmation() -> None:
    w = await _proposed()
    # Since the proposal, the owner capped entries at 50 USDT: the 100 USDT entry is refused.
    w.set_subscription(1, risk_limits={"cooldown_s": 0, "max_position_quote": "50"})

    await _confirmations(w).confirm(_owner(w), 1)
    await w.executor().execute_pending()

    assert w.exchange.creates == []
    assert _intent(w)["status"] == "rejected"
    assert _intent(w)["reason"] == "rejected by risk: max_position_size: entry of 100, limit 50"


async def test_sizing_is_done_again_at_the_price_of_now() -> None:
    w = await _proposed([{**ASKS, "max_confirm_drift_pct": "5"}])
    w.exchange.prices["BTC/USDT"] = Decimal(104)  # within the 5 % allowed

    await _confirmations(w).confirm(_owner(w), 1)
    await w.executor().execute_pending()

    [request] = w.exchange.creates
    assert request.amount < Decimal(1)  # 100 USDT at 104 buys less than the 1 proposed at 100


async def test_a_confirmed_entry_is_refused_when_the_price_moved_too_far_from_the_signal() -> None:
    w = await _proposed(price=Decimal(100))
    w.exchange.prices["BTC/USDT"] = Decimal("101.5")

    await _confirmations(w).confirm(_owner(w), 1)
    await w.executor().execute_pending()

    assert w.exchange.creates == []
    assert _intent(w)["status"] == "rejected"
    assert _intent(w)["reason"] == (
        "price moved 1.50% since the signal (100 -> 101.5), more than the 1% allowed at "
        "confirmation: nothing traded"
    )


async def test_without_a_signal_price_the_drift_is_measured_from_the_proposal() -> None:
    w = await _proposed()  # the signal has no price: proposed at the market's 100
    w.exchange.prices["BTC/USDT"] = Decimal(98)

    await _confirmations(w).confirm(_owner(w), 1)
    await w.executor().execute_pending()

    assert w.exchange.creates == []
    assert "price moved 2.00% since the signal (100 -> 98)" in _intent(w)["reason"]


async def test_a_declined_entry_ends_rejected_and_nothing_trades() -> None:
    w = await _proposed()
    owner = _owner(w)

    answer = await _confirmations(w).decline(owner, 1)
    await w.executor().execute_pending()

    assert (answer.status, answer.reason) == ("rejected", f"declined by {owner.username}: nothing traded")
    assert w.exchange.creates == [] and w.rows("orders") == []
    with pytest.raises(Conflict, match="is rejected"):
        await _confirmations(w).confirm(owner, 1)
    assert [r["status"] for r in w.rows("execution_log")] == ["WAITING", "SKIPPED"]


async def test_a_confirm_after_the_deadline_is_refused_even_before_the_sweep() -> None:
    w = await _proposed()
    w.clock.advance(300)

    with pytest.raises(Conflict, match="not confirmed within 300 s: nothing traded"):
        await _confirmations(w).confirm(_owner(w), 1)
    await w.executor().execute_pending()

    assert _intent(w)["status"] == "rejected" and w.exchange.creates == []


async def test_the_sweep_expires_proposals_past_their_deadline_only() -> None:
    w = world([ASKS, {**ASKS, "confirmation": "telegram", "confirmation_timeout_s": 600}])
    w.signal()
    await w.executor().execute_pending()
    w.clock.advance(301)

    expired = await _confirmations(w).expire_due()

    assert expired == 1
    assert w.column("execution_intents", "status") == ["rejected", "awaiting_confirmation"]
    assert _intent(w)["reason"] == "not confirmed within 300 s: nothing traded"
    assert await _confirmations(w).expire_due() == 0


async def test_another_users_intent_is_not_found() -> None:
    w = await _proposed([ASKS, ASKS])

    with pytest.raises(NotFound):
        await _confirmations(w).confirm(_owner(w, 2), 1)
    assert _intent(w)["status"] == "awaiting_confirmation"


async def test_exits_never_wait_for_a_confirmation() -> None:
    w = world()
    w.signal()
    await w.executor().execute_pending()  # a position, bought without asking
    w.set_subscription(1, confirmation="api")

    w.signal(SignalAction.SELL, key="k2")
    await w.executor().execute_pending()

    assert [r.side.value for r in w.exchange.creates] == ["buy", "sell"]
    assert w.column("execution_intents", "status") == ["done", "done"]


@pytest.mark.parametrize("status", ["PAUSED", "CANCELLED"])
async def test_a_subscription_paused_or_cancelled_while_waiting_does_not_enter_when_confirmed(
    status: str,
) -> None:
    w = await _proposed()
    w.set_subscription(1, status=status)

    await _confirmations(w).confirm(_owner(w), 1)
    await w.executor().execute_pending()

    assert w.exchange.creates == []
    assert _intent(w)["status"] == "rejected"
    assert _intent(w)["reason"] == f"the subscription is {status}: no new entries"


async def test_the_signal_age_limit_counts_to_the_proposal_not_to_the_owners_answer() -> None:
    limits = {"cooldown_s": 0, "max_signal_age_s": 60}
    w = await _proposed([{**ASKS, "risk_limits": limits}])
    w.clock.advance(240)  # the owner answers 4 minutes later, within the 5 allowed

    await _confirmations(w).confirm(_owner(w), 1)
    await w.executor().execute_pending()

    assert _intent(w)["status"] == "done" and len(w.exchange.creates) == 1


async def test_a_signal_already_too_old_when_proposed_is_refused_on_confirmation_too() -> None:
    limits = {"cooldown_s": 0, "max_signal_age_s": 60}
    w = world([{**ASKS, "risk_limits": limits}])
    w.signal()
    w.clock.advance(90)  # the signal waited 90 s before it was decided: stale already
    await w.executor().execute_pending()

    assert _intent(w)["status"] == "rejected" and w.exchange.creates == []
    assert "signal is 90s old, limit 60s" in _intent(w)["reason"]
