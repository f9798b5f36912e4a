"""The in-memory twin (tests/fakes/memory_store) keeps its contract: every scenario here runs on
SqlStore (SQLite and PostgreSQL) and on MemoryStore, asserts what each returns, and then holds every
table of the two equal, row by row (ids compared by their order, since PostgreSQL's sequences skip
the values an ignored conflict drew), the events outbox included (the ids its events name too)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, select

from tests.fakes.memory_exchange import BTC_USDT
from tests.fakes.memory_store import MemoryMembers, MemoryStore, Tables
from tests.seeding import Seeded, seed_members
from tradewire.adapters.store import tables as sql_tables
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.sql import SqlStore
from tradewire.domain.balances import AssetBalance
from tradewire.domain.events import Event, Topic
from tradewire.domain.execution import LogStatus
from tradewire.domain.exit_plan import ExitPlan
from tradewire.domain.exits import ExitRules
from tradewire.domain.held_exit import decide
from tradewire.domain.orders import ExchangeOrder, OrderSide, OrderState, OrderType, RejectionKind, Trade
from tradewire.domain.positions import CloseReason
from tradewire.domain.records import (
    AutoOrder,
    Decisions,
    FailedAttempt,
    NewOrder,
    NewSignal,
    OrderOutcome,
    OrderQuery,
    OrderRecord,
    Rejection,
    RiskKeys,
    Routing,
    WatchedPosition,
    WorkItem,
    WorkQuery,
)
from tradewire.domain.risk_alerts import BreakerOpening, Once, RiskAlert
from tradewire.domain.signals import SignalAction

# Not on a whole second: SQLite compares times as text, and rows written in bulk keep no ".000000" (a
# whole-second time written so would compare below the same time as a query parameter).
NOW = datetime(2026, 1, 5, 12, 0, 0, 250_000, tzinfo=UTC)
DAY = NOW.date().isoformat()
T = TypeVar("T")

# The tables compared, and the columns that hold another table's id.
COMPARED = ("signals", "execution_intents", "orders", "fills", "positions", "execution_log")
REFERENCES = {
    "signal_id": "signals",
    "intent_id": "execution_intents",
    "order_id": "orders",
    "position_id": "positions",
}
SUBSCRIPTION_STATE = ("id", "trading_state", "state_reason", "pnl_total", "pnl_peak")


@dataclass
class Twin:
    """A store with what seeds it and what reads its tables back."""

    name: str
    store: Any
    members: Any
    rows: Callable[[str], list[dict[str, Any]]]
    keyed: Callable[[str], dict[tuple[Any, ...], Any]]  # account_daily_pnl, strategy_pairs
    events: Callable[[], list[dict[str, Any]]]  # the outbox, by user and number

    def n(self, table: str, row_id: int | None) -> int | None:
        """A row's number in its table, 1 for the first row made (ids themselves may skip values)."""
        ids = [r["id"] for r in self.rows(table)]
        return None if row_id is None else ids.index(row_id) + 1


def _sql_twin(name: str, engine: Engine) -> Twin:
    def rows(table: str) -> list[dict[str, Any]]:
        t = sql_tables.metadata.tables[table]
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.id))]

    def keyed(table: str) -> dict[tuple[Any, ...], Any]:
        with engine.connect() as conn:
            if table == "account_daily_pnl":
                found = conn.execute(select(sql_tables.account_daily_pnl))
                return {(r.account_id, r.day): r.pnl for r in found}
            found = conn.execute(select(sql_tables.strategy_pairs))
            return {(r.strategy_id, r.symbol): dict(r._mapping) for r in found}

    def events() -> list[dict[str, Any]]:
        t = sql_tables.events
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.user_id, t.c.id))]

    return Twin(name, SqlStore(engine), SqlMembers(engine), rows, keyed, events)


def _memory_twin() -> Twin:
    tables = Tables()

    def keyed(table: str) -> dict[tuple[Any, ...], Any]:
        return dict(tables.account_daily_pnl if table == "account_daily_pnl" else tables.strategy_pairs)

    def events() -> list[dict[str, Any]]:
        return sorted(tables.events, key=lambda e: (e["user_id"], e["id"]))

    return Twin("memory", MemoryStore(tables), MemoryMembers(tables), tables.where, keyed, events)


@pytest.fixture
def twins(engine: Engine) -> Iterator[list[Twin]]:
    """SqlStore (on SQLite, then PostgreSQL) and MemoryStore; afterwards, their tables must be equal."""
    pair = [_sql_twin(engine.dialect.name, engine), _memory_twin()]
    yield pair
    sql, memory = (_snapshot(t) for t in pair)
    for table in sql:
        assert sql[table] == memory[table], f"{table}: {pair[0].name} and the twin differ"


