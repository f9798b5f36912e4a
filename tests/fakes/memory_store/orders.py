"""The twin's execution half: pending intents, decisions, orders, claims and exchange reports."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from decimal import Decimal

from tests.fakes.memory_store.positions import may_still_fill
from tests.fakes.memory_store.settlement import settle
from tests.fakes.memory_store.tables import Row, Tables
from tradewire.adapters.store.order_rows import executor_order_row, new_order_record, order_record
from tradewire.adapters.store.settlement import log_row
from tradewire.adapters.store.values import bounded_reason, error_reason, trading_state
from tradewire.adapters.store.work_items import work_item
from tradewire.domain.events import Event, FailedIntent, decided, orders_submitted
from tradewire.domain.execution import IntentStatus, LogStatus
from tradewire.domain.orders import (
    LATE_FILL_CHECKS_S,
    TERMINAL_STATES,
    OrderSide,
    OrderState,
    OrderType,
    RejectionKind,
    next_check_delay_s,
    outcome_pending,
)
from tradewire.domain.partitions import Partitions, owns
from tradewire.domain.positions import CloseReason, PositionStatus
from tradewire.domain.records import (
    Decisions,
    FailedAttempt,
    NewOrder,
    OrderOutcome,
    OrderQuery,
    OrderRecord,
    Proposal,
    Rejection,
    UnreadableWork,
    WorkItem,
    WorkPage,
    WorkQuery,
)
from tradewire.domain.risk import TradingState, allows
from tradewire.domain.sizing import TradeStats

log = logging.getLogger("tradewire.store")

CREATED = IntentStatus.CREATED.value
OPEN = PositionStatus.OPEN.value


class OrdersTwin:
    """Intents decided, orders stored, claimed and settled from exchange reports, as SqlStore does."""

    tables: Tables
    late_fill_checks: tuple[float, ...] = LATE_FILL_CHECKS_S

    def _with_events(self, now: datetime) -> AbstractContextManager[list[Event]]:
        raise NotImplementedError  # EventsTwin's

    def _propose(self, proposals: Sequence[Proposal], now: datetime) -> list[Proposal]:
        raise NotImplementedError  # ConfirmationsTwin's

    # -- reading ----------------------------------------------------------------------------------

    def pending_work(
        self, signal_id: int | None = None, created_before: datetime | None = None, limit: int = 5000
    ) -> list[WorkItem]:
        return self.pending_work_page(WorkQuery(signal_id, created_before, limit=limit)).work

    def pending_work_page(self, query: WorkQuery) -> WorkPage:
        work: list[WorkItem] = []
        unreadable: list[UnreadableWork] = []
        signal_id, created_before = query.signal_id, query.created_before
        for intent in self.tables.where("execution_intents", status=CREATED):
            if len(work) + len(unreadable) >= query.limit:
                break
            if intent["id"] <= query.after_id or (signal_id is not None and intent["signal_id"] != signal_id):
                continue
            if created_before is not None and intent["created_at"] > created_before:
                continue
            if not owns(query.partitions, intent["account_id"]):
                continue
            row = self._work_row(intent)
            if row is None:  # an inner join finds no row
                continue
            try:
                work.append(work_item(row, self.tables.restrictions()))
            except Exception as exc:  # a row an older version (or a hand) wrote: it fails alone
                unreadable.append(
                    UnreadableWork(intent["id"], f"stored intent cannot be read: {error_reason(exc)}")
                )
        return WorkPage(work, unreadable)

    def _work_row(self, intent: Row) -> Row | None:
        """The columns SqlStore selects for a work item: the intent joined to its signal, subscription,
        strategy and account."""
        signal = self.tables["signals"].get(intent["signal_id"])
        sub = self.tables["subscriptions"].get(intent["subscription_id"])
        account = self.tables["exchange_accounts"].get(intent["account_id"])
        strategy = self.tables["strategies"].get(sub["strategy_id"]) if sub else None
        if signal is None or sub is None or account is None or strategy is None:
            return None
        row = {k: signal[k] for k in ("symbol", "ticker", "action", "contracts", "price", "details")}
        row |= {k: signal[k] for k in ("signal_time", "received_at")}
        row |= {k: sub[k] for k in _SUBSCRIPTION_COLUMNS}
        row["subscription_status"] = sub["status"]
        row |= {
            k: intent[k]
            for k in (
                *("id", "signal_id", "subscription_id", "account_id", "user_id", "attempts"),
                *("proposal", "confirmed_at"),
            )
        }
        return row | {
            "mode": account["mode"],
            "exchange": account["exchange"],
            "track_index": strategy["track_index"],
            "track_peak": strategy["track_peak"],
        }

    def strategy_stats(self, strategy_id: int, last: int = 500) -> TradeStats:
        subs = {s["id"] for s in self.tables.where("subscriptions", strategy_id=strategy_id)}
        closed = [
            p
            for p in self.tables.where("positions", status=PositionStatus.CLOSED.value)
            if p["subscription_id"] in subs and p["close_reason"] != CloseReason.OUTSIDE.value
        ]
        return TradeStats.of([p["realized_pnl"] - p["fees"] for p in reversed(closed)][:last])

    def open_position_amounts(self, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Decimal]:
        wanted = set(keys)
        return {
            (p["subscription_id"], p["symbol"]): p["amount"]
            for p in self.tables.where("positions", status=OPEN)
            if (p["subscription_id"], p["symbol"]) in wanted
        }

    def exits_in_flight(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        wanted = set(keys)
        return {
            (o["subscription_id"], o["symbol"])
            for o in self.tables.where("orders", side=OrderSide.SELL.value)
            if o["position_id"] is not None
            and may_still_fill(o)
            and (o["subscription_id"], o["symbol"]) in wanted
        }

    def outcomes_pending(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        wanted = set(keys)
        return {
            (o["subscription_id"], o["symbol"])
            for o in self.tables.where("orders")
            if (o["subscription_id"], o["symbol"]) in wanted
            and outcome_pending(OrderState(o["state"]), OrderType(o["type"]))
        }

    def orders_in_states(self, query: OrderQuery) -> list[OrderRecord]:
        wanted = {s.value for s in query.states}
        before = query.created_before
        return self._orders_where(
            lambda o: (
                o["state"] in wanted
                and (before is None or o["created_at"] < before)
                and owns(query.partitions, o["account_id"])
            )
        )

    def unsettled_orders(self, account_id: int | None = None) -> list[OrderRecord]:
        unsettled = {OrderState.SUBMITTED.value, OrderState.OPEN.value, OrderState.PARTIALLY_FILLED.value}
        terminal = {s.value for s in TERMINAL_STATES}

        def wanted(o: Row) -> bool:
            watched = o["state"] in terminal and o["next_check_at"] is not None
            return (o["state"] in unsettled or watched) and account_id in (None, o["account_id"])

        return self._orders_where(wanted)

    def orders_by_client_ids(self, account_id: int, client_order_ids: Sequence[str]) -> list[OrderRecord]:
        ids = set(client_order_ids)
        return self._orders_where(lambda o: o["account_id"] == account_id and o["client_order_id"] in ids)

    def due_orders(
        self, now: datetime, limit: int = 1000, partitions: Partitions | None = None
    ) -> list[OrderRecord]:
        return self._orders_where(
            lambda o: (
                o["next_check_at"] is not None
                and o["next_check_at"] <= now
                and owns(partitions, o["account_id"])
            )
        )[:limit]

    def _orders_where(self, condition: Callable[[Row], bool]) -> list[OrderRecord]:
        """OrderRecords of the orders meeting `condition`, in id order, with their account's exchange,
        their intent's signal and their subscription's entry order settings."""
        records = []
        for order in self.tables.with_owner("orders", condition, "entry_order"):
            intent = self.tables["execution_intents"].get(order["intent_id"] or 0)
            records.append(order_record(order | {"signal_id": intent["signal_id"] if intent else None}))
        return records

    # -- writing ----------------------------------------------------------------------------------

    def save_decisions(self, decisions: Decisions, now: datetime) -> list[OrderRecord]:
        rejections, new_orders, failures, proposals, alerts = decisions
        with self._with_events(now) as made:
            failed = self._record_failures(failures, now)
            intents = self.tables["execution_intents"]
            for r in rejections:
                intent = intents.get(r.item.intent_id)
                if intent is not None and intent["status"] == CREATED:
                    intent.update(status=IntentStatus.REJECTED.value, reason=r.reason, updated_at=now)
            for r in rejections:
                self.tables.insert_new(
                    "execution_log", log_row(r.item, r.log_status, r.reason, None, r.details, now)
                )
            pauses: dict[int, Rejection] = {}
            for r in rejections:
                if r.pause_reason:
                    pauses.setdefault(r.item.subscription_id, r)
            for subscription_id, r in pauses.items():
                sub = self.tables["subscriptions"].get(subscription_id)
                if sub is not None and sub["trading_state"] == TradingState.ACTIVE.value:
                    why = r.pause_reason
                    sub.update(trading_state=TradingState.REDUCING.value, state_reason=why, updated_at=now)
                    if r.paused is not None:
                        made.append(r.paused)
            proposed = self._propose(proposals, now)
            made += self.tables.alert_events(alerts, now)
            if not new_orders:
                made += decided(rejections, failed, [], proposed)
                return []
            for o in new_orders:
                self.tables.insert("orders", executor_order_row(o, now), ignore_conflicts_on=("intent_id",))
            for o in new_orders:
                intent = intents.get(o.item.intent_id)
                if intent is not None and intent["status"] == CREATED:
                    intent.update(status=IntentStatus.ORDERED.value, updated_at=now)
            placed, earlier = self._stored_new_orders(new_orders, now)
            made += decided(rejections, failed, placed, proposed)
            return sorted(placed + earlier, key=lambda r: r.order_id)

    def _stored_new_orders(
        self, new_orders: Sequence[NewOrder], now: datetime
    ) -> tuple[list[OrderRecord], list[OrderRecord]]:
        wanted = {o.item.intent_id: o for o in new_orders}
        records: list[OrderRecord] = []
        existing: set[int] = set()
        for order in self.tables.where("orders"):
            mine = wanted.get(order["intent_id"])
            if mine is None:
                continue
            if order["client_order_id"] == mine.client_order_id and order["state"] == OrderState.NEW.value:
                records.append(new_order_record(order["id"], mine, now))
            else:
                existing.add(order["id"])
        return sorted(records, key=lambda r: r.order_id), self._orders_where(lambda o: o["id"] in existing)

    def _record_failures(self, failures: Sequence[FailedAttempt], now: datetime) -> list[FailedIntent]:
        failed: list[FailedIntent] = []
        for failure in failures:
            intent = self.tables["execution_intents"].get(failure.intent_id)
            if intent is None or intent["status"] != CREATED:
                continue
            intent.update(
                attempts=intent["attempts"] + 1, reason=bounded_reason(failure.reason), updated_at=now
            )
            if not failure.final:
                continue
            intent["status"] = IntentStatus.FAILED.value
            entry = {k: intent[k] for k in ("signal_id", "subscription_id", "account_id", "user_id")}
            entry |= {"intent_id": failure.intent_id, "status": LogStatus.FAILED.value, "created_at": now}
            self.tables.insert_new("execution_log", entry | {"reason": bounded_reason(failure.reason)})
            failed.append(
                FailedIntent(
                    failure.intent_id,
                    intent["user_id"],
                    intent["signal_id"],
                    intent["subscription_id"],
                    bounded_reason(failure.reason),
                )
            )
        return failed

    def claim_for_submission(self, order_ids: Sequence[int], now: datetime) -> set[int]:
        if not order_ids:
            return set()
        claimed: dict[int, int] = {}
        with self._with_events(now) as made:
            ids = sorted(set(order_ids))
            refused = self._refused_by_trading_state(ids, now, made)
            for order_id in ids:
                order = self.tables["orders"].get(order_id)
                if order_id in refused or order is None or order["state"] != OrderState.NEW.value:
                    continue
                next_check = now + timedelta(seconds=next_check_delay_s(0))
                order.update(state=OrderState.SUBMITTED.value, updated_at=now, next_check_at=next_check)
                claimed[order_id] = order["user_id"]
            made += orders_submitted(sorted(claimed.items()))
        return set(claimed)

    def _refused_by_trading_state(
        self, order_ids: Sequence[int], now: datetime, made: list[Event]
    ) -> set[int]:
        why: dict[int, str] = {}
        limits = self.tables.restrictions()
        for order_id in order_ids:
            order = self.tables["orders"].get(order_id)
            if order is None or order["state"] != OrderState.NEW.value:
                continue
            sub = self.tables["subscriptions"].get(order["subscription_id"] or 0)
            # An order without a subscription obeys the platform and its owner only.
            own = TradingState.ACTIVE if sub is None else trading_state(sub["trading_state"])
            state = limits.state(own, order["user_id"])
            if not allows(state, entry=order["side"] == OrderSide.BUY.value):
                rule = "no orders at all" if state is TradingState.HALTED else "exits only, no entries"
                why[order_id] = f"not sent: {limits.why(own, order['user_id'])} ({rule})"
        if not why:
            return set()
        records = self._orders_where(lambda o: o["id"] in why)
        refusals = [
            OrderOutcome(r, rejected_reason=why[r.order_id], rejection=RejectionKind.NOT_SENT)
            for r in records
        ]
        made += settle(self.tables, refusals, now, self.late_fill_checks)
        return set(why)

    def postpone_checks(self, records: Sequence[OrderRecord], reason: str, now: datetime) -> None:
        with self.tables.transaction():
            for record in records:
                order = self.tables["orders"].get(record.order_id)
                if order is None or order["next_check_at"] is None:
                    continue
                attempts = record.check_attempts + 1
                order.update(
                    check_attempts=attempts,
                    next_check_at=now + timedelta(seconds=next_check_delay_s(attempts)),
                    reason=bounded_reason(reason),
                    updated_at=now,
                )

    def record_outcomes(self, outcomes: Sequence[OrderOutcome], now: datetime) -> None:
        if not outcomes:
            return
        with self._with_events(now) as made:
            made += settle(self.tables, outcomes, now, self.late_fill_checks)


_SUBSCRIPTION_COLUMNS: tuple[str, ...] = (
    "sizing_mode",
    "sizing_value",
    "sizing_params",
    "strategy_id",
    "risk_limits",
    "exit_rules",
    "dca",
    "entry_order",
    "trading_state",
    "pnl_total",
    "pnl_peak",
    "confirmation",
    "confirmation_timeout_s",
    "max_confirm_drift_pct",
)
