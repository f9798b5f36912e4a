"""Confirm before trade: the one use case every channel (the API now; Telegram buttons and the
dashboard later) answers a proposed entry through, and the expiry of unanswered ones.

The executor proposes (services/execution.py, `proposal_of`); a confirm is one conditional update in
the store that exactly one caller wins, after which the executor is woken (INTENT_CONFIRMED, like a
webhook's signal) and decides the intent afresh: risk on the state of now, sizing again, and a refusal
if the price drifted more than the subscription allows. The database is the truth: a lost wake-up is
made good by the pipeline's sweep, which also expires proposals past their deadline."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tradewire.domain.confirmation import proposal_terms
from tradewire.domain.execution import OrderPlan
from tradewire.domain.members import Conflict, User
from tradewire.domain.records import Answer, Proposal, WorkItem
from tradewire.ports import Bus, Clock, ConfirmationStore

log = logging.getLogger("tradewire.confirmations")

INTENT_CONFIRMED = "intent.confirmed"


def proposal_of(item: WorkItem, plan: OrderPlan, now: datetime) -> Proposal:
    """The entry `plan` of `item`, proposed to its owner until now + the subscription's timeout."""
    timeout_s = item.confirmation.timeout_s
    confirm_by = now + timedelta(seconds=timeout_s)
    exits = item.exit_plan(plan.later)
    reference = plan.market_price or plan.reference_price
    stop = exits.stop_at(reference) if exits else None
    target = exits.target_at(reference) if exits else None
    terms = proposal_terms(item.symbol, plan, reference, stop, target, item.confidence, confirm_by, timeout_s)
    note = (
        f"waiting for confirmation ({item.confirmation.via.value}) until {confirm_by.isoformat()}: "
        f"buy {terms['amount']} {item.symbol} ({terms['order_type']})"
    )
    return Proposal(item, confirm_by, terms, note)


@dataclass(slots=True, eq=False)
class Confirmations:
    """A user's answers to the entries proposed to them."""

    store: ConfirmationStore
    bus: Bus
    clock: Clock

    async def confirm(self, user: User, intent_id: int) -> Answer:
        """Say yes: the intent is decided again now (one order or none, whoever else answers).
        NotFound: not the user's intent; Conflict: it does not await (its status and why)."""
        answer = await self._answer(user, intent_id, confirm=True)
        await self.bus.publish(INTENT_CONFIRMED, {"intent_id": intent_id, "signal_id": answer.signal_id})
        return answer

    async def decline(self, user: User, intent_id: int) -> Answer:
        """Say no: the intent ends rejected, "declined by <user>"; nothing trades."""
        return await self._answer(user, intent_id, confirm=False)

    async def _answer(self, user: User, intent_id: int, confirm: bool) -> Answer:
        answer = await asyncio.to_thread(
            self.store.answer_proposal, user.id, intent_id, confirm, user.username, self.clock.now()
        )
        if not answer.won:
            why = f" ({answer.reason})" if answer.reason else ""
            raise Conflict(f"intent {intent_id} is {answer.status}{why}, not awaiting confirmation")
        log.info("intent %s %s by user %s", intent_id, "confirmed" if confirm else "declined", user.id)
        return answer

    async def expire_due(self) -> int:
        """Reject every proposal past its deadline ("not confirmed within N s: nothing traded")."""
        expired = 0
        while True:
            count = await asyncio.to_thread(self.store.expire_proposals, self.clock.now())
            expired += count
            if count < 500:
                if expired:
                    log.info("%d proposals expired unconfirmed", expired)
                return expired