def _snapshot(twin: Twin) -> dict[str, Any]:
    """Every compared table, its ids (and ids it refers to) replaced by their rank in id order."""
    ranks = {table: {row["id"]: n for n, row in enumerate(twin.rows(table))} for table in COMPARED}
    result: dict[str, Any] = {}
    for table in COMPARED:
        result[table] = [
            {
                column: ranks[REFERENCES[column]].get(value) if column in REFERENCES and value else value
                for column, value in row.items()
                if column != "id"
            }
            for row in twin.rows(table)
        ]
    result["subscriptions"] = [{c: r[c] for c in SUBSCRIPTION_STATE} for r in twin.rows("subscriptions")]
    result["strategies"] = [(r["track_index"], r["track_peak"]) for r in twin.rows("strategies")]
    result["account_daily_pnl"] = twin.keyed("account_daily_pnl")
    result["strategy_pairs"] = twin.keyed("strategy_pairs")
    result["events"] = [
        {**event, "data": _ranked(json.loads(event["data"]), ranks)} for event in twin.events()
    ]
    return result


def _ranked(data: dict[str, Any], ranks: dict[str, dict[int, int]]) -> dict[str, Any]:
    """An event's data with the row ids it names replaced by their rank, as the tables' are."""
    return {k: ranks[REFERENCES[k]].get(v) if k in REFERENCES and v else v for k, v in data.items()}


def each(twins: list[Twin], scenario: Callable[[Twin], T]) -> list[T]:
    """Run a scenario on every twin; returns what it returned on each."""
    return [scenario(t) for t in twins]


# -- building blocks ---------------------------------------------------------------------------------


def _signal(strategy_id: int, key: str = "k1", **changes: Any) -> NewSignal:
    values: dict[str, Any] = {
        "strategy_id": strategy_id,
        "dedup_key": key,
        "action": SignalAction.BUY,
        "ticker": "BTCUSDT",
        "symbol": "BTC/USDT",
        "contracts": Decimal("0.001234567"),
        "price": Decimal("100"),
        "signal_time": None,
        "details": {"ticker": "BTCUSDT"},
        "received_at": NOW,
    }
    return NewSignal(**{**values, **changes})


def _routed(twin: Twin, subscribers: list[dict[str, Any]], key: str = "k1") -> tuple[Seeded, list[WorkItem]]:
    seeded = seed_members(twin.members, subscribers)
    return seeded, _route(twin, seeded, key)


def _route(twin: Twin, seeded: Seeded, key: str) -> list[WorkItem]:
    """A signal of the strategy, routed to its active subscriptions: their work items."""
    signal_id, _ = twin.store.insert_signal(_signal(seeded.strategy_id, key))
    twin.store.create_intents(Routing(signal_id, twin.store.active_targets(seeded.strategy_id)), NOW)
    return twin.store.pending_work(signal_id)


def _buy(item: WorkItem, amount: str = "0.003", plan: ExitPlan | None = None) -> NewOrder:
    cid = f"tw{item.intent_id:010d}"
    return NewOrder(item, cid, OrderSide.BUY, OrderType.MARKET, Decimal(amount), None, "note", plan)


def _sent(twin: Twin, work: list[WorkItem], plan: ExitPlan | None = None) -> list[OrderRecord]:
    records: list[OrderRecord] = twin.store.save_decisions(
        Decisions(new_orders=[_buy(w, plan=plan) for w in work]), NOW
    )
    twin.store.claim_for_submission([r.order_id for r in records], NOW)
    return records


def _bought(twin: Twin, work: list[WorkItem], plan: ExitPlan | None = None) -> None:
    """Each work item's buy of 0.003 at 100 sent and filled: one open position each."""
    for entry in _sent(twin, work, plan):
        fill = (_trade(f"b{entry.order_id}", "0.003", "100"),)
        twin.store.record_outcomes([OrderOutcome(entry, _view(entry, "closed", "0.003", fill))], NOW)


def _exit(p: WatchedPosition, reason: CloseReason, note: str) -> AutoOrder:
    return AutoOrder(
        p.position_id,
        p.account_id,
        p.subscription_id,
        p.user_id,
        p.mode,
        p.exchange,
        p.symbol,
        p.amount,
        reason,
        note,
    )


def _first_stop_sent(t: Twin) -> tuple[Seeded, list[WatchedPosition], list[AutoOrder], OrderRecord]:
    """Two subscribers' buys filled (a position each), a stop for each position, and the first
    position's stop stored and claimed for sending."""
    seeded, work = _routed(t, [{}, {}])
    _bought(t, work)
    positions = t.store.watched_positions()
    exits = [_exit(p, CloseReason.SL, "stop") for p in positions]
    [first] = t.store.save_auto_orders(exits[:1], NOW)
    t.store.claim_for_submission([first.order_id], NOW)
    return seeded, positions, exits, first


def _view(
    record: OrderRecord, status: str, filled: str, trades: tuple[Trade, ...] = (), average: str | None = None
) -> ExchangeOrder:
    return ExchangeOrder(
        exchange_order_id=f"x-{record.client_order_id}",
        client_order_id=record.client_order_id,
        symbol=record.symbol,
        side=record.side,
        type=record.type,
        status=status,
        amount=record.amount,
        filled=Decimal(filled),
        average=Decimal(average) if average else None,
        price=None,
        trades=trades,
    )


