"""Live exits refused for insufficient funds, looked at before they are placed again: the account's
balance of the position's asset decides (domain/held_exit.py) whether the next exit sells what is
held, the position is closed as closed outside tradewire, or the exit is simply tried again."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

from tradewire.domain.balances import AssetBalance
from tradewire.domain.held_exit import Held, HeldExit, decide
from tradewire.domain.markets import Market
from tradewire.domain.members import AccountMode
from tradewire.domain.records import AutoOrder
from tradewire.ports import Clock, ExchangeDirectory, PositionStore

log = logging.getLogger("tradewire.monitor")


class HeldExits:
    """Reviews a round's exits: those of live positions whose last exit the exchange refused for
    insufficient funds are resized, dropped (closed outside tradewire) or kept as they are."""

    def __init__(self, store: PositionStore, exchanges: ExchangeDirectory, clock: Clock) -> None:
        self._store = store
        self._exchanges = exchanges
        self._clock = clock
        self._told_locked: set[int] = set()  # positions whose locked funds the user was told of

    async def review(self, exits: Sequence[AutoOrder]) -> list[AutoOrder]:
        """The exits to place: as given, except those of positions refused for insufficient funds."""
        live = [e.position_id for e in exits if e.reason is not None and e.mode != AccountMode.PAPER]
        if not live:
            return list(exits)
        refused = await asyncio.to_thread(self._store.exits_refused_for_funds, live)
        if not refused:
            return list(exits)
        kept = []
        for e in exits:
            if e.position_id in refused and e.reason is not None:
                revised = await self._one(e)
                if revised is not None:
                    kept.append(revised)
            else:
                kept.append(e)
        return kept

    async def _one(self, e: AutoOrder) -> AutoOrder | None:
        balance, market = await self._read(e)
        decision = decide(e.amount, balance, market)
        log.warning(
            "position %s (%s, account %s): %s", e.position_id, e.symbol, e.account_id, decision.note()
        )
        if decision.held in (Held.UNKNOWN, Held.HELD):
            return e  # default-deny: nothing written off, tried again as before
        if decision.held is Held.LOCKED:
            if e.position_id not in self._told_locked and await self._save(e, decision):
                self._told_locked.add(e.position_id)
            return e
        self._told_locked.discard(e.position_id)
        if not await self._save(e, decision):
            return e  # the position moved meanwhile: its exit as before, looked at again if refused
        if decision.closes:
            return None
        if decision.sell is None:  # what is left is not free: tried again (then found locked)
            return dataclasses.replace(e, amount=e.amount - decision.write_off)
        return dataclasses.replace(e, amount=decision.sell, note=f"{e.note}; {decision.note()}")

    async def _save(self, e: AutoOrder, decision: HeldExit) -> bool:
        try:
            return await asyncio.to_thread(
                self._store.settle_held_exit, e.position_id, decision, self._clock.now()
            )
        except Exception:
            log.exception("position %s: the refused exit's decision could not be saved", e.position_id)
            return False

    async def _read(self, e: AutoOrder) -> tuple[AssetBalance | None, Market | None]:
        """The account's balance of the position's base asset and its market (None: unreadable)."""
        try:
            exchange = self._exchanges.for_account(e.account_id, e.exchange, e.mode)
            market = (await exchange.markets()).get(e.symbol)
            detail = getattr(exchange, "fetch_balance_detail", None)
            if market is None or detail is None:
                return None, market
            balances = await detail()
            if not balances:  # an answer that lists nothing is no proof the asset is gone
                return None, market
        except Exception as exc:  # whatever the reason, nothing is written off on it
            log.info("position %s: balance unreadable (%s)", e.position_id, exc)
            return None, None
        return balances.get(market.base, AssetBalance.of(None, None, None)), market
