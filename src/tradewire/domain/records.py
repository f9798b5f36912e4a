"""What the services and the store hand each other: plain, typed records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from tradewire.domain.confirmation import TradeConfirmation
from tradewire.domain.entry_order import EntryOrder
from tradewire.domain.execution import LogStatus, Sizing, SubscriptionStatus
from tradewire.domain.exit_plan import ExitPlan
from tradewire.domain.exits import ExitRules
from tradewire.domain.orders import (
    ExchangeOrder,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
    RejectionKind,
)
from tradewire.domain.partitions import Partitions
from tradewire.domain.positions import CloseReason
from tradewire.domain.risk import RiskLimits, TradingState
from tradewire.domain.signals import MarketPosition, SignalAction
from tradewire.domain.track_record import PairRecord
from tradewire.domain.tranches import DcaPlan, PositionPhase, Tranche

if TYPE_CHECKING:  # both build on these records
    from tradewire.domain.events import Event
    from tradewire.domain.risk_alerts import RiskAlert


@dataclass(frozen=True, slots=True)
class NewSignal:
    """A validated signal to store (idempotently, by `dedup_key`)."""

    strategy_id: int
    dedup_key: str
    action: SignalAction
    ticker: str
    symbol: str
    contracts: Decimal | None
    price: Decimal | None
    signal_time: datetime | None
    details: dict[str, Any]
    received_at: datetime


class WebhookStrategy(NamedTuple):
    """The strategy a webhook slug names, and the hash its alerts' passphrase must match."""

    strategy_id: int
    passphrase_hash: str
    owner_disabled: bool = False  # an admin disabled its owner: its alerts are refused


class StoredSignal(NamedTuple):
    """A signal's id, and whether this call stored it (False: an earlier delivery holds that id)."""

    signal_id: int
    created: bool


class SignalRoute(NamedTuple):
    """What routing needs of a stored signal: its strategy, its symbol ('' when unresolved), status."""

    strategy_id: int
    symbol: str
    status: str
    priced: bool = False  # it carries its own price (else its track record counts the market's)


class PlatformStrategy(NamedTuple):
    """A strategy the platform runs itself (an indicator strategy or a bot), as stored."""

    strategy_id: int
    definition: dict[str, Any]


class DailyLossCloser(NamedTuple):
    """An active subscription that closes its positions once its account's daily loss limit is hit."""

    subscription_id: int
    account_id: int
    limits: RiskLimits