def _trade(trade_id: str, amount: str, price: str, fee: str = "0.01") -> Trade:
    return Trade(trade_id, Decimal(amount), Decimal(price), Decimal(fee), "USDT", 1_767_614_400_000)


def _intents(twin: Twin) -> list[tuple[str, str | None, int]]:
    return [(r["status"], r["reason"], r["attempts"]) for r in twin.rows("execution_intents")]


# -- signals -----------------------------------------------------------------------------------------


def test_signals_are_stored_once_within_their_window_and_fail_after_their_attempts(twins: list[Twin]) -> None:
    def scenario(t: Twin) -> list[Any]:
        seeded = seed_members(t.members, [{}])
        first = t.store.insert_signal(_signal(seeded.strategy_id))
        again = t.store.insert_signal(_signal(seeded.strategy_id))
        later = _signal(seeded.strategy_id, "w1", symbol="", received_at=NOW + timedelta(seconds=1))
        windowed = t.store.insert_signal_in_window(later, "content")
        same = replace_signal(later, "w2", NOW + timedelta(seconds=61))
        inside = t.store.insert_signal_in_window(same, "content")
        outside = t.store.insert_signal_in_window(
            replace_signal(later, "w3", NOW + timedelta(seconds=62)), "content"
        )
        t.store.resolve_signal(windowed[0], "ETH/USDT")
        failed = [t.store.routing_failed(first[0], "boom", 2, NOW) for _ in range(3)]
        stored = [(t.n("signals", i), new) for i, new in (first, again, windowed, inside, outside)]
        return [
            *stored,
            t.n("signals", t.store.find_signal(seeded.strategy_id, ["nope", "k1"])),
            t.store.webhook_strategy("tv-test")
            == (seeded.strategy_id, t.rows("strategies")[0]["passphrase_hash"], False),
            t.store.webhook_strategy("other"),
            t.store.signal_route_info(windowed[0]),
            t.store.signal_ticker(windowed[0]),
            t.store.last_signal_at(seeded.strategy_id, "BTC/USDT"),
            [t.n("signals", i) for i in t.store.unrouted_signal_ids()],
            [t.n("signals", i) for i in t.store.unrouted_signal_ids(NOW + timedelta(seconds=30))],
            failed,
            _signal_state(t.rows("signals")[0]),
        ]

    sql, memory = each(twins, scenario)
    assert sql == memory
    assert memory[:5] == [(1, True), (1, False), (2, True), (2, False), (3, True)]
    assert memory[5:11] == [1, True, None, (1, "ETH/USDT", "received", True), "BTCUSDT", NOW]
    assert memory[11:13] == [[2, 3], [2]]
    assert memory[13] == [False, True, False]
    assert memory[14] == ("failed", "routing failed 2 times; last: boom", 2)


def _signal_state(row: dict[str, Any]) -> tuple[str, str | None, int]:
    return row["status"], row["reason"], row["attempts"]


def replace_signal(signal: NewSignal, key: str, at: datetime) -> NewSignal:
    return _signal(signal.strategy_id, key, symbol=signal.symbol, received_at=at)


def test_routing_creates_one_intent_per_active_subscription_once_and_counts_the_track_record(
    twins: list[Twin],
) -> None:
    def scenario(t: Twin) -> list[Any]:
        live = {"account": {"name": "live", "exchange": "binance", "mode": "live", "api_urls": {"rest": "u"}}}
        seeded = seed_members(t.members, [{}, {"status": "PAUSED"}, live, {"pairs": ["ETH/USDT"]}])
        targets = t.store.active_targets(seeded.strategy_id)
        buy, _ = t.store.insert_signal(_signal(seeded.strategy_id, "b"))
        t.store.create_intents(Routing(buy, targets), NOW)
        t.store.create_intents(Routing(buy, targets), NOW)  # routed again: nothing new
        sell, _ = t.store.insert_signal(
            _signal(seeded.strategy_id, "s", action=SignalAction.SELL, price=None)
        )
        t.store.create_intents(Routing(sell, targets[:1], market_price=Decimal("110")), NOW)
        page, unreadable = t.store.pending_work_page(WorkQuery(limit=2))
        rest, _ = t.store.pending_work_page(WorkQuery(after_id=page[-1].intent_id, limit=10))
        return [
            [(x.subscription_id, x.pairs) for x in targets],
            t.store.strategy_venues(seeded.strategy_id),
            t.store.live_venues_in_use(),
            [t.n("execution_intents", w.intent_id) for w in page],
            unreadable,
            [t.n("execution_intents", w.intent_id) for w in rest],
            [t.n("execution_intents", w.intent_id) for w in t.store.pending_work(sell)],
            t.store.unrouted_signal_ids(),
            t.store.risk_snapshot(
                RiskKeys([], DAY, strategy_pairs_keys=[(seeded.strategy_id, "BTC/USDT")])
            ).pairs,
            t.store.pending_work(None, NOW - timedelta(microseconds=1)),
            [t.n("execution_intents", w.intent_id) for w in t.store.pending_work(None, NOW, limit=3)],
        ]

    sql, memory = each(twins, scenario)
    assert sql == memory
    assert memory[0] == [(1, None), (3, None), (4, ["ETH/USDT"])]
    assert memory[1].paper and [v.exchange for v in memory[1].live] == ["binance"]
    assert memory[2] == list(memory[1].live)
    assert memory[3:7] == [[1, 2], [], [3, 4], [4]]
    [record] = memory[8].values()
    assert (record.trades, record.wins, record.open_entry) == (1, 1, None)
    assert twins[1].rows("strategies")[0]["track_index"] == Decimal("1.1")
    assert memory[9:] == [[], [1, 2, 3]]


