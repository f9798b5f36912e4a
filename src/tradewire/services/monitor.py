"""The exit monitor: every open position's stop loss, take profit, trailing stop and time limit,
checked together on every price update, and closed with its reason when one is hit."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from tradewire.domain.exits import ExitBook, ExitLevels
from tradewire.domain.markets import OrderRejected
from tradewire.domain.members import AccountMode
from tradewire.domain.money import ZERO, fmt
from tradewire.domain.partitions import Partitions, owns
from tradewire.domain.positions import CloseReason
from tradewire.domain.records import AutoOrder, DailyLossCloser, OrderRecord, WatchedPosition
from tradewire.domain.risk import HUNDRED, RiskLimits, TradingState, allows
from tradewire.domain.tranches import tranche_room
from tradewire.ports import Clock, ExchangeDirectory, ExchangeError, ExchangeUnavailable, PositionStore
from tradewire.ports.ownership import Ownership
from tradewire.services.held_exits import HeldExits
from tradewire.services.holdings import account_equity
from tradewire.services.loops import every
from tradewire.services.ownership import AllMine

log = logging.getLogger("tradewire.monitor")

RETRY_AFTER = timedelta(seconds=30)  # a refused exit is tried again, not every tick
CLOSERS_EVERY = timedelta(seconds=10)  # subscriptions closing on a daily loss breach, re-read
BEST_PRICE_EVERY = timedelta(seconds=10)  # trailing stops' best prices written back at most this often


@dataclass
class MonitorStats:
    evaluations: int = 0
    exits: int = 0
    last_batch_ms: float = 0.0
    last_round_at: datetime | None = None  # when every position was last checked against prices
    reasons: dict[str, int] = field(default_factory=dict)


class ExitMonitor:
    """Keeps an ExitBook of the open positions that have exit levels, in step with the database.

    Each tick: follow positions changed since the last look, read a price per (exchange, symbol),
    evaluate the whole book at once, and store then send one market sell per triggered position
    (persisted before it is sent, under a client order id derived from the position, so a restart
    neither loses nor repeats it). Orders are sent through `send`, the executor's resume path.
    """

    def __init__(
        self,
        store: PositionStore,
        exchanges: ExchangeDirectory,
        clock: Clock,
        send: Callable[[Sequence[OrderRecord]], object],
        interval_s: float = 1.0,
        full_reload_s: float = 60.0,
        ownership: Ownership | None = None,
    ) -> None:
        self._store = store
        self._exchanges = exchanges
        self._clock = clock
        self._send = send
        self._interval = interval_s
        self._full_reload = timedelta(seconds=full_reload_s)
        self._book = ExitBook()
        self._adds = ExitBook()  # DCA: each building position's next tranche, as a price level
        self._adds_tranche: dict[int, int] = {}  # position id -> the tranche number in _adds
        self._positions: dict[int, WatchedPosition] = {}
        self._watermark: datetime | None = None
        self._loaded_at: datetime | None = None
        self._retry_at: dict[int, datetime] = {}
        # Positions whose exit (or tranche) was held back because an earlier attempt may still fill.
        self._waiting: set[int] = set()
        # Positions whose exit was held back by their trading state (HALTED), read again every tick.
        self._held: set[int] = set()
        self._best_saved_at: datetime | None = None
        self._closers: list[DailyLossCloser] = []
        self._closers_at: datetime | None = None
        self._unsaved_best: dict[int, Decimal] = {}
        self._lock = asyncio.Lock()  # one tick at a time; a manual close waits for the tick
        # Several active workers: only the positions of accounts this worker owns are watched; a
        # change of the owned partitions reloads the book.
        self._ownership: Ownership = ownership or AllMine()
        self._partitions: Partitions | None = None
        # Exits refused for insufficient funds: resized to what the account holds, or closed outside.
        self._held_exits = HeldExits(store, exchanges, clock)
        self.stats = MonitorStats()

    @property
    def book(self) -> ExitBook:
        return self._book

    async def tick(self) -> int:
        """One round: sync, price, evaluate, exit. Returns how many exits were sent."""
        async with self._ownership.hold() as partitions, self._lock:
            if partitions != self._partitions:
                self._partitions, self._loaded_at = partitions, None
            return await self._tick()

    async def _tick(self) -> int:
        await self._sync()
        now = self._clock.now()
        self._retry_refused(now)
        await self._release_settled()
        await self._release_resumed()
        prices = await self._prices()
        started = asyncio.get_running_loop().time()
        triggers = self._book.evaluate(prices, now.timestamp())
        self.stats.last_batch_ms = (asyncio.get_running_loop().time() - started) * 1000
        self.stats.evaluations += 1
        self.stats.last_round_at = now
        exits = []
        for trigger in triggers:
            position = self._positions.get(trigger.position_id)
            if position is None:
                continue
            if not allows(position.state, entry=False):
                self._held.add(position.position_id)  # stays marked until its state allows exits
                continue
            level = "" if math.isnan(trigger.trigger_level) else f" at {_num(trigger.trigger_level)}"
            seen = "" if math.isnan(trigger.price) else f", price {_num(trigger.price)}"
            exits.append(_exit(position, trigger.reason, f"{_describe(trigger.reason)}{level}{seen}"))
        exits += await self._daily_loss_exits(now)
        exiting = {e.position_id for e in exits}
        exits += [t for t in await self._tranche_orders(prices, now) if t.position_id not in exiting]
        sent = await self._place(exits, now)
        if self._best_saved_at is None or now - self._best_saved_at >= BEST_PRICE_EVERY:
            await self._save_best_prices()
            self._best_saved_at = now
        return sent

    async def close(self, position: WatchedPosition, reason: CloseReason, note: str) -> int:
        """Close one position now (a user's manual close, a risk rule), through the same path."""
        async with self._lock:
            return await self._place([_exit(position, reason, note)], self._clock.now())

    async def run(self, stop: asyncio.Event) -> None:
        await every(self._interval, stop, self.tick, "exit monitor tick", log)

    async def _sync(self) -> None:
        now = self._clock.now()
        if self._loaded_at is None or now - self._loaded_at >= self._full_reload:
            rows = await asyncio.to_thread(self._store.watched_positions, None)
            exiting = await asyncio.to_thread(self._store.positions_exiting)
            self._book = ExitBook()
            self._adds = ExitBook()
            self._adds_tranche = {}
            self._positions = {}
            for row in rows:
                self._watch(row)
            self._book.mark_exiting(p for p in exiting if p in self._book)
            self._adds.mark_exiting(p for p in exiting if p in self._adds)
            # Marked until their attempts settle (those placed moments ago keep their retry time).
            self._waiting = {p for p in exiting if p in self._positions and p not in self._retry_at}
            self._held = set()  # every position is evaluated afresh, with its state as read now
            self._loaded_at = now
        else:
            assert self._watermark is not None
            # A second of overlap: rows committed while the last query ran are not missed.
            for row in await asyncio.to_thread(self._store.watched_positions, self._watermark):
                self._watch(row)
        self._watermark = now - timedelta(seconds=1)

    def _watch(self, row: WatchedPosition) -> None:
        known = self._positions.get(row.position_id)
        if known is not None and row.updated_at <= known.updated_at and row.position_id in self._book:
            return  # a view of the position already seen (the sync windows overlap)
        wanted = (row.automated or row.next_tranche is not None) and owns(self._partitions, row.account_id)
        if not row.is_open or row.amount <= 0 or not wanted:
            self._positions.pop(row.position_id, None)
            self._book.remove(row.position_id)
            self._forget_tranche(row.position_id)
            self._retry_at.pop(row.position_id, None)
            self._waiting.discard(row.position_id)
            self._held.discard(row.position_id)
            return
        self._positions[row.position_id] = row
        self._watch_tranche(row)
        if not row.automated:  # watched only for its DCA tranches
            self._book.remove(row.position_id)
            return
        best = row.best_price or row.avg_entry
        if row.position_id in self._book:  # keep a best price the book has moved further
            tracked = self._book.levels_of(row.position_id).best_price
            if tracked > best:
                best = self._unsaved_best[row.position_id] = tracked
        self._book.upsert(
            row.position_id,
            _key(row),
            ExitLevels(
                side="long",
                stop_loss=row.stop_loss,
                take_profit=row.take_profit,
                trailing_pct=row.trailing_pct,
                trailing_activation_pct=row.trailing_activation_pct,
                best_price=best,
                entry_price=row.avg_entry,
                deadline_s=row.deadline_at.timestamp() if row.deadline_at else None,
            ),
        )

    def _watch_tranche(self, row: WatchedPosition) -> None:
        tranche = row.next_tranche
        if tranche is None or row.dca is None or row.state is not TradingState.ACTIVE:
            self._forget_tranche(row.position_id)
            return
        if self._adds_tranche.get(row.position_id) == tranche.number:
            return  # already waiting for this one (perhaps with its order in flight)
        self._forget_tranche(row.position_id)  # a new tranche starts unmarked
        entry = row.first_fill or row.avg_entry
        rising = row.dca.rising
        self._adds.upsert(
            row.position_id,
            _key(row),
            ExitLevels(
                side="long",
                stop_loss=None if rising else tranche.trigger,
                take_profit=tranche.trigger if rising else None,
                trailing_pct=None,
                trailing_activation_pct=None,
                best_price=entry,
                entry_price=entry,
                deadline_s=None,
            ),
        )
        self._adds_tranche[row.position_id] = tranche.number

    def _forget_tranche(self, position_id: int) -> None:
        self._adds.remove(position_id)
        self._adds_tranche.pop(position_id, None)

    async def _tranche_orders(self, prices: dict[str, float], now: datetime) -> list[AutoOrder]:
        """The DCA tranches whose trigger price was reached, sized and rounded for their market."""
        orders = []
        for trigger in self._adds.evaluate(prices, now.timestamp()):
            position = self._positions.get(trigger.position_id)
            tranche = position.next_tranche if position else None
            if position is None or tranche is None or position.dca is None:
                continue
            price = Decimal(repr(trigger.price))
            room = None
            if position.budget is not None:
                spent = position.avg_entry * position.amount
                room = tranche_room(position.budget, spent, position.pending[1:])
            amount = position.dca.amount_at(tranche, position.first_fill or position.avg_entry, price, room)
            try:
                exchange = self._exchanges.for_account(position.account_id, position.exchange, position.mode)
                market = (await exchange.markets()).get(position.symbol)
                if market is None:
                    raise OrderRejected(f"{position.symbol} is not listed on {position.exchange}")
                amount, _ = market.prepare(amount, price)
            except (OrderRejected, ExchangeUnavailable, ExchangeError) as exc:
                log.warning(
                    "position %s: DCA tranche %s not bought: %s", position.position_id, tranche.number, exc
                )
                continue
            total = position.dca.tranches
            note = f"DCA tranche {tranche.number}/{total} at {fmt(tranche.trigger)}, price {fmt(price)}"
            orders.append(AutoOrder.for_position(position, amount, None, note, tranche.number))
        return orders

    def _retry_refused(self, now: datetime) -> None:
        """Positions whose exit went nowhere (refused, or still unsettled) may trigger again; the store
        never lets two exits of one position be in flight at once."""
        due = [pid for pid, at in self._retry_at.items() if now >= at]
        for pid in due:
            del self._retry_at[pid]
        self._book.unmark_exiting(p for p in due if p in self._book)
        self._adds.unmark_exiting(p for p in due if p in self._adds)

    async def _release_settled(self) -> None:
        """Positions held back by an earlier attempt that may still fill: once none may (no late fill
        came, or it closed the position, which the sync sees), their next attempt goes out at once."""
        if not self._waiting:
            return
        busy = await asyncio.to_thread(self._store.positions_exiting, sorted(self._waiting))
        settled = self._waiting - busy
        self._waiting = busy
        for pid in settled:
            self._retry_at.pop(pid, None)
        self._book.unmark_exiting(p for p in settled if p in self._book)
        self._adds.unmark_exiting(p for p in settled if p in self._adds)

    async def _release_resumed(self) -> None:
        """Positions whose exit was held back by their trading state (no orders at all) are read again;
        once it allows exits (the owner or an admin resumed trading), they are evaluated at once. A
        change of state does not touch the position's row, so the sync alone would see it only at the
        next full reload, up to a minute past the stop."""
        held = [self._positions[pid] for pid in sorted(self._held) if pid in self._positions]
        subscriptions = sorted({p.subscription_id for p in held if p.subscription_id is not None})
        if not subscriptions:
            return
        fresh = {
            p.position_id: p for p in await asyncio.to_thread(self._store.open_positions_of, subscriptions)
        }
        for known in held:
            row = fresh.get(known.position_id)
            if row is None or not allows(row.state, entry=False):
                continue  # closed (the sync follows it), or still halted
            self._positions[row.position_id] = replace(known, state=row.state, state_source=row.state_source)
            self._held.discard(row.position_id)
            self._book.unmark_exiting([row.position_id])

    async def _prices(self) -> dict[str, float]:
        """One price per key of the book (`_key`: the paper market's, or a live account's venue's)."""
        wanted: dict[str, WatchedPosition] = {}
        for position in self._positions.values():
            wanted.setdefault(_key(position), position)
        prices: dict[str, float] = {}
        for key, position in wanted.items():
            try:
                exchange = self._exchanges.for_account(position.account_id, position.exchange, position.mode)
                price = await exchange.price(position.symbol)
            except (ExchangeUnavailable, ExchangeError) as exc:
                log.info("no price for %s: %s (its exits wait for the next tick)", key, exc)
                continue
            if price is not None and price > 0:
                prices[key] = float(price)
        return prices

    async def _daily_loss_exits(self, now: datetime) -> list[AutoOrder]:
        """Close the open positions of subscriptions that ask for it once their account's daily loss
        limit is breached (equity is only valued for accounts that lost money today)."""
        if self._closers_at is None or now - self._closers_at >= CLOSERS_EVERY:
            self._closers = await asyncio.to_thread(self._store.daily_loss_closers)
            self._closers_at = now
        if not self._closers:
            return []
        realized = await asyncio.to_thread(
            self._store.realized_on, [account for _, account, _ in self._closers], now.date().isoformat()
        )
        losing = [c for c in self._closers if realized.get(c[1], ZERO) < 0]
        if not losing:
            return []
        limits = {sid: lim for sid, _, lim in losing}
        exits = []
        for position in await asyncio.to_thread(self._store.open_positions_of, list(limits)):
            pid = position.position_id
            if pid in self._retry_at or pid in self._waiting or position.subscription_id is None:
                continue  # an exit of this position was placed moments ago, or waits for one
            if not owns(self._partitions, position.account_id):
                continue  # another worker's
            loss = -realized[position.account_id]
            limit = await self._daily_limit(position, limits[position.subscription_id])
            if limit is not None and loss >= limit:
                note = f"daily loss {fmt(loss)} reached the limit {fmt(limit)}: closing open positions"
                exits.append(_exit(position, CloseReason.RISK, note))
        return exits

    async def _daily_limit(self, position: WatchedPosition, risk: RiskLimits) -> Decimal | None:
        bounds = [risk.daily_loss_quote] if risk.daily_loss_quote else []
        try:
            exchange = self._exchanges.for_account(position.account_id, position.exchange, position.mode)
            quote = position.symbol.split("/")[1]
            equity = await account_equity(exchange, quote)
            bounds.append(equity * risk.daily_loss_pct / HUNDRED)
        except (ExchangeUnavailable, ExchangeError, IndexError):
            pass
        return min(bounds) if bounds else None

    async def _place(self, exits: list[AutoOrder], now: datetime) -> int:
        exits = await self._held_exits.review(exits) if exits else exits
        if not exits:
            return 0
        self._book.mark_exiting(e.position_id for e in exits if e.reason and e.position_id in self._book)
        records = await asyncio.to_thread(self._store.save_auto_orders, exits, now)
        held = {e.position_id for e in exits} - {r.position_id for r in records}
        # Those waiting for an earlier attempt (not refused for a halted subscription) stay marked
        # until it settles, then go out at once (see _release_settled).
        waiting = await asyncio.to_thread(self._store.positions_exiting, sorted(held)) if held else set()
        self._waiting |= waiting
        for e in exits:
            what = e.reason.value if e.reason else "DCA"
            if e.position_id in waiting:
                log.info("position %s: %s waits, an earlier order may still fill", e.position_id, what)
                continue
            self._retry_at[e.position_id] = now + RETRY_AFTER
            self.stats.reasons[what] = self.stats.reasons.get(what, 0) + 1
            log.info(
                "position %s (%s, account %s): %s %s", e.position_id, e.symbol, e.account_id, what, e.note
            )
        if records:
            result = self._send(records)
            if asyncio.iscoroutine(result):
                await result
        self.stats.exits += len(records)
        return len(records)

    async def flush(self) -> None:
        """Write back the best prices not yet saved (at shutdown)."""
        async with self._lock:
            await self._save_best_prices()

    async def _save_best_prices(self) -> None:
        ids, best = self._book.best_price_changes()
        changed = {pid: b for pid, b in self._unsaved_best.items() if pid in self._book}
        changed.update({int(i): Decimal(repr(float(b))) for i, b in zip(ids, best, strict=True)})
        self._unsaved_best.clear()
        if changed:
            await asyncio.to_thread(self._store.save_best_prices, changed)


def _key(position: WatchedPosition) -> str:
    """Whose price a position is judged by. Paper accounts share the paper market; a live account
    asks its own exchange client: two accounts of one exchange may reach different venues (a testnet,
    a proxy: `sandbox`, `api_urls`) at different prices, and clients of the same venue share one
    ticker cache, so asking each costs no more calls."""
    if position.mode == AccountMode.PAPER:
        return f"{position.exchange}|{position.symbol}"
    return f"{position.exchange}|{position.account_id}|{position.symbol}"


def _exit(position: WatchedPosition, reason: CloseReason, note: str) -> AutoOrder:
    return AutoOrder.for_position(position, position.amount, reason, note)


def _describe(reason: CloseReason) -> str:
    return {
        CloseReason.SL: "stop loss",
        CloseReason.TP: "take profit",
        CloseReason.TRAILING: "trailing stop",
        CloseReason.TIMEOUT: "time limit reached",
    }.get(reason, reason.value)


def _num(value: float) -> str:
    return fmt(Decimal(repr(value))) or repr(value)
