"""Settlement without a database: what an exchange's report means for orders, fills, intents, the
execution log, positions and realised results."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.support import reported
from tradewire.domain.execution import IntentStatus, LogStatus
from tradewire.domain.exit_plan import ExitPlan
from tradewire.domain.exits import ExitRules
from tradewire.domain.orders import ExchangeOrder, OrderSide, OrderState, OrderType, RejectionKind, Trade
from tradewire.domain.positions import CloseReason, Position, PositionStatus
from tradewire.domain.records import OrderOutcome, OrderRecord
from tradewire.domain.settlement import (
    Automation,
    ClosedResult,
    IntentChange,
    NewFill,
    OpenPosition,
    OrdersSettled,
    PositionKey,
    PositionsSettled,
    RunningTotal,
    StoredOrder,
    realised_results,
    settle_orders,
    settle_positions,
)
from tradewire.domain.tranches import DcaMode, DcaPlan, PositionPhase

S = OrderState
NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
D = Decimal


def _order(**changes: object) -> OrderRecord:
    order = OrderRecord(
        order_id=1,
        intent_id=10,
        account_id=3,
        subscription_id=5,
        user_id=7,
        mode="paper",
        exchange="binance",
        client_order_id="tw0000000010",
        symbol="BTC/USDT",
        side=OrderSide.BUY,
        type=OrderType.MARKET,
        amount=D("0.002"),
        price=None,
        state=S.SUBMITTED,
    )
    return replace(order, **changes)  # type: ignore[arg-type]


def _stored(
    state: OrderState = S.SUBMITTED,
    filled: str = "0",
    average: str = "0",
    late_checks: int = 0,
    rejection: RejectionKind | None = None,
) -> StoredOrder:
    return StoredOrder(state, D(filled), D(filled) * D(average), D(0), None, late_checks, rejection)


def _trade(trade_id: str, amount: str, price: str, fee: str = "0.01", currency: str = "USDT") -> Trade:
    return Trade(trade_id, D(amount), D(price), D(fee), currency, 1_741_089_600_000)


def _view(
    status: str = "closed",
    filled: str = "0.002",
    average: str | None = "100",
    trades: tuple[Trade, ...] = (),
    reason: str | None = None,
    amount: str = "0.002",
) -> ExchangeOrder:
    return reported(
        status, amount, filled, average, client_order_id="tw0000000010", trades=trades, reason=reason
    )


def _settle(
    outcome: OrderOutcome, stored: StoredOrder, seen: set[tuple[int, str]] | None = None
) -> OrdersSettled:
    return settle_orders([outcome], {outcome.order.order_id: stored}, seen or set(), NOW)


def _seconds(moment: datetime | None) -> float | None:
    return None if moment is None else (moment - NOW).total_seconds()


# --- fills ------------------------------------------------------------------------------------------


def test_a_listed_trade_becomes_one_fill_with_its_own_id_and_time() -> None:
    # Arrange
    view = _view(trades=(_trade("t-1", "0.002", "100"),))

    # Act
    settled = _settle(OrderOutcome(_order(), exchange_order=view), _stored())

    # Assert
    [fill] = settled.fills
    assert fill.trade.trade_id == "t-1" and fill.trade.amount == D("0.002")
    assert fill.executed_at == datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
    totals = settled.orders[0].totals
    assert totals is not None and (totals.filled, totals.average, totals.fee) == (
        D("0.002"),
        D(100),
        D("0.01"),
    )


def test_the_same_report_twice_in_one_batch_counts_its_fills_once() -> None:
    # Arrange
    outcome = OrderOutcome(_order(), exchange_order=_view(trades=(_trade("t-1", "0.002", "100"),)))

    # Act
    settled = settle_orders([outcome, outcome], {1: _stored()}, set(), NOW)

    # Assert
    assert len(settled.fills) == 1
    assert [c.totals.filled for c in settled.orders if c.totals] == [D("0.002"), D("0.002")]


def test_a_trade_recorded_before_is_not_recorded_again() -> None:
    view = _view(trades=(_trade("t-1", "0.002", "100"),))

    settled = _settle(
        OrderOutcome(_order(), exchange_order=view), _stored(S.FILLED, "0.002", "100"), {(1, "t-1")}
    )

    assert settled.fills == []


def test_running_totals_become_exact_fills_priced_from_the_averages() -> None:
    # Arrange: the exchange reports only cumulative totals, first half then all
    first = OrderOutcome(_order(), exchange_order=_view("open", filled="0.001", average="100"))
    second = OrderOutcome(_order(), exchange_order=_view("closed", filled="0.002", average="101"))

    # Act
    settled = settle_orders([first, second], {1: _stored()}, set(), NOW)

    # Assert: the second half cost 0.202 - 0.1 for 0.001, that is 102
    assert [(f.trade.trade_id, f.trade.amount, f.trade.price) for f in settled.fills] == [
        ("cum:0.001", D("0.001"), D(100)),
        ("cum:0.002", D("0.001"), D(102)),
    ]
    assert settled.fills[0].executed_at == NOW


def test_trades_listed_after_the_totals_were_recorded_are_not_counted_twice() -> None:
    view = _view(trades=(_trade("t-1", "0.001", "100"),), filled="0.001", status="open")

    settled = _settle(
        OrderOutcome(_order(), exchange_order=view),
        _stored(S.PARTIALLY_FILLED, "0.001", "100"),
        {(1, "cum:0.001")},
    )

    assert settled.fills == []


def test_fills_never_exceed_what_the_exchange_says_is_filled() -> None:
    view = _view(
        filled="0.001", status="open", trades=(_trade("t-1", "0.001", "100"), _trade("t-2", "0.001", "100"))
    )

    settled = _settle(OrderOutcome(_order(), exchange_order=view), _stored())

    assert [f.trade.trade_id for f in settled.fills] == ["t-1"]


def test_the_inputs_are_left_as_they_were() -> None:
    stored, seen = _stored(), {(9, "x")}
    view = _view(trades=(_trade("t-1", "0.002", "100"),))

    _settle(OrderOutcome(_order(), exchange_order=view), stored, seen)

    assert stored == _stored() and seen == {(9, "x")}


def test_an_order_the_store_did_not_find_is_skipped() -> None:
    settled = settle_orders([OrderOutcome(_order(), exchange_order=_view())], {}, set(), NOW)

    assert settled == OrdersSettled()


# --- states and checks ------------------------------------------------------------------------------


def test_a_filled_order_is_final_its_intent_done_and_the_log_says_at_what_price() -> None:
    settled = _settle(OrderOutcome(_order(), exchange_order=_view(), response={"id": "x-1"}), _stored())

    [change] = settled.orders
    assert (change.state, change.next_check_at, change.check_attempts) == (S.FILLED, None, 1)
    [entry] = settled.log
    assert (entry.status, entry.reason, entry.response) == (
        LogStatus.SUCCESS,
        "filled 0.002 BTC/USDT at 100",
        {"id": "x-1"},
    )
    assert settled.intents == [IntentChange(10, IntentStatus.DONE, "filled 0.002 BTC/USDT at 100")]
    assert settled.intents[0].plain_done


def test_an_order_resting_on_the_book_is_looked_up_every_two_seconds() -> None:
    settled = _settle(OrderOutcome(_order(), exchange_order=_view("open", filled="0")), _stored())

    [change] = settled.orders
    assert change.state is S.OPEN and _seconds(change.next_check_at) == 2.0
    assert settled.intents == []  # the intent waits for the verdict


def test_a_stale_report_cannot_move_a_filled_order_back() -> None:
    settled = _settle(
        OrderOutcome(_order(), exchange_order=_view("open", filled="0")), _stored(S.FILLED, "0.002", "100")
    )

    assert settled.orders[0].state is S.FILLED and settled.orders[0].next_check_at is None
    assert settled.log == [] and settled.intents == []
    assert "reports open after filled; keeping filled" in settled.anomalies[0].text


@pytest.mark.parametrize(("attempts", "log_lines", "delay"), [(0, 1, 1.0), (2, 0, 4.0)])
def test_an_unknown_outcome_keeps_the_order_and_backs_off(
    attempts: int, log_lines: int, delay: float
) -> None:
    settled = _settle(OrderOutcome(_order(check_attempts=attempts), unknown_reason="timeout"), _stored())

    [change] = settled.orders
    assert (change.state, change.check_attempts, change.reason) == (S.SUBMITTED, attempts + 1, "timeout")
    assert _seconds(change.next_check_at) == delay
    assert [e.status for e in settled.log] == [LogStatus.PENDING] * log_lines


def test_a_failed_late_check_of_a_final_order_keeps_why_it_is_final() -> None:
    settled = _settle(OrderOutcome(_order(), unknown_reason="timeout"), _stored(S.CANCELED, late_checks=1))

    [change] = settled.orders
    assert change.keeps_reason and change.state is S.CANCELED
    assert change.late_checks == 2 and _seconds(change.next_check_at) == 50.0


def test_a_refusal_by_the_exchange_is_final_and_fails_the_intent() -> None:
    settled = _settle(OrderOutcome(_order(), rejected_reason="insufficient balance"), _stored())

    [change] = settled.orders
    assert (change.state, change.rejection, change.next_check_at) == (
        S.REJECTED,
        RejectionKind.EXCHANGE,
        None,
    )
    assert settled.log[0].status is LogStatus.FAILED
    assert settled.intents == [IntentChange(10, IntentStatus.FAILED, "insufficient balance")]


def test_an_order_the_exchange_accepted_is_never_rejected_afterwards() -> None:
    settled = _settle(OrderOutcome(_order(), rejected_reason="late refusal"), _stored(S.OPEN))

    assert settled.orders == [] and settled.log == [] and settled.intents == []
    assert "cannot go from open to rejected" in settled.anomalies[0].text


def test_an_order_held_back_before_sending_is_rejected_as_not_sent() -> None:
    outcome = OrderOutcome(_order(state=S.NEW), rejected_reason="not sent", rejection=RejectionKind.NOT_SENT)

    settled = _settle(outcome, _stored(S.NEW))

    assert (settled.orders[0].rejection, settled.orders[0].next_check_at) == (RejectionKind.NOT_SENT, None)


def test_a_platform_order_changes_no_intent() -> None:
    settled = _settle(OrderOutcome(_order(intent_id=None), exchange_order=_view()), _stored())

    assert settled.intents == [] and len(settled.log) == 1


def test_a_canceled_order_without_fills_fails_its_intent() -> None:
    settled = _settle(OrderOutcome(_order(), exchange_order=_view("canceled", filled="0")), _stored(S.OPEN))

    assert settled.log[0].reason == "canceled: no fill"
    assert settled.intents[0].status is IntentStatus.FAILED


# --- late fills after a cancel ------------------------------------------------------------------------


@pytest.mark.parametrize(("done", "delay"), [(0, 8.0), (1, 50.0), (2, None)])
def test_a_canceled_order_is_checked_for_late_fills_a_few_times_then_never(
    done: int, delay: float | None
) -> None:
    settled = _settle(
        OrderOutcome(_order(), exchange_order=_view("canceled", filled="0")),
        _stored(S.CANCELED, late_checks=done),
    )

    [change] = settled.orders
    assert change.late_checks == done + 1 and _seconds(change.next_check_at) == delay
    assert settled.log == []


def test_the_late_fill_window_opens_when_the_order_is_seen_canceled() -> None:
    settled = _settle(OrderOutcome(_order(), exchange_order=_view("canceled", filled="0")), _stored(S.OPEN))

    assert settled.orders[0].late_checks == 0 and _seconds(settled.orders[0].next_check_at) == 2.0


def test_a_fill_after_the_cancel_is_recorded_logged_and_restarts_the_window() -> None:
    # Arrange
    view = _view("canceled", filled="0.001", trades=(_trade("t-late", "0.001", "100"),))

    # Act
    settled = _settle(OrderOutcome(_order(), exchange_order=view), _stored(S.CANCELED, late_checks=2))

    # Assert
    assert [f.trade.trade_id for f in settled.fills] == ["t-late"]
    assert settled.orders[0].late_checks == 0 and _seconds(settled.orders[0].next_check_at) == 2.0
    text = "0.001 BTC/USDT more filled after the order was canceled: 0.001 of 0.002 filled in all at 100"
    assert (settled.log[0].status, settled.log[0].reason) == (LogStatus.PARTIAL, text)
    assert settled.intents == [IntentChange(10, IntentStatus.DONE, text, late=True)]


def test_a_canceled_order_that_turns_out_filled_says_so() -> None:
    settled = _settle(OrderOutcome(_order(), exchange_order=_view()), _stored(S.CANCELED))

    text = "filled 0.002 BTC/USDT at 100 (reported after the order was canceled)"
    assert settled.orders[0].state is S.FILLED and settled.orders[0].next_check_at is None
    assert settled.intents == [IntentChange(10, IntentStatus.DONE, text, late=True)]


# --- orders concluded lost ------------------------------------------------------------------------------


def test_an_order_concluded_lost_is_looked_up_again() -> None:
    outcome = OrderOutcome(_order(), rejected_reason="not found", rejection=RejectionKind.LOST)

    settled = _settle(outcome, _stored())

    [change] = settled.orders
    assert (change.state, change.rejection, change.late_checks) == (S.REJECTED, RejectionKind.LOST, 0)
    assert _seconds(change.next_check_at) == 2.0
    assert settled.intents[0].status is IntentStatus.FAILED


def test_an_order_concluded_lost_that_shows_up_resting_waits_for_its_fill_again() -> None:
    lost = _stored(S.REJECTED, late_checks=1, rejection=RejectionKind.LOST)

    settled = _settle(OrderOutcome(_order(), exchange_order=_view("open", filled="0")), lost)

    [change] = settled.orders
    assert (change.state, change.rejection, _seconds(change.next_check_at)) == (S.OPEN, None, 2.0)
    text = (
        "order open on the exchange for 0.002 BTC/USDT"
        " (found on the exchange after we concluded it never reached it)"
    )
    assert settled.intents == [IntentChange(10, IntentStatus.ORDERED, text, late=True)]
    assert "found on the exchange (open)" in settled.anomalies[0].text


def test_an_order_concluded_lost_that_the_exchange_refuses_is_final() -> None:
    lost = _stored(S.REJECTED, rejection=RejectionKind.LOST)

    settled = _settle(OrderOutcome(_order(), exchange_order=_view("rejected", "0", reason="no funds")), lost)

    [change] = settled.orders
    why = "rejected by the exchange after we concluded it never reached it: no funds"
    assert (change.state, change.rejection, change.reason, change.next_check_at) == (
        S.REJECTED,
        RejectionKind.EXCHANGE,
        why,
        None,
    )
    assert not change.keeps_reason
    assert settled.intents == [IntentChange(10, IntentStatus.FAILED, why)]


@pytest.mark.parametrize("kind", [RejectionKind.EXCHANGE, RejectionKind.NOT_SENT])
def test_a_refused_or_unsent_order_stays_rejected_whatever_is_reported(kind: RejectionKind) -> None:
    settled = _settle(
        OrderOutcome(_order(), exchange_order=_view("open", filled="0")), _stored(S.REJECTED, rejection=kind)
    )

    [change] = settled.orders
    assert (change.state, change.rejection, change.next_check_at, change.keeps_reason) == (
        S.REJECTED,
        kind,
        None,
        True,
    )
    assert settled.log == [] and settled.intents == []


# --- sizing notes ------------------------------------------------------------------------------------


def test_the_first_answer_says_how_the_order_was_sized() -> None:
    settled = _settle(OrderOutcome(_order(sizing_note="10 USDT fixed"), exchange_order=_view()), _stored())

    assert settled.log[0].reason == "filled 0.002 BTC/USDT at 100; sized: 10 USDT fixed"


def test_an_order_seen_open_first_says_how_it_was_sized_when_it_fills() -> None:
    order = _order(sizing_note="10 USDT fixed")

    partly = _settle(OrderOutcome(order, exchange_order=_view("open", "0.001")), _stored(S.OPEN))
    filled = _settle(OrderOutcome(order, exchange_order=_view()), _stored(S.PARTIALLY_FILLED, "0.001", "100"))

    assert partly.log[0].reason == "partially filled 0.001 of 0.002 BTC/USDT at 100"
    assert filled.log[0].reason == "filled 0.002 BTC/USDT at 100; sized: 10 USDT fixed"


def test_a_platform_exit_names_its_reason_beside_the_sizing() -> None:
    order = _order(
        intent_id=None, side=OrderSide.SELL, close_reason=CloseReason.SL, sizing_note="all of 0.002"
    )

    settled = _settle(OrderOutcome(order, exchange_order=_view()), _stored())

    assert settled.log[0].reason == "filled 0.002 BTC/USDT at 100; SL: all of 0.002"


# --- positions --------------------------------------------------------------------------------------


def _fill(order: OrderRecord, amount: str, price: str, fee: str = "0", currency: str = "USDT") -> NewFill:
    return NewFill(order, _trade(f"t-{amount}-{price}", amount, price, fee, currency), NOW, D("0.0005"))


def _open(automation: Automation | None = None) -> OpenPosition:
    """0.002 BTC held at 100, 0.2 USDT paid in fees, opened an hour ago."""
    position = Position("BTC/USDT", D("0.002"), D(100), D("0.2"), D(0), D("0.2"))
    return OpenPosition(
        42, position, automation or Automation(phase=PositionPhase.OPEN), NOW - timedelta(hours=1)
    )


def _positions(*fills: NewFill, open_position: OpenPosition | None = None) -> PositionsSettled:
    known: dict[PositionKey, OpenPosition] = {(5, "BTC/USDT"): open_position} if open_position else {}
    return settle_positions(fills, known, NOW)


def test_a_buy_opens_a_position_at_its_price_with_its_fee() -> None:
    moved = _positions(_fill(_order(), "0.002", "100", fee="0.2"))

    [change] = moved.changes
    assert change.position_id is None and change.order.account_id == 3
    assert (change.position.amount, change.position.avg_entry, change.position.fees) == (
        D("0.002"),
        D(100),
        D("0.2"),
    )
    assert change.automation == Automation(phase=PositionPhase.OPEN)
    assert moved.closed == []


def test_a_fee_taken_in_the_asset_bought_leaves_less_to_hold() -> None:
    moved = _positions(_fill(_order(), "0.002", "100", fee="0.000002", currency="BTC"))

    position = moved.changes[0].position
    assert position.amount == D("0.001998") and position.fees == D("0.0002")


def test_a_second_buy_averages_the_entry() -> None:
    moved = _positions(_fill(_order(), "0.002", "110"), open_position=_open())

    assert moved.changes[0].position_id == 42
    assert moved.changes[0].position.avg_entry == D(105)


def test_fills_of_one_position_in_one_batch_apply_in_order() -> None:
    buy, sell = _order(), _order(order_id=2, side=OrderSide.SELL)

    moved = _positions(_fill(buy, "0.002", "100"), _fill(sell, "0.001", "120"))

    [change] = moved.changes
    assert change.position.amount == D("0.001") and change.position.realized_pnl == D("0.020")
    assert change.order is sell


def test_a_sale_of_everything_closes_the_position_and_counts_its_net_result() -> None:
    sell = _order(side=OrderSide.SELL)

    moved = _positions(_fill(sell, "0.002", "110", fee="0.22"), open_position=_open())

    position = moved.changes[0].position
    assert (position.status, position.close_reason) == (PositionStatus.CLOSED, CloseReason.SIGNAL)
    assert moved.changes[0].automation.phase is PositionPhase.CLOSED
    assert moved.closed == [ClosedResult(3, 5, D("0.020") - D("0.42"))]


def test_dust_left_by_a_stop_loss_closes_the_position_as_a_stop_loss() -> None:
    sell = _order(side=OrderSide.SELL, close_reason=CloseReason.SL, intent_id=None)

    moved = _positions(_fill(sell, "0.0019", "90"), open_position=_open())

    position = moved.changes[0].position
    assert (position.status, position.close_reason, position.amount) == (
        PositionStatus.CLOSED,
        CloseReason.SL,
        D("0.0001"),
    )
    assert len(moved.closed) == 1


def test_a_dca_buy_filling_after_its_position_closed_opens_one_that_is_closed_at_once() -> None:
    """An exit does not wait for a DCA buy's late checks; if that buy fills after all, what it bought
    gets a time limit of now, so the exit monitor sells it on its next tick (never left unprotected)."""
    tranche = _order(intent_id=None, position_id=42, tranche=2, client_order_id="tp0000000042t2a0")

    moved = _positions(_fill(tranche, "0.001", "95"))

    [change] = moved.changes
    assert change.position_id is None and change.position.amount == D("0.001")
    assert change.automation.deadline_at == NOW and change.automation.phase is PositionPhase.OPEN
    [anomaly] = moved.anomalies
    assert not anomaly.severe and "DCA tranche 2" in anomaly.text and "sold at once" in anomaly.text


def test_a_dca_buy_of_an_open_position_keeps_its_automation() -> None:
    tranche = _order(intent_id=None, position_id=42, tranche=2)

    moved = _positions(_fill(tranche, "0.001", "95"), open_position=_open())

    assert moved.changes[0].position_id == 42 and moved.changes[0].automation.deadline_at is None
    assert moved.anomalies == []


def test_a_sale_bigger_than_the_position_changes_nothing_and_is_reported() -> None:
    moved = _positions(_fill(_order(side=OrderSide.SELL), "0.003", "100"), open_position=_open())

    assert moved.changes == [] and moved.closed == []
    assert moved.anomalies[0].severe and "position left unchanged" in moved.anomalies[0].text


def test_an_entry_s_exit_plan_sets_levels_at_the_average_entry() -> None:
    plan = ExitPlan(ExitRules(stop_loss_pct=D(5), take_profit_pct=D(10), max_hold_s=3600))

    moved = _positions(_fill(_order(exit_plan=plan), "0.002", "100"))

    automation = moved.changes[0].automation
    assert (automation.stop_loss, automation.take_profit, automation.best_price) == (D(95), D(110), D(100))
    assert automation.deadline_at == NOW + timedelta(hours=1)
    assert automation.phase is PositionPhase.OPEN


def test_an_entry_without_a_plan_keeps_the_position_s_levels() -> None:
    moved = _positions(
        _fill(_order(), "0.002", "110"),
        open_position=_open(Automation(stop_loss=D(90), best_price=D(120), phase=PositionPhase.OPEN)),
    )

    automation = moved.changes[0].automation
    assert (automation.stop_loss, automation.best_price, automation.phase) == (
        D(90),
        D(120),
        PositionPhase.OPEN,
    )


DCA_PLAN = ExitPlan(
    ExitRules(stop_loss_pct=D(10)), dca=DcaPlan(DcaMode.EQUAL, 3, D(2)), later=(D("0.001"), D("0.001"))
)


def test_a_dca_entry_schedules_its_later_tranches_from_the_first_fill() -> None:
    moved = _positions(_fill(_order(exit_plan=DCA_PLAN), "0.001", "100"))

    automation = moved.changes[0].automation
    assert automation.phase is PositionPhase.BUILDING
    assert automation.tranches is not None and automation.tranches["first"] == "100"
    assert [(t["number"], t["trigger"]) for t in automation.tranches["pending"]] == [(2, "98"), (3, "96")]


def test_a_dca_tranche_is_ticked_off_and_moves_the_levels_to_the_new_average() -> None:
    # Arrange: the first tranche bought at 100
    first = _positions(_fill(_order(exit_plan=DCA_PLAN), "0.001", "100")).changes[0]
    position = OpenPosition(42, first.position, first.automation, NOW)
    tranche = _order(order_id=2, intent_id=None, tranche=2)

    # Act: tranche 2 fills at 98
    moved = _positions(_fill(tranche, "0.001", "98"), open_position=position)

    # Assert
    automation = moved.changes[0].automation
    assert moved.changes[0].position.avg_entry == D(99)
    assert automation.stop_loss == D("89.1") and automation.best_price == D(100)
    assert automation.tranches is not None and [t["number"] for t in automation.tranches["pending"]] == [3]
    assert automation.phase is PositionPhase.BUILDING


def test_the_last_tranche_ends_the_building() -> None:
    first = _positions(_fill(_order(exit_plan=DCA_PLAN), "0.001", "100")).changes[0]
    building = OpenPosition(42, first.position, first.automation, NOW)
    fills = [
        _fill(_order(order_id=n, intent_id=None, tranche=n), "0.001", p) for n, p in ((2, "98"), (3, "96"))
    ]

    moved = _positions(*fills, open_position=building)

    assert moved.changes[0].automation.phase is PositionPhase.OPEN


def test_a_sale_drops_the_tranches_still_to_buy_and_starts_reducing() -> None:
    first = _positions(_fill(_order(exit_plan=DCA_PLAN), "0.001", "100")).changes[0]
    building = OpenPosition(42, first.position, first.automation, NOW)

    moved = _positions(_fill(_order(side=OrderSide.SELL), "0.0004", "101"), open_position=building)

    automation = moved.changes[0].automation
    assert automation.phase is PositionPhase.REDUCING
    assert automation.tranches is not None and automation.tranches["pending"] == []
    assert automation.stop_loss == first.automation.stop_loss


# --- realised results ----------------------------------------------------------------------------------


def test_closed_results_add_up_per_account_day_and_per_subscription() -> None:
    closed = [ClosedResult(3, 5, D(10)), ClosedResult(3, None, D(-4)), ClosedResult(8, 6, D(1))]

    results = realised_results(closed, NOW)

    assert results.day == "2025-03-04"
    assert results.per_account == {3: D(6), 8: D(1)}
    assert results.per_subscription == {5: D(10), 6: D(1)}
    assert results.daily_after({3: D(2)}) == {3: D(8), 8: D(1)}


def test_a_subscription_s_peak_follows_its_total_up_but_not_down() -> None:
    results = realised_results([ClosedResult(3, 5, D(10)), ClosedResult(4, 6, D(-3))], NOW)

    after = results.totals_after({5: RunningTotal(D(5), D(8)), 6: RunningTotal(D(5), D(8))})

    assert after == {5: RunningTotal(D(15), D(15)), 6: RunningTotal(D(2), D(8))}