# -- decisions and claims ----------------------------------------------------------------------------


def test_risk_alerts_told_once_a_pause_told_when_it_turns_and_a_breaker_opening(twins: list[Twin]) -> None:
    def scenario(t: Twin) -> list[Any]:
        seeded, work = _routed(t, [{}, {}])
        first, second = work

        def alert(item: WorkItem, day: str) -> RiskAlert:
            event = Event(item.user_id, Topic.RISK, "daily_loss", {"account_id": item.account_id, "day": day})
            return RiskAlert(event, Once("daily_loss", item.account_id, day))

        paused = Event(first.user_id, Topic.RISK, "paused", {"subscription_id": first.subscription_id})
        pause = Rejection(first, "drawdown", pause_reason="paused: drawdown", paused=paused)
        t.store.save_decisions(Decisions([pause], alerts=[alert(first, DAY), alert(first, DAY)]), NOW)
        again = replace(pause, item=second, paused=paused._replace(user_id=second.user_id))
        t.store.save_decisions(Decisions([again], alerts=[alert(first, DAY), alert(second, DAY)]), NOW)
        t.store.save_decisions(Decisions([pause]), NOW)  # paused already: not told again
        opened = t.store.breaker_opened(BreakerOpening(seeded.account_ids[1], "binance", 5, 30.0, "x"), NOW)
        shared = BreakerOpening(seeded.account_ids[1], "binance", 5, 30.0, "x", once="shared:1")
        told_once = [t.store.breaker_opened(shared, NOW) for _ in range(2)]  # two processes report it
        return [
            [(e["user_id"], e["topic"], e["type"]) for e in t.events() if e["topic"] == "risk"],
            [(r["trading_state"], r["state_reason"]) for r in t.rows("subscriptions")],
            opened,
            told_once,
        ]

    sql, memory = each(twins, scenario)
    assert sql == memory
    first_user, second_user = memory[0][0][0], memory[0][-1][0]
    assert memory[0] == [
        (first_user, "risk", "paused"),
        (first_user, "risk", "daily_loss"),
        (second_user, "risk", "paused"),
        (second_user, "risk", "daily_loss"),
        (second_user, "risk", "breaker_open"),
        (second_user, "risk", "breaker_open"),
    ]
    assert memory[1] == [("REDUCING", "paused: drawdown")] * 2
    assert memory[2] is True
    assert memory[3] == [True, False]


def test_decisions_reject_order_and_count_failures_in_one_go(twins: list[Twin]) -> None:
    def scenario(t: Twin) -> list[Any]:
        _seeded, work = _routed(t, [{}, {}, {}, {}])
        rejected = [
            Rejection(work[0], "below minimum", details={"risk": 1}),
            Rejection(work[1], "drawdown", LogStatus.SKIPPED, pause_reason="paused: drawdown"),
        ]
        failures = [FailedAttempt(work[3].intent_id, "attempt 1: boom", final=False)]
        records = t.store.save_decisions(Decisions(rejected, [_buy(work[2])], failures), NOW)
        replay = t.store.save_decisions(Decisions(new_orders=[replace_order(_buy(work[2]), "other")]), NOW)
        last = FailedAttempt(work[3].intent_id, "failed 5 times", final=True)
        t.store.save_decisions(Decisions(failures=[last]), NOW)
        return [
            [(r.order_id, r.client_order_id, r.state, r.sizing_note) for r in records],
            [(r.order_id, r.client_order_id, r.state) for r in replay],
            _intents(t),
            [(r["status"], r["reason"], r["intent_id"]) for r in t.rows("execution_log")],
            [(r["trading_state"], r["state_reason"]) for r in t.rows("subscriptions")],
            t.store.pending_work(),
        ]

    sql, memory = each(twins, scenario)
    assert sql == memory
    assert memory[0] == [(1, "tw0000000003", OrderState.NEW, "note")]
    assert memory[1] == [(1, "tw0000000003", OrderState.NEW)]
    assert memory[2] == [
        ("rejected", "below minimum", 0),
        ("rejected", "drawdown", 0),
        ("ordered", None, 0),
        ("failed", "failed 5 times", 2),
    ]
    assert memory[3] == [
        ("SKIPPED", "below minimum", 1),
        ("SKIPPED", "drawdown", 2),
        ("FAILED", "failed 5 times", 4),
    ]
    assert memory[4][1] == ("REDUCING", "paused: drawdown") and memory[4][0] == ("ACTIVE", None)
    assert memory[5] == []


