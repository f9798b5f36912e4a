"""The paper exchange: a simulated venue that fills orders from market data, with fees and limits.

It keeps its own books (balances and orders in the paper_* tables), apart from our view of the
orders, so that paper and live trading take the same path: we send, the venue answers, and after a
crash we ask the venue what happened by client order id. Writes are group-committed: every order
placed in the same event-loop turn is stored in one transaction, and each caller gets its answer only
once its order is durable. The books themselves (orders, wallets and their tables) are in books.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine

from tradewire.adapters.paper import books
from tradewire.adapters.paper.books import OrderKey, PaperOrder, Wallet, now_ms
from tradewire.adapters.paper.ledger import Ledger
from tradewire.domain.balances import AssetBalance
from tradewire.domain.markets import Market, OrderRejected
from tradewire.domain.money import ZERO
from tradewire.domain.orders import ExchangeOrder, OrderRequest, OrderSide, OrderType
from tradewire.domain.partitions import Partitions, owns
from tradewire.ports import (
    ExchangeError,
    ExchangeUnavailable,
    MarketData,
    OrderBatches,
    OrderOutcomeUnknown,
)
from tradewire.ports.events import EventNotifier

log = logging.getLogger("tradewire.paper")


class PaperVenue:
    """One simulated venue serving every paper account."""

    def __init__(
        self,
        engine: Engine,
        feed: MarketData,
        markets: Mapping[str, Market],
        fee_rate: Decimal = Decimal("0.001"),
        starting_balance: Mapping[str, Decimal] | None = None,
        recent_orders: int = 20_000,
        notifier: EventNotifier | None = None,
        keeps_books: bool = True,
    ) -> None:
        self._engine = engine
        # False in an API process (TRADEWIRE_ROLE=api): the worker keeps the books and places every
        # paper order; this process reads balances and orders from the database and places none.
        self._keeps_books = keeps_books
        self._notifier = notifier  # told of each commit's balance events (the live channel)
        self._feed = feed
        self._markets = dict(markets)
        self._ledger = Ledger(self._markets, fee_rate, starting_balance or {"USDT": Decimal(10_000)})
        self._open: dict[OrderKey, PaperOrder] = {}
        self._recent: OrderedDict[OrderKey, PaperOrder] = OrderedDict()
        self._recent_max = recent_orders
        self._dirty_orders: dict[OrderKey, PaperOrder] = {}
        self._batches: list[_Batch] = []  # orders placed in this event-loop turn, not matched yet
        self._waiters: list[asyncio.Future[None]] = []
        self._flush_task: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._started = False
        # Several active workers: the accounts whose books this process keeps now (None: all), and
        # the database's guard of those books (a worker that lost its leases cannot write them).
        self._partitions: Partitions | None = None
        self._fence: books.Fence | None = None

    # -- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load every paper balance and open order into memory (one query each)."""
        if self._started:
            return
        if self._keeps_books:
            await asyncio.to_thread(self._load)
        self._started = True

    def _load(self) -> None:
        # Replaced, not merged: after a failed commit, an order that never reached the books must
        # not stay open in memory (it could fill later against funds the reloaded wallet never lent).
        wallets, self._open = books.load(self._engine, self._partitions, self._fence)
        self._ledger.replace(wallets)

    # -- partitions (several active workers: services/ownership.py) -----------------------------

    def partition(self, count: int, fence: books.Fence | None = None) -> None:
        """Keep the books of no account until partitions are taken (before `start`)."""
        self._partitions = Partitions(count, frozenset())
        self._fence = fence

    async def take_partitions(self, taken: Partitions) -> None:
        """Load the books of the accounts in `taken`, as their last owner saved them."""
        wallets, open_orders = await asyncio.to_thread(books.load, self._engine, taken, self._fence)
        self._forget(taken)
        self._ledger.adopt(wallets)
        self._open.update(open_orders)
        owned = self._partitions.owned if self._partitions is not None else frozenset()
        self._partitions = Partitions(taken.count, owned | taken.owned)

    async def give_partitions(self, giving: Partitions) -> None:
        """Save what is pending, then forget the books of the accounts in `giving` (another worker
        takes them from the database). They are forgotten even when the save fails: the database
        keeps what was last answered, and this process trades for them no more."""
        owned = self._partitions.owned if self._partitions is not None else frozenset()
        self._partitions = Partitions(giving.count, owned - giving.owned)
        try:
            await self._durable()
        finally:
            self._forget(giving)

    def _forget(self, partitions: Partitions) -> None:
        self._ledger.forget(partitions)
        for key in [k for k in self._open if partitions.owns(k[0])]:
            del self._open[key]
        for key in [k for k in self._recent if partitions.owns(k[0])]:
            del self._recent[key]

    def account(self, account_id: int) -> PaperExchange:
        """The Exchange port for one paper account."""
        return PaperExchange(self, account_id)

    @property
    def markets(self) -> Mapping[str, Market]:
        return self._markets

    # -- trading --------------------------------------------------------------------------------

    def last_price(self, symbol: str) -> Decimal | None:
        return self._feed.last_price(symbol)

    def recent_closes(self, symbol: str, limit: int) -> list[float] | None:
        history = getattr(self._feed, "recent_closes", None)
        return history(symbol, limit) if history is not None else None

    def balance(self, account_id: int) -> dict[str, Decimal]:
        """Total (free + reserved) per asset."""
        return self._ledger.totals(account_id)

    async def stored_balance(self, account_id: int) -> dict[str, AssetBalance]:
        """Free, reserved and total per asset: from memory where this process keeps the account's
        books, else as its worker last stored them (an account that never traded has the starting balance)."""
        if self._keeps_books and owns(self._partitions, account_id):
            return self._ledger.detail(account_id)
        wallet = await asyncio.to_thread(books.load_wallet, self._engine, account_id)
        if not wallet:
            wallet = {asset: Wallet(free=amount) for asset, amount in self._ledger.starting.items()}
        return {asset: AssetBalance(w.free, w.used, w.free + w.used) for asset, w in wallet.items()}

    async def stored_totals(self, account_id: int) -> dict[str, Decimal]:
        """Total (free + reserved) per asset, as `stored_balance` has them (from memory, without
        the free and reserved parts, where this process keeps the account's books)."""
        if self._keeps_books and owns(self._partitions, account_id):
            return self._ledger.totals(account_id)
        return {asset: b.total for asset, b in (await self.stored_balance(account_id)).items()}

    def _refuse_unless_trading(self, account_id: int) -> None:
        """Nothing is placed or cancelled by an API process, nor for an account another worker owns."""
        if not self._keeps_books:
            raise ExchangeUnavailable("paper orders are placed by the worker, not by an API process")
        if not owns(self._partitions, account_id):
            # Never sent here; another worker owns the account now, and looks the order up there.
            raise OrderOutcomeUnknown(f"paper account {account_id} is traded by another worker now")

    async def create_order(self, account_id: int, request: OrderRequest) -> ExchangeOrder:
        """Place an order; a client order id seen before returns the first order (idempotency).

        Orders are matched in batches: every order placed in one event-loop turn is checked against
        the venue's books in one query, matched, and committed in one transaction.
        """
        [answer] = await self.create_orders([(account_id, request)])
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def create_orders(
        self, orders: Sequence[tuple[int, OrderRequest]]
    ) -> list[ExchangeOrder | Exception]:
        """Place many accounts' orders at once (the OrderBatches port): per order, in order, its view
        or what `create_order` would have raised. They join the batch of this event-loop turn, as
        single orders do, and are answered once committed."""
        answers: list[ExchangeOrder | Exception | None] = [None] * len(orders)
        batch = _Batch()
        for index, (account_id, request) in enumerate(orders):
            try:
                self._refuse_unless_trading(account_id)
            except (ExchangeUnavailable, OrderOutcomeUnknown) as exc:
                answers[index] = exc
                continue
            key = (account_id, request.client_order_id)
            known = self._open.get(key) or self._recent.get(key)
            if known is not None:
                answers[index] = known.view()
                continue
            batch.requests.append((account_id, request))
            batch.indexes.append(index)
        if batch.requests:
            batch.done = asyncio.get_running_loop().create_future()
            self._batches.append(batch)
            self._schedule_flush()
            await batch.done
            for index, answer in zip(batch.indexes, batch.answers, strict=True):
                answers[index] = answer
        return [a if a is not None else OrderOutcomeUnknown("no answer") for a in answers]

    async def fetch_order(self, account_id: int, client_order_id: str) -> ExchangeOrder | None:
        key = (account_id, client_order_id)
        order = self._open.get(key) or self._recent.get(key)
        if order is None:
            order = await asyncio.to_thread(books.load_order, self._engine, account_id, client_order_id)
        return order.view() if order else None

    async def cancel_order(self, account_id: int, client_order_id: str) -> ExchangeOrder:
        self._refuse_unless_trading(account_id)
        key = (account_id, client_order_id)
        order = self._open.get(key)
        if order is None:
            known = await self.fetch_order(account_id, client_order_id)
            if known is None:
                raise ExchangeError(f"order {client_order_id} not found")
            return known  # already final: a cancel that lost the race to a fill reports the fill
        self._ledger.release(order)
        order.status, order.updated_ms = "canceled", now_ms()
        self._remember(order)
        await self._durable()
        return order.view()

    async def match_resting_orders(self) -> int:
        """Fill open limit orders whose price the market has reached; returns how many filled."""
        filled = 0
        for order in list(self._open.values()):
            price = self._feed.last_price(order.symbol)
            assert order.price is not None
            if price is None or not _crosses(order.side, order.price, price):
                continue
            self._ledger.release(order)
            self._ledger.fill(order, order.price)
            self._remember(order)
            filled += 1
        if filled:
            await self._durable()
        return filled

    # -- matching -------------------------------------------------------------------------------

    def _execute(self, account_id: int, request: OrderRequest) -> PaperOrder:
        now = now_ms()
        market = self._markets.get(request.symbol)
        order = PaperOrder(
            account_id=account_id,
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            amount=request.amount,
            price=request.price,
            status="open",
            filled=ZERO,
            average=None,
            fee=ZERO,
            fee_currency=market.quote if market else "",
            reason=None,
            created_ms=now,
            updated_ms=now,
        )
        price = self._feed.last_price(request.symbol)
        reason = _market_refusal(market, request, price)
        if reason is None:
            assert market is not None and price is not None
            reason = self._ledger.shortfall(account_id, market, request, _reference(request, price))
        if reason:
            order.status, order.reason = "rejected", reason
            return order
        assert market is not None and price is not None
        if request.type is OrderType.MARKET or _crosses(request.side, request.price or price, price):
            self._ledger.fill(order, price)
        else:
            self._ledger.reserve(order)
        return order

    def _remember(self, order: PaperOrder) -> None:
        key = (order.account_id, order.client_order_id)
        self._dirty_orders[key] = order
        if order.status == "open":
            self._open[key] = order
            return
        self._open.pop(key, None)
        self._recent[key] = order
        self._recent.move_to_end(key)
        while len(self._recent) > self._recent_max:
            self._recent.popitem(last=False)

    # -- durability (group commit) ----------------------------------------------------------------

    async def _durable(self) -> None:
        """Wait until everything changed so far is committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._schedule_flush()
        await future

    def _schedule_flush(self) -> None:
        if self._flush_task is None:
            self._flush_task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let every order placed in this turn join the batch
        batches, self._batches = self._batches, []
        waiters, self._waiters = self._waiters, []
        self._flush_task = None
        failure: Exception | None = None
        try:
            known = await asyncio.to_thread(
                books.load_orders,
                self._engine,
                [(a, r.client_order_id) for batch in batches for a, r in batch.requests],
            )
            for batch in batches:
                for account_id, request in batch.requests:
                    key = (account_id, request.client_order_id)
                    order = self._open.get(key) or self._recent.get(key) or known.get(key)
                    if order is None:
                        order = self._execute(account_id, request)
                        self._remember(order)
                    batch.matched.append(order)
            async with self._write_lock:
                wallets = list(self._ledger.changed())
                orders = [order.row() for order in self._dirty_orders.values()]
                self._dirty_orders = {}
                await asyncio.to_thread(
                    books.write, self._engine, wallets, orders, self._notifier, self._fence
                )
        except Exception as exc:
            log.exception("paper venue: commit failed; reloading its books")
            failure = exc
            await asyncio.to_thread(self._load)
            self._recent.clear()
        for batch in batches:
            batch.answer(failure)
        for waiter in waiters:
            if not waiter.done():
                if failure is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(OrderOutcomeUnknown(f"paper venue commit failed: {failure}"))


@dataclass(slots=True, eq=False)
class _Batch:
    """Orders placed together (one create_orders call), answered together once committed."""

    requests: list[tuple[int, OrderRequest]] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)  # each request's place in the call's orders
    matched: list[PaperOrder] = field(default_factory=list)
    answers: list[ExchangeOrder | Exception] = field(default_factory=list)
    done: asyncio.Future[None] | None = None

    def answer(self, failure: Exception | None) -> None:
        """Each order's view, or its refusal; all unknown when the commit failed."""
        if failure is not None:
            unknown = f"paper venue commit failed: {failure}"
            self.answers = [OrderOutcomeUnknown(unknown) for _ in self.requests]
        else:
            self.answers = [
                ExchangeError(o.reason or "rejected") if o.status == "rejected" else o.view()
                for o in self.matched
            ]
        if self.done is not None and not self.done.done():
            self.done.set_result(None)