@dataclass(frozen=True, slots=True)
class LiveVenue:
    """A live account, as much of it as names the exchange it reaches (its markets are that venue's)."""

    account_id: int
    exchange: str
    sandbox: bool = False
    api_urls: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class StrategyVenues:
    """Where a strategy's active subscribers trade: the paper market, and live accounts."""

    paper: bool
    live: tuple[LiveVenue, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.paper and not self.live


@dataclass(frozen=True, slots=True)
class SubscriptionTarget:
    """An active subscription that may receive a signal."""

    subscription_id: int
    user_id: int
    account_id: int
    pairs: list[str] | None


@dataclass(frozen=True, slots=True)
class Routing:
    """What routing decided for a signal: the subscriptions that get an intent, the price its
    strategy's track record counts it at when it carries none, and its status ('unresolved': no
    venue lists its ticker, and it is not counted)."""

    signal_id: int
    targets: Sequence[SubscriptionTarget]
    market_price: Decimal | None = None
    status: str = "routed"


@dataclass(frozen=True, slots=True)
class WorkItem:
    """An execution intent still to be decided, with all it needs to decide."""

    intent_id: int
    signal_id: int
    subscription_id: int
    account_id: int
    user_id: int
    mode: str
    exchange: str
    symbol: str
    action: SignalAction
    contracts: Decimal | None
    signal_price: Decimal | None
    market_position: MarketPosition | None
    exit_ratio: tuple[Decimal, Decimal]
    sizing: Sizing
    strategy_id: int = 0
    ticker: str = ""  # as the alert spelled it (the symbol is empty when no venue resolved it)
    risk: RiskLimits = field(default_factory=RiskLimits)
    signal_at: datetime | None = None  # when the signal was emitted (or received, if it has no time)
    exit_rules: ExitRules = field(default_factory=ExitRules)
    state: TradingState = TradingState.ACTIVE
    state_source: str = "subscription"  # what set `state`: the subscription, the platform, its owner
    pnl_total: Decimal = Decimal(0)  # the subscription's net realised results, all time
    pnl_peak: Decimal = Decimal(0)
    strategy_drawdown_pct: Decimal | None = None
    stop_loss: Decimal | None = None  # the signal's own levels
    take_profit: Decimal | None = None
    dca: DcaPlan | None = None
    attempts: int = 0  # earlier decisions of this intent that failed with an error
    order_type: OrderType | None = None  # what the signal asks for (an alert's order_type)
    entry: EntryOrder = field(default_factory=EntryOrder)  # the subscription's entry order
    confirmation: TradeConfirmation = field(default_factory=TradeConfirmation)  # confirm before trade
    confirmed: bool = False  # a human confirmed this entry: decided afresh, never asked again
    proposal_price: Decimal | None = None  # the price it was proposed at (drift when the signal has none)
    proposed_at: datetime | None = None  # when it was proposed (a confirmed entry's signal age is taken then)
    subscription_status: SubscriptionStatus = SubscriptionStatus.ACTIVE  # only an ACTIVE one enters
    confidence: Any = None  # the signal's own (a model's probability), shown with a proposal

    @property
    def awaits_confirmation(self) -> bool:
        """An approved plan of this intent is proposed to a human instead of being ordered: only
        entries wait, and only once."""
        return self.action is SignalAction.BUY and self.confirmation.waits and not self.confirmed

    def exit_plan(self, later: tuple[Decimal, ...] = ()) -> ExitPlan | None:
        plan = ExitPlan(self.exit_rules, self.stop_loss, self.take_profit, self.dca if later else None, later)
        return None if plan.is_empty else plan


@dataclass(frozen=True, slots=True)
class UnreadableWork:
    """A pending intent whose stored rows cannot be read as a WorkItem (e.g. written by an older
    version): it fails at once with the reason, rather than failing its page on every sweep."""

    intent_id: int
    reason: str


class Page(NamedTuple):
    """A page of a list, newest first: `limit` rows with ids below `before_id` (None: the newest)."""

    limit: int
    before_id: int | None = None


@dataclass(frozen=True, slots=True)
class WorkQuery:
    """Which pending intents to read: of one signal (None: any), created at or before
    `created_before`, with ids above `after_id` (pages go forward by id), at most `limit`, of accounts
    in `partitions` (None: all)."""

    signal_id: int | None = None
    created_before: datetime | None = None
    after_id: int = 0
    limit: int = 5000
    partitions: Partitions | None = None


class WorkPage(NamedTuple):
    """One page of pending intents: those ready to decide, and those whose rows cannot be read."""

    work: list[WorkItem]
    unreadable: list[UnreadableWork]


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """An intent whose decision failed with an error; `final`: it is marked failed, never tried again."""

    intent_id: int
    reason: str
    final: bool


@dataclass(frozen=True, slots=True)
class RiskKeys:
    """What a RiskSnapshot is read for: the accounts (with the UTC `day` of their results), the
    (subscription, symbol) pairs whose last trade a cooldown needs, and the (strategy, symbol) pairs
    whose track record may block the pair."""

    account_ids: Sequence[int]
    day: str
    pair_keys: Sequence[tuple[int, str]] = ()
    strategy_pairs_keys: Sequence[tuple[int, str]] = ()


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    """What the store knows that the risk rules need, for one page of entries.

    The open positions counted are those open, and those an entry may still open: an entry order not
    settled yet (or in its window of late fills), on a pair without an open position, and each entry
    of this page already decided (`opening`). So two entries decided together, or one sent before its
    fill is known, cannot pass a position limit that only one of them fits."""

    per_subscription: dict[int, int] = field(default_factory=dict)  # open positions
    per_account: dict[int, int] = field(default_factory=dict)
    open_symbols: dict[int, list[str]] = field(default_factory=dict)  # per account
    subscription_symbols: dict[int, list[str]] = field(default_factory=dict)  # open, per subscription
    realized_today: dict[int, Decimal] = field(default_factory=dict)  # per account, net
    last_trade: dict[tuple[int, str], datetime] = field(default_factory=dict)  # (subscription, symbol)
    pairs: dict[tuple[int, str], PairRecord] = field(default_factory=dict)  # (strategy, symbol)

    def opening(self, account_id: int, subscription_id: int | None, symbol: str) -> None:
        """Count a position open (or about to open) on `symbol`, once per subscription and symbol."""
        if subscription_id is not None:
            held = self.subscription_symbols.setdefault(subscription_id, [])
            if symbol in held:
                return
            held.append(symbol)
            self.per_subscription[subscription_id] = self.per_subscription.get(subscription_id, 0) + 1
        self.per_account[account_id] = self.per_account.get(account_id, 0) + 1
        self.open_symbols.setdefault(account_id, []).append(symbol)


@dataclass(frozen=True, slots=True)
class Rejection:
    """An intent that ends without an order, and why."""

    item: WorkItem
    reason: str
    log_status: LogStatus = LogStatus.SKIPPED
    details: dict[str, Any] | None = None  # e.g. each risk rule's verdict and numbers
    pause_reason: str | None = None  # set: the subscription turns REDUCING (drawdown pause)
    paused: Event | None = None  # what tells the pause, written when it takes effect


@dataclass(frozen=True, slots=True)
class NewOrder:
    """An order to store before it is sent."""

    item: WorkItem
    client_order_id: str
    side: OrderSide
    type: OrderType
    amount: Decimal
    price: Decimal | None
    sizing_note: str | None = None
    exit_plan: ExitPlan | None = None
    sizing_equity: Decimal | None = None  # the account equity the amount was sized against


@dataclass(frozen=True, slots=True)
class Proposal:
    """An approved entry that waits for its owner's yes until `confirm_by` instead of being ordered;
    `terms` (JSON) is what they are shown (domain/confirmation.proposal_terms)."""

    item: WorkItem
    confirm_by: datetime
    terms: dict[str, Any]
    note: str  # the execution log's line


class Decisions(NamedTuple):
    """What became of a page of intents, stored together: those rejected, the orders to store, the
    decisions that failed with an error, the entries proposed to a human, and what risk tells their
    owners (domain/risk_alerts.py)."""

    rejections: Sequence[Rejection] = ()
    new_orders: Sequence[NewOrder] = ()
    failures: Sequence[FailedAttempt] = ()
    proposals: Sequence[Proposal] = ()
    alerts: Sequence[RiskAlert] = ()


@dataclass(frozen=True, slots=True)
class Answer:
    """How a human's confirm or decline of an intent ended: `won` when it changed the intent (the
    only caller that did), else the status the intent has (and why), for the refusal."""

    intent_id: int
    won: bool
    status: str
    reason: str | None = None
    signal_id: int | None = None


@dataclass(frozen=True, slots=True)
class PositionRef:
    """A position with what an order on it names: account (mode, exchange), subscription, owner, symbol."""

    position_id: int
    account_id: int
    subscription_id: int | None
    user_id: int
    mode: str
    exchange: str
    symbol: str


@dataclass(frozen=True, slots=True)
class AutoOrder(PositionRef):
    """An order the platform places itself on a position: an exit with its reason, or a DCA tranche."""

    amount: Decimal
    reason: CloseReason | None  # None: a DCA tranche (a buy)
    note: str
    tranche: int | None = None

    @classmethod
    def for_position(
        cls,
        position: PositionRef,
        amount: Decimal,
        reason: CloseReason | None,
        note: str,
        tranche: int | None = None,
    ) -> AutoOrder:
        """An order on `position`: an exit with its reason, or (reason None) DCA tranche `tranche`."""
        return cls(
            position_id=position.position_id,
            account_id=position.account_id,
            subscription_id=position.subscription_id,
            user_id=position.user_id,
            mode=position.mode,
            exchange=position.exchange,
            symbol=position.symbol,
            amount=amount,
            reason=reason,
            note=note,
            tranche=tranche,
        )

    @property
    def side(self) -> OrderSide:
        return OrderSide.BUY if self.tranche is not None else OrderSide.SELL


@dataclass(frozen=True, slots=True)
class WatchedPosition(PositionRef):
    """An open position as the exit monitor sees it: its levels and what an exit order needs."""

    is_open: bool
    amount: Decimal
    avg_entry: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None
    trailing_pct: Decimal | None
    trailing_activation_pct: Decimal | None
    best_price: Decimal | None
    deadline_at: datetime | None
    state: TradingState
    risk: RiskLimits
    updated_at: datetime
    state_source: str = "subscription"  # what set `state` (domain/platform.py)
    phase: PositionPhase = PositionPhase.OPEN
    dca: DcaPlan | None = None
    first_fill: Decimal | None = None
    pending: tuple[Tranche, ...] = ()
    budget: Decimal | None = None  # DCA: what the whole planned position costs (DcaPlan.budget)

    @property
    def automated(self) -> bool:
        return any(
            v is not None for v in (self.stop_loss, self.take_profit, self.trailing_pct, self.deadline_at)
        )

    @property
    def next_tranche(self) -> Tranche | None:
        return self.pending[0] if self.pending and self.phase is PositionPhase.BUILDING else None


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """Which stored orders to read: those in `states`, created before `created_before`, of accounts in
    `partitions` (None: any)."""

    states: Sequence[OrderState]
    created_before: datetime | None = None
    partitions: Partitions | None = None


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """Our stored view of one order."""

    order_id: int
    intent_id: int | None
    account_id: int
    subscription_id: int | None
    user_id: int
    mode: str
    exchange: str
    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    amount: Decimal
    price: Decimal | None
    state: OrderState
    check_attempts: int = 0
    signal_id: int | None = None
    created_at: datetime | None = None
    sizing_note: str | None = None
    exit_plan: ExitPlan | None = None
    position_id: int | None = None
    close_reason: CloseReason | None = None
    tranche: int | None = None
    filled: Decimal = Decimal(0)  # as recorded so far
    limit_timeout_s: int | None = None  # the subscription's limit order timeout; None: the default
    rejection: RejectionKind | None = None  # who decided it is REJECTED (None: not rejected)

    def request(self) -> OrderRequest:
        """The request that (re)sends this order, always under its own client order id."""
        return OrderRequest(self.client_order_id, self.symbol, self.side, self.type, self.amount, self.price)


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What an exchange said about an order (or that it could not say)."""

    order: OrderRecord
    exchange_order: ExchangeOrder | None = None
    rejected_reason: str | None = None
    unknown_reason: str | None = None
    response: dict[str, Any] = field(default_factory=dict)
    min_sellable: Decimal | None = None  # below this a remaining position is dust (market minimum)
    rejection: RejectionKind = RejectionKind.EXCHANGE  # with rejected_reason: who decided it


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """What marking an open position needs."""

    position_id: int
    user_id: int
    account_id: int
    exchange: str
    mode: str
    symbol: str
    amount: Decimal
    avg_entry: Decimal

    @property
    def mark_key(self) -> tuple[int, str, str, str]:
        """The REST endpoint's key: account, exchange, mode, symbol (services/valuation.py MarkKey)."""
        return (self.account_id, self.exchange, self.mode, self.symbol)

    @property
    def price_key(self) -> tuple[int, str, str, str]:
        """Whose price this is: every paper account shares the paper market; a live account its own."""
        account = 0 if self.mode == "paper" else self.account_id
        return (account, self.exchange, self.mode, self.symbol)