def replace_order(order: NewOrder, client_order_id: str) -> NewOrder:
    return NewOrder(order.item, client_order_id, order.side, order.type, order.amount, order.price)


def test_claims_are_single_and_obey_the_trading_state_and_postponed_checks_back_off(
    twins: list[Twin],
) -> None:
    def scenario(t: Twin) -> list[Any]:
        _seeded, work = _routed(t, [{}, {"trading_state": "HALTED"}, {"trading_state": "REDUCING"}, {}])
        records = t.store.save_decisions(Decisions(new_orders=[_buy(w) for w in work]), NOW)
        first = t.store.claim_for_submission([r.order_id for r in records], NOW)
        second = t.store.claim_for_submission([r.order_id for r in records], NOW)
        t.store.postpone_checks([records[0]], "report not recorded", NOW)
        t.store.postpone_checks([records[1]], "never checked: it is final", NOW)
        return [
            first,
            second,
            [
                (o.order_id, o.state, o.rejection)
                for o in t.store.orders_in_states(OrderQuery(list(OrderState)))
            ],
            [(r["check_attempts"], r["next_check_at"], r["reason"]) for r in t.rows("orders")],
            _intents(t)[1:3],
            [o.order_id for o in t.store.due_orders(NOW + timedelta(seconds=5))],
            [o.order_id for o in t.store.due_orders(NOW + timedelta(seconds=5), limit=1)],
            [o.order_id for o in t.store.unsettled_orders(records[3].account_id)],
            [o.order_id for o in t.store.orders_by_client_ids(records[0].account_id, ["tw0000000001", "x"])],
        ]

    sql, memory = each(twins, scenario)
    assert sql == memory
    assert memory[0] == {1, 4} and memory[1] == set()
    assert memory[2] == [
        (1, OrderState.SUBMITTED, None),
        (2, OrderState.REJECTED, RejectionKind.NOT_SENT),
        (3, OrderState.REJECTED, RejectionKind.NOT_SENT),
        (4, OrderState.SUBMITTED, None),
    ]
    assert memory[3][0] == (1, NOW + timedelta(seconds=1), "report not recorded")
    assert memory[3][1] == (0, None, "not sent: subscription HALTED (no orders at all)")
    assert memory[4] == [
        ("failed", "not sent: subscription HALTED (no orders at all)", 0),
        ("failed", "not sent: subscription REDUCING (exits only, no entries)", 0),
    ]
    assert memory[5:] == [[1, 4], [1], [4], [1]]


# -- exchange reports --------------------------------------------------------------------------------


def test_partial_fills_repeats_and_a_fill_after_the_cancel_are_each_counted_once(twins: list[Twin]) -> None:
    def scenario(t: Twin) -> list[Any]:
        _seeded, work = _routed(t, [{}, {}])
        first, second = _sent(t, work)
        one = _trade("t1", "0.001", "100")
        two = _trade("t2", "0.001", "103")
        t.store.record_outcomes([OrderOutcome(first, _view(first, "open", "0.001", (one,)))], NOW)
        t.store.record_outcomes([OrderOutcome(first, _view(first, "open", "0.001", (one,)))], NOW)
        t.store.record_outcomes([OrderOutcome(first, _view(first, "closed", "0.002", (one, two)))], NOW)
        t.store.record_outcomes([OrderOutcome(second, _view(second, "canceled", "0"))], NOW)
        late = NOW + timedelta(seconds=3)
        t.store.record_outcomes(
            [OrderOutcome(second, _view(second, "canceled", "0.001", average="90"))], late
        )
        t.store.record_outcomes([OrderOutcome(second, unknown_reason="status check failed: timeout")], late)
        return [
            [(r["state"], r["filled"], r["average"], r["fee"], r["next_check_at"]) for r in t.rows("orders")],
            [(r["order_id"], r["trade_id"], r["amount"], r["price"]) for r in t.rows("fills")],
            [(r["amount"], r["avg_entry"], r["fees"]) for r in t.rows("positions")],
            _intents(t),
            [o.order_id for o in t.store.unsettled_orders()],
        ]

    sql, memory = each(twins, scenario)
    assert sql == memory
    assert [o[:3] for o in memory[0]] == [
        ("filled", Decimal("0.002"), Decimal("101.5")),
        ("canceled", Decimal("0.001"), Decimal("90")),
    ]
    assert memory[0][0][4] is None and memory[0][1][4] is not None
    assert [f[1:] for f in memory[1]][:2] == [
        ("t1", Decimal("0.001"), Decimal(100)),
        ("t2", Decimal("0.001"), Decimal(103)),
    ]
    assert len(memory[1]) == 3
    assert memory[2] == [
        (Decimal("0.002"), Decimal("101.5"), Decimal("0.02")),
        (Decimal("0.001"), Decimal(90), Decimal(0)),
    ]
    assert [i[0] for i in memory[3]] == ["done", "done"]
    assert memory[4] == [2]


