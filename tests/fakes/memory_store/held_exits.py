"""The twin's exits refused for insufficient funds, as adapters/store/held_exits.py keeps them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from tests.fakes.memory_store.positions import may_still_fill
from tests.fakes.memory_store.settlement import save_results
from tests.fakes.memory_store.tables import Tables
from tradewire.domain.events import Event
from tradewire.domain.execution import LogStatus
from tradewire.domain.held_exit import (
    HeldExit,
    PositionOwner,
    held_exit_event,
    refused_for_funds,
    written_off,
)
from tradewire.domain.orders import OrderState, RejectionKind
from tradewire.domain.positions import Position, PositionStatus
from tradewire.domain.settlement import ClosedResult, realised_results
from tradewire.domain.tranches import PositionPhase


class HeldExitsTwin:
    tables: Tables

    def _with_events(self, now: datetime) -> AbstractContextManager[list[Event]]:
        raise NotImplementedError  # EventsTwin's

    def exits_refused_for_funds(self, position_ids: Sequence[int]) -> set[int]:
        wanted = set(position_ids)
        latest: dict[int, dict[str, Any]] = {}
        for o in self.tables.where("orders"):
            pid = o["position_id"]
            if pid in wanted and (pid not in latest or o["id"] > latest[pid]["id"]):
                latest[pid] = o
        return {
            pid
            for pid, o in latest.items()
            if o["side"] == "sell"
            and o["state"] == OrderState.REJECTED.value
            and o.get("rejection") in (RejectionKind.EXCHANGE.value, None)
            and refused_for_funds(o.get("reason"))
        }

    def settle_held_exit(self, position_id: int, decision: HeldExit, now: datetime) -> bool:
        with self._with_events(now) as made:
            r = self.tables["positions"].get(position_id)
            if r is None or r["status"] != PositionStatus.OPEN.value or r["amount"] != decision.amount:
                return False
            if any(
                o["position_id"] == position_id and o["side"] == "sell" and may_still_fill(o)
                for o in self.tables.where("orders")
            ):
                return False
            before = Position(
                r["symbol"], r["amount"], r["avg_entry"], r["cost_basis"], r["realized_pnl"], r["fees"]
            )
            after = written_off(before, decision)
            closed = after.status is PositionStatus.CLOSED
            if decision.changes_position:
                r.update(
                    amount=after.amount,
                    cost_basis=after.cost_basis,
                    status=after.status.value,
                    close_reason=after.close_reason.value if after.close_reason else None,
                    closed_at=now if closed else None,
                    updated_at=now,
                )
                if closed:
                    r["phase"] = PositionPhase.CLOSED.value
            if closed:
                net = after.realized_pnl - after.fees
                closing = ClosedResult(r["account_id"], r["subscription_id"], net)
                save_results(self.tables, realised_results([closing], now))
            owner = PositionOwner(
                position_id, r["user_id"], r["account_id"], r["subscription_id"], r["mode"], r["symbol"]
            )
            self.tables.insert(
                "execution_log",
                {
                    "subscription_id": owner.subscription_id,
                    "account_id": owner.account_id,
                    "user_id": owner.user_id,
                    "status": LogStatus.SKIPPED.value,
                    "reason": f"position {position_id} ({owner.symbol}): {decision.note()}",
                    "created_at": now,
                },
            )
            made.append(held_exit_event(owner, after, decision))
            return True
