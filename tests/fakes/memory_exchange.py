"""In-memory doubles of the services' other ports, for their unit tests: an exchange account (the
`Exchange` port, no HTTP), the directory that hands it out, a symbol resolver and a clock that only
moves when told. The live exchanges' HTTP fakes (tests/fakes/exchange) are for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tradewire.domain.markets import Market
from tradewire.domain.orders import ExchangeOrder, OrderRequest, OrderType, Trade
from tradewire.domain.records import StrategyVenues
from tradewire.domain.symbols import Resolution, SymbolCatalog, UnknownSymbol
from tradewire.ports import ExchangeError, ExchangeUnavailable

# Not on a whole second (see tests/integration/test_store_contract.py): times compare as stored.
START = datetime(2026, 1, 5, 12, 0, 0, 250_000, tzinfo=UTC)

BTC_USDT = Market(
    symbol="BTC/USDT",
    id="BTCUSDT",
    base="BTC",
    quote="USDT",
    amount_step=Decimal("0.00001"),
    price_step=Decimal("0.01"),
    min_amount=Decimal("0.00001"),
    min_cost=Decimal("5"),
)


class FixedClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, at: datetime = START) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> datetime:
        self.at += timedelta(seconds=seconds)
        return self.at


@dataclass
class MemoryExchange:
    """One exchange account in memory. Market orders fill at once at the current price (fee 0.1 % in
    the quote asset); limit orders rest until `fill`. `fail_next` queues errors for the next creates
    (`placed_anyway`: the order is placed and then the error raised, as after a lost response)."""

    prices: dict[str, Decimal] = field(default_factory=lambda: {"BTC/USDT": Decimal(100)})
    balance: dict[str, Decimal] = field(default_factory=lambda: {"USDT": Decimal(10_000)})
    market_list: dict[str, Market] = field(default_factory=lambda: {"BTC/USDT": BTC_USDT})
    dedupes: bool = False
    fee_rate: Decimal = Decimal("0.001")
    orders: dict[str, ExchangeOrder] = field(default_factory=dict)
    creates: list[OrderRequest] = field(default_factory=list)  # every create asked for, in order
    hidden: set[str] = field(default_factory=set)  # client ids fetch_order does not find (yet)
    fail_next: list[tuple[Exception, bool]] = field(default_factory=list)
    balance_error: Exception | None = None
    order_batches: MemoryVenue | None = None  # the venue placing its orders in batches, if any

    @property
    def dedupes_client_order_ids(self) -> bool:
        return self.dedupes

    async def price(self, symbol: str) -> Decimal | None:
        return self.prices.get(symbol)

    async def markets(self) -> Mapping[str, Market]:
        return self.market_list

    async def fetch_balance(self) -> Mapping[str, Decimal]:
        if self.balance_error is not None:
            raise self.balance_error
        return dict(self.balance)

    async def create_order(self, request: OrderRequest) -> ExchangeOrder:
        self.creates.append(request)
        if request.client_order_id in self.orders:  # a known client order id: the first order
            return self.orders[request.client_order_id]
        error, placed_anyway = self.fail_next.pop(0) if self.fail_next else (None, False)
        if error is not None and not placed_anyway:
            raise error
        order = ExchangeOrder(
            exchange_order_id=f"x{len(self.orders) + 1}",
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            status="open",
            amount=request.amount,
            filled=Decimal(0),
            average=None,
            price=request.price,
        )
        self.orders[request.client_order_id] = order
        if request.type is OrderType.MARKET:
            self.fill(request.client_order_id, request.amount, self.prices[request.symbol])
        if error is not None:
            raise error
        return self.orders[request.client_order_id]

    async def fetch_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        if client_order_id in self.hidden:
            return None
        return self.orders.get(client_order_id)

    async def cancel_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        order = self.orders.get(client_order_id)
        if order is None:
            raise ExchangeError(f"unknown order {client_order_id}")
        if order.status == "open":
            order = self.orders[client_order_id] = replace(order, status="canceled")
        return order

    def fill(self, client_order_id: str, amount: Decimal, price: Decimal) -> ExchangeOrder:
        """An execution of `amount` at `price`: a trade on the order, closed once fully filled."""
        order = self.orders[client_order_id]
        fee = (amount * price * self.fee_rate).quantize(Decimal("0.00000001"))
        trade = Trade(
            f"{client_order_id}-{len(order.trades) + 1}", amount, price, fee, "USDT", 1_767_614_400_000
        )
        trades = (*order.trades, trade)
        filled = order.filled + amount
        average = sum((t.amount * t.price for t in trades), Decimal(0)) / filled
        status = "closed" if filled >= order.amount else order.status
        self.orders[client_order_id] = replace(
            order, trades=trades, filled=filled, average=average, status=status
        )
        return self.orders[client_order_id]


@dataclass
class MemoryVenue:
    """A venue placing many accounts' orders in one call (the `OrderBatches` port, as the paper
    venue): each order goes to its account's MemoryExchange, which answers or raises for it alone.
    `calls` records each call's client order ids; `fail_call` fails the next call as a whole."""

    accounts: dict[int, MemoryExchange] = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)
    fail_call: Exception | None = None

    def account(self, account_id: int) -> MemoryExchange:
        """The account's exchange, placing its orders through this venue."""
        exchange = self.accounts.setdefault(account_id, MemoryExchange())
        exchange.order_batches = self
        return exchange

    async def create_orders(
        self, orders: Sequence[tuple[int, OrderRequest]]
    ) -> list[ExchangeOrder | Exception]:
        self.calls.append([r.client_order_id for _, r in orders])
        if self.fail_call is not None:
            error, self.fail_call = self.fail_call, None
            raise error
        answers: list[ExchangeOrder | Exception] = []
        for account_id, request in orders:
            try:
                answers.append(await self.accounts[account_id].create_order(request))
            except Exception as exc:
                answers.append(exc)
        return answers


@dataclass
class Exchanges:
    """The `ExchangeDirectory`: one exchange per account (`default` for the others); accounts in
    `unavailable` cannot be reached, with that reason."""

    default: MemoryExchange = field(default_factory=MemoryExchange)
    by_account: dict[int, MemoryExchange] = field(default_factory=dict)
    unavailable: dict[int, str] = field(default_factory=dict)

    def for_account(self, account_id: int, exchange: str, mode: str) -> MemoryExchange:
        if account_id in self.unavailable:
            raise ExchangeUnavailable(self.unavailable[account_id])
        return self.by_account.get(account_id, self.default)


@dataclass
class Symbols:
    """The `SymbolResolver` over fixed market lists: `listed` now, `after_loading` once loaded. With
    `loading` set, a ticker the loaded lists lack is unknown rather than refused."""

    listed: tuple[str, ...] = ("BTC/USDT",)
    after_loading: tuple[str, ...] = ("BTC/USDT",)
    loading: bool = False
    loads: int = 0

    def resolve(self, venues: StrategyVenues, ticker: str) -> Resolution:
        return _resolution(self.listed, ticker, {"binance": "market list loading"} if self.loading else {})

    async def resolve_loading(self, venues: StrategyVenues, ticker: str, timeout_s: float) -> Resolution:
        self.loads += 1
        return _resolution(self.after_loading, ticker, {})


def _resolution(symbols: tuple[str, ...], ticker: str, unknown: dict[str, str]) -> Resolution:
    try:
        return Resolution(SymbolCatalog.of(symbols).resolve(ticker), listed_on=("paper",))
    except UnknownSymbol:
        return Resolution(None, lacking=("paper",), unknown=unknown)