def test_a_rejection_and_an_order_concluded_lost_then_found(twins: list[Twin]) -> None:
    def scenario(t: Twin) -> list[Any]:
        _seeded, work = _routed(t, [{}, {}])
        refused, lost = _sent(t, work)
        t.store.record_outcomes(
            [
                OrderOutcome(refused, rejected_reason="insufficient funds"),
                OrderOutcome(lost, rejected_reason="never reached it", rejection=RejectionKind.LOST),
            ],
            NOW,
        )
        [due] = t.store.due_orders(NOW + timedelta(hours=1))
        t.store.record_outcomes([OrderOutcome(due, _view(due, "open", "0"))], NOW + timedelta(seconds=5))
        return [
            [(r["state"], r["rejection"], r["reason"], r["next_check_at"] is None) for r in t.rows("orders")],
            _intents(t),
            [(r["status"], r["reason"]) for r in t.rows("execution_log")],
        ]

    sql, memory = each(twins, scenario)
    assert sql == memory
    assert memory[0][0] == ("rejected", "exchange", "insufficient funds", True)
    assert memory[0][1][:2] == ("open", None) and memory[0][1][3] is False
    assert memory[1][0][0] == "failed" and memory[1][1][0] == "ordered"


# -- positions and the platform's own orders ---------------------------------------------------------


def test_an_exit_closes_the_position_once_and_its_result_reaches_the_day_and_the_subscription(
    twins: list[Twin],
) -> None:
    plan = ExitPlan(ExitRules(stop_loss_pct=Decimal(5), take_profit_pct=Decimal(10)))

    def scenario(t: Twin) -> list[Any]:
        seeded, work = _routed(t, [{"risk_limits": {"cooldown_s": 60, "close_on_daily_loss": True}}, {}])
        _bought(t, work, plan)
        [watched, plain] = t.store.watched_positions()
        exit_order = _exit(watched, CloseReason.TP, "take profit at 110")
        first = t.store.save_auto_orders([exit_order], NOW)
        busy = t.store.save_auto_orders([exit_order], NOW)
        in_flight = (
            t.store.exits_in_flight([(watched.subscription_id, "BTC/USDT"), (2, "BTC/USDT")]),
            t.store.positions_exiting(),
        )
        t.store.claim_for_submission([first[0].order_id], NOW)
        later = NOW + timedelta(seconds=10)
        sale = _view(first[0], "closed", "0.003", (_trade("s1", "0.003", "90"),))
        t.store.record_outcomes([OrderOutcome(first[0], sale)], later)
        after_sale = t.store.exits_in_flight([(watched.subscription_id, "BTC/USDT")])
        t.store.save_best_prices({plain.position_id: Decimal("105")})
        retry = t.store.save_auto_orders([exit_order], later)
        sub_ids = [watched.subscription_id, plain.subscription_id]
        return [
            (watched.stop_loss, watched.take_profit, plain.stop_loss),
            [(r.client_order_id, r.side, r.close_reason, r.position_id) for r in first],
            busy,
            in_flight,
            [
                (r["status"], r["amount"], r["realized_pnl"], r["close_reason"], r["best_price"])
                for r in t.rows("positions")
            ],
            t.store.realized_on([watched.account_id, plain.account_id], DAY),
            t.store.risk_snapshot(
                RiskKeys([watched.account_id, plain.account_id], DAY, [(s, "BTC/USDT") for s in sub_ids])
            ),
            t.store.strategy_stats(seeded.strategy_id),
            t.store.open_position_amounts([(s, "BTC/USDT") for s in sub_ids]),
            [(p.position_id, p.is_open) for p in t.store.watched_positions(later)],
            t.store.daily_loss_closers(),
            [p.position_id for p in t.store.open_positions_of(sub_ids)],
            [r.client_order_id for r in retry],
            [(r["pnl_total"], r["pnl_peak"]) for r in t.rows("subscriptions")],
            after_sale,
            t.store.risk_snapshot(RiskKeys([watched.account_id], DAY)).per_account,
        ]

    sql, memory = each(twins, scenario)
    assert sql == memory
    assert memory[0] == (Decimal(95), Decimal(110), Decimal(95))
    assert memory[1] == [("tx0000000001a0", OrderSide.SELL, CloseReason.TP, 1)]
    assert memory[2] == [] and memory[3] == ({(1, "BTC/USDT")}, {1})
    closed, still_open = memory[4]
    assert closed[:4] == ("closed", Decimal(0), Decimal("-0.030"), "TP") and still_open[4] == Decimal(105)
    net = Decimal("-0.030") - Decimal("0.02")
    assert memory[5] == {1: net}
    snap = memory[6]
    assert (snap.per_account, snap.realized_today, snap.per_subscription) == ({2: 1}, {1: net}, {2: 1})
    assert snap.subscription_symbols == {2: ["BTC/USDT"]}
    assert snap.last_trade[(1, "BTC/USDT")] == NOW + timedelta(seconds=10)
    assert (memory[7].wins, memory[7].losses, memory[7].average_loss) == (0, 1, -net)
    assert memory[8] == {(2, "BTC/USDT"): Decimal("0.003")}
    assert memory[9] == [(1, False)]
    assert [c[:2] for c in memory[10]] == [(1, 1)] and memory[11] == [2]
    assert memory[12] == []  # the position is closed: nothing left to sell
    assert memory[13][0] == (net, Decimal(0))
    assert memory[14] == set()  # the sale is final: no exit in flight
    assert memory[15] == {}