class PaperExchange:
    """The Exchange port for one paper account of a PaperVenue."""

    def __init__(self, venue: PaperVenue, account_id: int) -> None:
        self._venue = venue
        self.account_id = account_id

    dedupes_client_order_ids = True  # the paper venue answers any id it has ever seen with that order

    async def markets(self) -> Mapping[str, Market]:
        return self._venue.markets

    async def price(self, symbol: str) -> Decimal | None:
        return self._venue.last_price(symbol)

    def last_price(self, symbol: str) -> Decimal | None:
        return self._venue.last_price(symbol)

    async def recent_closes(self, symbol: str, timeframe: str, limit: int) -> list[float] | None:
        """The replayed candles' closes up to now (the paper market's own timeframe); None if simulated."""
        return self._venue.recent_closes(symbol, limit)

    async def fetch_balance(self) -> Mapping[str, Decimal]:
        return await self._venue.stored_totals(self.account_id)

    async def fetch_balance_detail(self) -> Mapping[str, AssetBalance]:
        return await self._venue.stored_balance(self.account_id)

    def price_error(self, symbol: str) -> str | None:
        """Why the paper market has no price for `symbol`."""
        if symbol not in self._venue.markets:
            return f"{symbol} is not listed on the paper market"
        return (
            None if self._venue.last_price(symbol) is not None else f"the paper market has no {symbol} price"
        )

    @property
    def order_batches(self) -> OrderBatches:
        """The venue, which places every paper account's orders of one batch in one call."""
        return self._venue

    async def create_order(self, request: OrderRequest) -> ExchangeOrder:
        return await self._venue.create_order(self.account_id, request)

    async def fetch_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        return await self._venue.fetch_order(self.account_id, client_order_id)

    async def cancel_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        return await self._venue.cancel_order(self.account_id, client_order_id)


def _reference(request: OrderRequest, price: Decimal) -> Decimal:
    """The price an order is judged at: a limit order's own, a market order's the market's."""
    return request.price if request.type is OrderType.LIMIT and request.price else price


def _market_refusal(market: Market | None, request: OrderRequest, price: Decimal | None) -> str | None:
    """Why the market cannot take the order as asked (unknown, no price, amount off its step)."""
    if market is None:
        return f"unknown market {request.symbol}"
    if price is None:
        return f"no market price for {request.symbol}"
    if request.type is OrderType.LIMIT and request.price is None:
        return "limit order without a price"
    try:
        amount, _ = market.prepare(request.amount, _reference(request, price))
    except OrderRejected as exc:
        return str(exc)
    if amount != request.amount:
        return f"amount {request.amount} does not match the {market.symbol} step {market.amount_step}"
    return None


def _crosses(side: OrderSide, limit: Decimal, price: Decimal) -> bool:
    return price <= limit if side is OrderSide.BUY else price >= limit
