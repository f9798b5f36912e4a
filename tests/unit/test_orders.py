"""The order state machine, exchange status mapping and status-check backoff."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tradewire.domain.orders import (
    ORDER_STATE_TABLE,
    TERMINAL_STATES,
    ExchangeOrder,
    IllegalTransition,
    OrderSide,
    OrderState,
    OrderType,
    RejectionKind,
    after_report,
    first_check_after_claim,
    late_fill_check_delay_s,
    next_check_delay_s,
    postponed_check,
    rechecked,
    state_from_exchange,
    transition,
)

S = OrderState

# Written by hand from the lifecycle (not copied from ORDER_STATE_TABLE):
#   NEW is sent, or rejected unsent (its subscription was halted meanwhile); SUBMITTED may stay
#   SUBMITTED (ambiguous outcome) or get any exchange verdict;
#   OPEN may be re-observed, fill (partly or fully), be canceled or expire, but an accepted order is
#   never rejected; PARTIALLY_FILLED cannot go back to OPEN; a canceled or expired order may be
#   re-observed (with fills reported late) or turn out filled, never reopen; FILLED and REJECTED
#   have no exits.
EXPECTED_EDGES: frozenset[tuple[OrderState, OrderState]] = frozenset(
    {
        (S.NEW, S.SUBMITTED),
        (S.NEW, S.REJECTED),
        (S.SUBMITTED, S.SUBMITTED),
        (S.SUBMITTED, S.OPEN),
        (S.SUBMITTED, S.PARTIALLY_FILLED),
        (S.SUBMITTED, S.FILLED),
        (S.SUBMITTED, S.CANCELED),
        (S.SUBMITTED, S.REJECTED),
        (S.SUBMITTED, S.EXPIRED),
        (S.OPEN, S.OPEN),
        (S.OPEN, S.PARTIALLY_FILLED),
        (S.OPEN, S.FILLED),
        (S.OPEN, S.CANCELED),
        (S.OPEN, S.EXPIRED),
        (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
        (S.PARTIALLY_FILLED, S.FILLED),
        (S.PARTIALLY_FILLED, S.CANCELED),
        (S.PARTIALLY_FILLED, S.EXPIRED),
        (S.CANCELED, S.CANCELED),
        (S.CANCELED, S.FILLED),
        (S.EXPIRED, S.EXPIRED),
        (S.EXPIRED, S.FILLED),
    }
)
EXPECTED_TERMINAL = frozenset({S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED})

ALL_PAIRS = list(itertools.product(list(OrderState), repeat=2))


# --- transition table ------------------------------------------------------------------------------


def test_the_state_enum_has_the_eight_expected_states() -> None:
    assert {state.value for state in OrderState} == {
        "new",
        "submitted",
        "open",
        "partially_filled",
        "filled",
        "canceled",
        "rejected",
        "expired",
    }


def test_the_table_has_a_row_for_every_state() -> None:
    assert set(ORDER_STATE_TABLE) == set(OrderState)


@pytest.mark.parametrize(
    ("current", "target"), ALL_PAIRS, ids=[f"{a.value}->{b.value}" for a, b in ALL_PAIRS]
)
def test_transition_allows_exactly_the_expected_edges(current: OrderState, target: OrderState) -> None:
    if (current, target) in EXPECTED_EDGES:
        assert transition(current, target) is target
    else:
        with pytest.raises(IllegalTransition, match=f"from {current.value} to {target.value}"):
            transition(current, target)


def test_the_expected_edges_cover_the_whole_table() -> None:
    table_edges = {(current, target) for current, targets in ORDER_STATE_TABLE.items() for target in targets}

    assert table_edges == EXPECTED_EDGES


def test_terminal_states_are_the_four_final_outcomes() -> None:
    assert TERMINAL_STATES == EXPECTED_TERMINAL
    assert {state for state in OrderState if state.is_terminal} == EXPECTED_TERMINAL


@pytest.mark.parametrize("terminal", sorted(EXPECTED_TERMINAL))
def test_a_final_order_never_reopens(terminal: OrderState) -> None:
    for target in (S.NEW, S.SUBMITTED, S.OPEN, S.PARTIALLY_FILLED, S.REJECTED):
        with pytest.raises(IllegalTransition):
            transition(terminal, target)


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        (S.CANCELED, S.FILLED, S.FILLED),  # a fill crossed the cancel on the wire
        (S.CANCELED, S.CANCELED, S.CANCELED),  # more fills, still canceled
        (S.CANCELED, S.PARTIALLY_FILLED, S.CANCELED),  # a stale update: its fills count, not its state
        (S.EXPIRED, S.FILLED, S.FILLED),
        (S.FILLED, S.OPEN, S.FILLED),
        (S.OPEN, S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
        (S.PARTIALLY_FILLED, S.OPEN, S.PARTIALLY_FILLED),
    ],
)
def test_a_report_moves_an_order_only_along_the_table(
    current: OrderState, reported: OrderState, expected: OrderState
) -> None:
    assert after_report(current, reported) is expected


# Only our own conclusion "never reached the exchange" can be overturned by the exchange: such an
# order takes what the exchange reports (a late "open" included). Refusals and unsent orders stay final.
EXPECTED_LOST_EDGES = frozenset({S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED, S.REJECTED})


@pytest.mark.parametrize("target", list(OrderState), ids=[s.value for s in OrderState])
@pytest.mark.parametrize("kind", [None, *RejectionKind], ids=["none", *[k.value for k in RejectionKind]])
def test_only_an_order_concluded_lost_leaves_rejected(target: OrderState, kind: RejectionKind | None) -> None:
    if kind is RejectionKind.LOST and target in EXPECTED_LOST_EDGES:
        assert transition(S.REJECTED, target, kind) is target
        assert after_report(S.REJECTED, target, kind) is target
    else:
        with pytest.raises(IllegalTransition):
            transition(S.REJECTED, target, kind)
        assert after_report(S.REJECTED, target, kind) is S.REJECTED


@pytest.mark.parametrize("state", [s for s in OrderState if s is not S.REJECTED], ids=lambda s: s.value)
def test_the_rejection_kind_changes_nothing_outside_rejected(state: OrderState) -> None:
    for target in OrderState:
        allowed = (state, target) in EXPECTED_EDGES
        for kind in RejectionKind:
            if allowed:
                assert transition(state, target, kind) is target
            else:
                with pytest.raises(IllegalTransition):
                    transition(state, target, kind)


def test_final_orders_looked_up_again_are_canceled_expired_and_concluded_lost_ones() -> None:
    looked_up = {
        (state, kind) for state in OrderState for kind in [None, *RejectionKind] if rechecked(state, kind)
    }

    assert looked_up == {
        *((S.CANCELED, k) for k in [None, *RejectionKind]),
        *((S.EXPIRED, k) for k in [None, *RejectionKind]),
        (S.REJECTED, RejectionKind.LOST),
    }


def test_late_fill_checks_are_few_and_end() -> None:
    delays = [late_fill_check_delay_s(done, (2.0, 10.0, 60.0)) for done in range(5)]

    assert delays == [2.0, 8.0, 50.0, None, None]
    assert late_fill_check_delay_s(0, ()) is None


@pytest.mark.parametrize("state", sorted(set(OrderState) - EXPECTED_TERMINAL))
def test_every_non_terminal_state_can_reach_a_terminal_state(state: OrderState) -> None:
    reachable = {state}
    frontier = [state]
    while frontier:
        for target in ORDER_STATE_TABLE[frontier.pop()]:
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)

    assert reachable & EXPECTED_TERMINAL


# --- state_from_exchange -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "filled", "amount", "expected"),
    [
        ("open", "0", "1", S.OPEN),
        ("open", "0.4", "1", S.PARTIALLY_FILLED),
        ("open", "1", "1", S.FILLED),
        ("new", "0", "1", S.OPEN),
        ("partially_filled", "0.5", "1", S.PARTIALLY_FILLED),
        ("closed", "1", "1", S.FILLED),
        ("filled", "1", "1", S.FILLED),
        ("canceled", "0", "1", S.CANCELED),
        ("cancelled", "0", "1", S.CANCELED),
        ("canceled", "0.3", "1", S.CANCELED),
        ("expired", "0", "1", S.EXPIRED),
        ("rejected", "0", "1", S.REJECTED),
        ("OPEN", "0", "1", S.OPEN),
        ("Closed", "1", "1", S.FILLED),
    ],
)
def test_state_from_exchange_maps_ccxt_statuses_and_fills(
    status: str, filled: str, amount: str, expected: OrderState
) -> None:
    assert state_from_exchange(status, Decimal(filled), Decimal(amount)) is expected


@pytest.mark.parametrize("status", ["", "pending", "unknown", "done"])
def test_state_from_exchange_rejects_an_unknown_status(status: str) -> None:
    with pytest.raises(ValueError, match="unknown exchange order status"):
        state_from_exchange(status, Decimal(0), Decimal(1))


def test_exchange_order_state_comes_from_its_status_and_fill() -> None:
    order = ExchangeOrder(
        exchange_order_id="123",
        client_order_id="tw-0000000001",
        symbol="BTC/USDT",
        side=OrderSide.BUY,
        type=OrderType.MARKET,
        status="open",
        amount=Decimal("0.002"),
        filled=Decimal("0.001"),
        average=Decimal("96388.12"),
        price=None,
    )

    assert order.state is S.PARTIALLY_FILLED


# --- next_check_delay_s ----------------------------------------------------------------------------


def test_next_check_delay_doubles_from_the_base() -> None:
    delays = [next_check_delay_s(attempt) for attempt in range(6)]

    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]


def test_next_check_delay_never_decreases() -> None:
    delays = [next_check_delay_s(attempt) for attempt in range(40)]

    assert delays == sorted(delays)


@pytest.mark.parametrize("attempts", [6, 7, 16, 17, 100, 10_000])
def test_next_check_delay_is_capped(attempts: int) -> None:
    assert next_check_delay_s(attempts) == 30.0


def test_next_check_delay_respects_a_custom_base_and_cap() -> None:
    assert next_check_delay_s(0, base_s=0.5, cap_s=3.0) == 0.5
    assert next_check_delay_s(2, base_s=0.5, cap_s=3.0) == 2.0
    assert next_check_delay_s(3, base_s=0.5, cap_s=3.0) == 3.0


def test_next_check_delay_is_a_float() -> None:
    assert isinstance(next_check_delay_s(3), float)


# --- when an order is looked at next (the store saves what these say) ------------------------------

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_an_order_claimed_for_sending_is_first_looked_up_half_a_second_later() -> None:
    assert first_check_after_claim(NOW) == NOW + timedelta(seconds=0.5)


def test_a_postponed_check_counts_the_failed_check_and_backs_off_from_it() -> None:
    first = postponed_check(0, NOW)
    third = postponed_check(2, NOW)

    assert (first.check_attempts, first.next_check_at) == (1, NOW + timedelta(seconds=1))
    assert (third.check_attempts, third.next_check_at) == (3, NOW + timedelta(seconds=4))


def test_a_postponed_check_is_never_given_up_but_waits_at_most_the_cap() -> None:
    check = postponed_check(10_000, NOW)

    assert check.check_attempts == 10_001
    assert check.next_check_at == NOW + timedelta(seconds=30)


def test_the_unsettled_orders_index_says_exactly_the_unsettled_states() -> None:
    import importlib.util
    import re

    from tradewire.adapters.store import tables
    from tradewire.domain.orders import MARKET_PENDING_STATES, OUTCOME_PENDING_STATES

    assert set(re.findall(r"'(\w+)'", tables.UNSETTLED_ORDERS)) == {s.value for s in MARKET_PENDING_STATES}
    assert OUTCOME_PENDING_STATES < MARKET_PENDING_STATES
    path = Path(tables.__file__).parent / "migrations" / "versions" / "0017_orders_unsettled.py"
    spec = importlib.util.spec_from_file_location("migration_0017", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration._WHERE == tables.UNSETTLED_ORDERS  # the index the migration makes is the table's