def test_an_entry_that_may_still_fill_counts_as_an_open_position_for_the_limits(twins: list[Twin]) -> None:
    """The risk snapshot counts each open position, and each entry order that may still open one (once
    per subscription and symbol); an entry refused by the exchange no longer counts."""

    def scenario(t: Twin) -> list[Any]:
        seeded, work = _routed(t, [{}, {}, {}])
        _bought(t, work[1:2])  # the second subscriber: an open BTC position
        _sent(t, work[:1])  # the first: its entry sent, its outcome not known yet
        [refused] = _sent(t, work[2:])  # the third: its entry refused by the exchange
        t.store.record_outcomes([OrderOutcome(refused, rejected_reason="insufficient balance")], NOW)
        _sent(t, _route(t, seeded, "k2")[:2])  # both again on BTC: adds to what each has, no new position
        return [t.store.risk_snapshot(RiskKeys(seeded.account_ids, DAY))]

    sql, memory = each(twins, scenario)
    assert sql == memory
    [snap] = memory
    assert (snap.per_subscription, snap.per_account) == ({1: 1, 2: 1}, {1: 1, 2: 1})
    assert snap.open_symbols == {1: ["BTC/USDT"], 2: ["BTC/USDT"]}


def test_a_new_exit_after_a_refused_one_gets_the_next_attempt_and_a_halted_subscription_none(
    twins: list[Twin],
) -> None:
    def scenario(t: Twin) -> list[Any]:
        _seeded, positions, exits, first = _first_stop_sent(t)
        t.store.record_outcomes([OrderOutcome(first, rejected_reason="market closed")], NOW)
        t.members.update_subscription(
            positions[1].user_id, positions[1].subscription_id, {"trading_state": "HALTED"}
        )
        again = t.store.save_auto_orders(exits, NOW)
        tranche = AutoOrder(
            positions[0].position_id,
            positions[0].account_id,
            positions[0].subscription_id,
            positions[0].user_id,
            "paper",
            "paper",
            "BTC/USDT",
            Decimal("0.001"),
            None,
            "DCA 2/3",
            tranche=2,
        )
        return [
            [(r.client_order_id, r.state) for r in again],
            t.store.save_auto_orders([tranche], NOW),
            [(p.position_id, p.state) for p in t.store.watched_positions()],
        ]

    sql, memory = each(twins, scenario)
    assert sql == memory
    assert memory[0] == [("tx0000000001a1", OrderState.NEW)]
    assert memory[1] == []  # an exit is in flight on that position
    assert [s for _, s in memory[2]] == ["ACTIVE", "HALTED"]


def test_no_next_exit_while_an_earlier_one_or_a_signal_s_sell_may_still_fill_and_it_sells_what_is_left(
    twins: list[Twin],
) -> None:
    def scenario(t: Twin) -> list[Any]:
        seeded, (first, second), exits, exit_order = _first_stop_sent(t)
        part = _view(exit_order, "canceled", "0.001", (_trade("s1", "0.001", "95"),))
        t.store.record_outcomes([OrderOutcome(exit_order, part)], NOW)
        sell = t.store.insert_signal(_signal(seeded.strategy_id, "sell", action=SignalAction.SELL))[0]
        t.store.create_intents(Routing(sell, t.store.active_targets(seeded.strategy_id)[1:]), NOW)
        [item] = t.store.pending_work(sell)
        signal_sale = NewOrder(item, "tw-sell", OrderSide.SELL, OrderType.MARKET, Decimal("0.003"), None)
        t.store.save_decisions(Decisions(new_orders=[signal_sale]), NOW)
        waiting = (t.store.positions_exiting(), t.store.positions_exiting([second.position_id]))
        held_back = t.store.save_auto_orders(exits, NOW)
        [due] = t.store.orders_by_client_ids(first.account_id, [exit_order.client_order_id])
        for _ in range(3):  # its late checks, without news
            t.store.record_outcomes([OrderOutcome(due, part)], NOW + timedelta(minutes=5))
        settled = t.store.exits_in_flight([(first.subscription_id, "BTC/USDT")])
        after_window = t.store.save_auto_orders(exits[:1], NOW + timedelta(minutes=5))
        return [waiting, held_back, settled, [(r.client_order_id, r.amount) for r in after_window]]

    sql, memory = each(twins, scenario)
    assert sql == memory
    # The canceled exit may still fill late; the second position has a signal's sell pending.
    assert memory[0] == ({1, 2}, {2}) and memory[1] == []
    assert memory[2] == set()  # ... once its window of late checks is over
    assert memory[3] == [("tx0000000001a1", Decimal("0.002"))]  # what is left, not the first amount


