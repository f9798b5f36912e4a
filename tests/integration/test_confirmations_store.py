"""Confirm before trade in the store: proposals, confirms, declines and expiry are conditional updates
that exactly one caller wins. Each scenario runs on SQLite, PostgreSQL and the in-memory twin, whose
tables (and events) must end equal (tests/integration/test_store_contract.py); then many threads race
to confirm one intent on PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.fakes.memory_exchange import Exchanges, FixedClock
from tests.integration.test_store_contract import NOW, Twin, _routed, _signal, each, twins
from tests.support import seed_marketplace
from tradewire.adapters.bus import InProcessBus
from tradewire.adapters.store.sql import SqlStore
from tradewire.domain.members import NotFound
from tradewire.domain.orders import OrderState
from tradewire.domain.records import Decisions, OrderQuery, Proposal, Routing, WorkItem
from tradewire.services.execution import Executor

__all__ = ["twins"]  # the contract's fixture: SqlStore on SQLite and PostgreSQL, and the twin

ASKS: dict[str, Any] = {"confirmation": "api"}
DEADLINE = NOW + timedelta(seconds=300)


def _proposal(item: WorkItem) -> Proposal:
    terms = {"symbol": item.symbol, "amount": "1", "price": "100", "timeout_s": 300}
    return Proposal(item, DEADLINE, terms, f"waiting for confirmation (api) until {DEADLINE.isoformat()}")


def _proposed(t: Twin, subscribers: int = 2) -> tuple[list[int], list[WorkItem]]:
    """A signal routed to `subscribers` subscriptions that ask for confirmation, each proposed."""
    seeded, work = _routed(t, [ASKS] * subscribers)
    assert t.store.save_decisions(Decisions(proposals=[_proposal(w) for w in work]), NOW) == []
    return seeded.subscriber_ids, work


def _statuses(t: Twin) -> list[tuple[str, str | None]]:
    return [(r["status"], r["reason"]) for r in t.rows("execution_intents")]


def _answer(t: Twin, user_id: int, intent_id: int, confirm: bool, at: Any = NOW) -> tuple[Any, ...]:
    a = t.store.answer_proposal(user_id, intent_id, confirm, "trader", at)
    return (a.won, a.status, a.reason)


def test_a_proposal_waits_and_is_not_pending_work(twins: list[Twin]) -> None:
    def scenario(t: Twin) -> list[Any]:
        _, work = _proposed(t)
        again = t.store.save_decisions(Decisions(proposals=[_proposal(work[0])]), NOW)  # once only
        waiting = t.rows("execution_intents")
        return [
            again,
            t.store.pending_work(),
            [(r["status"], r["confirm_by"] == DEADLINE, r["proposal"]["amount"]) for r in waiting],
            [r["status"] for r in t.rows("execution_log")],
        ]

    sql, memory = each(twins, scenario)
    assert sql == memory
    assert sql[1] == []  # neither the executor nor a restart's recovery picks a waiting intent up
    assert sql[2] == [("awaiting_confirmation", True, "1")] * 2
    assert sql[3] == ["WAITING", "WAITING"]


def test_a_second_confirm_loses_and_the_confirmed_intent_is_decided_again(twins: list[Twin]) -> None:
    def scenario(t: Twin) -> list[Any]:
        users, work = _proposed(t)
        first = _answer(t, users[0], work[0].intent_id, True)
        second = _answer(t, users[0], work[0].intent_id, True)
        [pending] = t.store.pending_work()
        return [first, second, (pending.intent_id, pending.confirmed, pending.proposal_price)]

    sql, memory = each(twins, scenario)
    assert sql == memory
    first, second, pending = sql
    assert first == (True, "created", "confirmed by trader")
    assert second[:2] == (False, "created")
    assert pending[1:] == (True, Decimal(100))


def test_a_confirm_and_a_decline_of_one_intent_find_one_winner(twins: list[Twin]) -> None:
    def scenario(t: Twin) -> list[Any]:
        users, work = _proposed(t)
        return [
            _answer(t, users[0], work[0].intent_id, True),
            _answer(t, users[0], work[0].intent_id, False),
            _answer(t, users[1], work[1].intent_id, False),
            _answer(t, users[1], work[1].intent_id, True),
            _statuses(t),
        ]

    sql, memory = each(twins, scenario)
    assert sql == memory
    confirmed, late_decline, declined, late_confirm, statuses = sql
    assert (confirmed[:2], late_decline[:2]) == ((True, "created"), (False, "created"))
    assert declined == (True, "rejected", "declined by trader: nothing traded")
    assert late_confirm == (False, "rejected", declined[2])
    assert [s for s, _ in statuses] == ["created", "rejected"]


def test_a_confirm_at_or_after_the_deadline_loses_and_ends_the_proposal(twins: list[Twin]) -> None:
    def scenario(t: Twin) -> list[Any]:
        users, work = _proposed(t)
        late = _answer(t, users[0], work[0].intent_id, True, DEADLINE)
        return [late, _statuses(t), t.store.pending_work(), [r["status"] for r in t.rows("execution_log")]]

    sql, memory = each(twins, scenario)
    assert sql == memory
    late, statuses, pending, log = sql
    assert late == (False, "rejected", "not confirmed within 300 s: nothing traded")
    assert statuses[0] == late[1:] and statuses[1][0] == "awaiting_confirmation"
    assert pending == [] and log == ["WAITING", "WAITING", "SKIPPED"]


def test_the_sweep_expires_only_proposals_past_their_deadline(twins: list[Twin]) -> None:
    def scenario(t: Twin) -> list[Any]:
        users, work = _proposed(t)
        _answer(t, users[0], work[0].intent_id, True)  # confirmed: never expires
        early = t.store.expire_proposals(DEADLINE - timedelta(seconds=1))
        due = t.store.expire_proposals(DEADLINE)
        again = t.store.expire_proposals(DEADLINE + timedelta(hours=1))
        return [early, due, again, _statuses(t)]

    sql, memory = each(twins, scenario)
    assert sql == memory
    assert sql[:3] == [0, 1, 0]
    assert [s for s, _ in sql[3]] == ["created", "rejected"]


def test_another_users_intent_is_not_found_and_unchanged(twins: list[Twin]) -> None:
    def scenario(t: Twin) -> list[Any]:
        users, work = _proposed(t)
        with pytest.raises(NotFound):
            t.store.answer_proposal(users[1], work[0].intent_id, True, "intruder", NOW)
        with pytest.raises(NotFound):
            t.store.answer_proposal(users[0], 10_000, False, "nobody", NOW)
        return _statuses(t)

    sql, memory = each(twins, scenario)
    assert sql == memory
    assert [s for s, _ in sql] == ["awaiting_confirmation"] * 2


@pytest.mark.postgres
def test_many_threads_confirming_one_intent_give_one_winner_and_one_order(postgres_engine: Engine) -> None:
    engine = postgres_engine
    seeded = seed_marketplace(engine, [ASKS])
    store = SqlStore(engine)

    signal_id, _ = store.insert_signal(_signal(seeded.strategy_id))
    store.create_intents(Routing(signal_id, store.active_targets(seeded.strategy_id)), NOW)
    [item] = store.pending_work(signal_id)
    store.save_decisions(Decisions(proposals=[_proposal(item)]), NOW)
    user_id = seeded.subscriber_ids[0]
    exchanges, clock = Exchanges(), FixedClock(NOW)

    callers = 12
    start = threading.Barrier(callers)
    wins: list[bool] = []
    errors: list[BaseException] = []
    sent: list[int] = []

    def answer(number: int) -> None:
        try:
            start.wait(10)
            won = store.answer_proposal(user_id, item.intent_id, True, f"caller {number}", NOW).won
            wins.append(won)
            # Every caller then runs an executor of its own, as separate workers would.
            executor = Executor(store, exchanges, InProcessBus(), clock)
            sent.append(asyncio.run(executor.execute_pending()))
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=answer, args=(n,)) for n in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert wins.count(True) == 1
    assert store.pending_work() == []
    [order] = store.orders_in_states(OrderQuery(list(OrderState)))
    assert order.intent_id == item.intent_id and order.state is OrderState.FILLED
    assert len(exchanges.default.creates) == sum(sent) == 1