def test_an_exit_refused_for_funds_writes_off_what_is_gone_and_closes_a_position_held_no_more(
    twins: list[Twin],
) -> None:
    def scenario(t: Twin) -> list[Any]:
        seeded, (first, second), _exits, exit_order = _first_stop_sent(t)
        refusal = "insufficient_funds: binance Account has insufficient balance"
        t.store.record_outcomes([OrderOutcome(exit_order, rejected_reason=refusal)], NOW)
        refused = t.store.exits_refused_for_funds([first.position_id, second.position_id])
        short = decide(Decimal("0.003"), AssetBalance.of(Decimal("0.001"), None, None), BTC_USDT)
        gone = decide(Decimal("0.003"), AssetBalance.of(Decimal(0), None, None), BTC_USDT)
        saved = [
            t.store.settle_held_exit(first.position_id, short, NOW),
            t.store.settle_held_exit(first.position_id, short, NOW),  # decided on 0.003: stale now
            t.store.settle_held_exit(second.position_id, gone, NOW),
        ]
        return [
            refused,
            saved,
            t.store.strategy_stats(seeded.strategy_id).trades,
            [(p["status"], p["amount"], p["cost_basis"], p["close_reason"]) for p in t.rows("positions")],
            [
                (e["type"], data["written_off"])
                for e in t.events()
                if e["topic"] == "positions" and "written_off" in (data := json.loads(e["data"]))
            ],
        ]

    sql, memory = each(twins, scenario)
    assert sql == memory
    assert memory[0] == {1}
    assert memory[1] == [True, False, True]
    assert memory[2] == 0  # a position closed outside tradewire is no trade of the strategy's record
    assert memory[3] == [
        ("open", Decimal("0.001"), Decimal("0.1"), None),
        ("closed", Decimal(0), Decimal(0), "OUTSIDE"),
    ]
    assert memory[4] == [("exit_refused", "0.002"), ("closed", "0.003")]


# -- the events outbox -------------------------------------------------------------------------------


def test_each_change_writes_its_events_numbered_per_user_and_the_owner_hears_only_of_its_signal(
    twins: list[Twin],
) -> None:
    def scenario(t: Twin) -> list[Any]:
        seeded, work = _routed(t, [{}, {}])
        again = Routing(work[0].signal_id, t.store.active_targets(seeded.strategy_id))
        t.store.create_intents(again, NOW)  # routed again: nothing new
        rejected = Rejection(work[1], "below minimum", details={"min_notional": {"ok": False}})
        [entry] = t.store.save_decisions(Decisions([rejected], [_buy(work[0])]), NOW)
        t.store.claim_for_submission([entry.order_id], NOW)
        for _ in range(2):  # open, then nothing new
            t.store.record_outcomes([OrderOutcome(entry, _view(entry, "open", "0"))], NOW)
        fill = _view(entry, "closed", "0.003", (_trade("b1", "0.003", "100"),))
        t.store.record_outcomes([OrderOutcome(entry, fill)], NOW)
        return [(e["user_id"], e["id"], e["topic"], e["type"], json.loads(e["data"])) for e in t.events()]

    sql, memory = each(twins, scenario)
    provider, first, second = 1, 2, 3
    assert [(u, n, topic, kind) for u, n, topic, kind, _ in memory] == [
        (provider, 1, "signals", "received"),
        (provider, 2, "provider", "signal"),
        (first, 1, "signals", "received"),
        (first, 2, "intents", "created"),
        (first, 3, "intents", "ordered"),
        (first, 4, "orders", "new"),
        (first, 5, "orders", "updated"),
        (first, 6, "orders", "updated"),
        (first, 7, "orders", "updated"),
        (first, 8, "fills", "new"),
        (first, 9, "positions", "opened"),
        (first, 10, "intents", "done"),
        (second, 1, "signals", "received"),
        (second, 2, "intents", "created"),
        (second, 3, "intents", "rejected"),
    ]
    data = {(u, n): d for u, n, _, _, d in memory}
    assert data[(provider, 2)]["subscriptions"] == 2 and "account_id" not in data[(provider, 2)]
    assert data[(second, 3)]["reason"] == "below minimum"
    assert data[(second, 3)]["details"] == {"min_notional": {"ok": False}}
    assert data[(first, 5)] == {"order_id": 1, "state": "submitted"}
    assert data[(first, 6)]["state"] == "open"
    assert (data[(first, 7)]["state"], data[(first, 7)]["filled"]) == ("filled", "0.003")
    assert (data[(first, 9)]["amount"], data[(first, 9)]["avg_entry"]) == ("0.003", "100")
    assert [(u, n, topic, kind) for u, n, topic, kind, _ in sql] == [
        (u, n, topic, kind) for u, n, topic, kind, _ in memory
    ]
