"""How much of each risk limit a user's subscriptions use now: daily loss, drawdown and open positions,
measured by the entry rules themselves (domain/risk.py: usage) on the numbers they would see.

Equity is measured as the executor measures it before an entry: the account's assets valued in the
quote currency of the market the entry is in (services/execution.py). A subscription is shown once per
quote it trades in: the quotes of its pair filter, else of its open positions, else the platform's
default quote (`quote`, as the account balance page uses)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.markets import Market, symbol_quote
from tradewire.domain.members import Account, Subscription
from tradewire.domain.records import Page, RiskKeys, RiskSnapshot
from tradewire.domain.risk import LimitUsage, RiskContext, RiskLimits, drawdown_pct, usage
from tradewire.ports import Clock, ExchangeDirectory, ExchangeError, ExchangeUnavailable
from tradewire.services.valuation import AccountBalance, BalanceUnavailable

log = logging.getLogger("tradewire.risk")

ZERO = Decimal(0)
# Bounded work per request: at most MAX_PAGE subscriptions, and subscriptions are added to a page only
# while the (account, quote) equities to ask the exchanges for stay within MAX_VALUATIONS (a page holds
# at least one subscription, whatever its quotes). The rest is on the next page (`next_before_id`).
MAX_PAGE = 100
MAX_VALUATIONS = 100


class OwnedAccounts(Protocol):
    async def owned(self, user_id: int) -> list[Account]: ...


class OwnedSubscriptions(Protocol):
    async def owned(self, user_id: int) -> list[Subscription]: ...


class RiskReads(Protocol):
    def risk_snapshot(self, keys: RiskKeys) -> RiskSnapshot: ...


class Balances(Protocol):
    async def balance(self, account_id: int, exchange: str, mode: str, quote: str) -> AccountBalance: ...


@dataclass(frozen=True, slots=True)
class SubscriptionRisk:
    """One subscription's limits and how much of each is used, measured in one quote currency."""

    subscription: Subscription
    quote: str
    symbols: tuple[str, ...]  # the markets measured in `quote` (empty: none known, the default quote)
    equity: Decimal | None
    equity_error: str | None  # why there is no equity (the exchange did not answer)
    limits: tuple[LimitUsage, ...]


@dataclass(frozen=True, slots=True)
class RiskPage:
    """One page of risk usage, newest subscription first; `next_before_id` asks for the next one."""

    as_of: datetime
    found: list[SubscriptionRisk]
    next_before_id: int | None


@dataclass(slots=True, eq=False)
class RiskUsage:
    accounts: OwnedAccounts
    subscriptions: OwnedSubscriptions
    reads: RiskReads
    balances: Balances
    exchanges: ExchangeDirectory
    clock: Clock
    quote: str  # where a subscription names no market: the currency equity is measured in
    timeout_s: float = 10.0  # a market list that takes longer: the symbol's own quote is used

    async def of(self, user_id: int, page: Page = Page(MAX_PAGE)) -> RiskPage:
        """The user's subscriptions that are not cancelled, newest first, below `page.before_id`, at
        most `page.limit` (capped at MAX_PAGE), each with its usage per quote it trades in."""
        now = self.clock.now()
        limit = max(1, min(page.limit, MAX_PAGE))
        subs = [
            s
            for s in await self.subscriptions.owned(user_id)
            if s.status != SubscriptionStatus.CANCELLED and (page.before_id is None or s.id < page.before_id)
        ]
        accounts = {a.id: a for a in await self.accounts.owned(user_id)}
        subs = [s for s in subs if s.account_id in accounts]
        subs.sort(key=lambda s: s.id, reverse=True)
        snap = await asyncio.to_thread(
            self.reads.risk_snapshot,
            RiskKeys(sorted({s.account_id for s in subs[:limit]}), now.date().isoformat()),
        )
        markets = await self._markets([accounts[a] for a in sorted({s.account_id for s in subs[:limit]})])
        taken: list[tuple[Subscription, dict[str, list[str]]]] = []
        wanted: set[tuple[int, str]] = set()
        for s in subs[:limit]:
            by_quote = self._quotes(s, snap, markets.get(s.account_id, {}))
            more = {(s.account_id, q) for q in by_quote} - wanted
            if taken and len(wanted) + len(more) > MAX_VALUATIONS:
                break
            taken.append((s, by_quote))
            wanted |= more
        keys = sorted(wanted)
        equities = dict(
            zip(keys, await asyncio.gather(*(self._equity(accounts[a], q) for a, q in keys)), strict=True)
        )
        found = []
        for s, by_quote in taken:
            try:
                limits = RiskLimits.from_json(s.risk_limits)
            except Exception:  # stored by hand or an older version: the others still answer
                log.exception("subscription %s: its risk limits cannot be read; left out of the page", s.id)
                continue
            for quote, symbols in by_quote.items():
                equity, error = equities[(s.account_id, quote)]
                context = RiskContext(
                    open_positions_subscription=snap.per_subscription.get(s.id, 0),
                    open_positions_account=snap.per_account.get(s.account_id, 0),
                    realized_today=snap.realized_today.get(s.account_id, ZERO),
                    equity=equity,
                    signal_age_s=None,
                    drawdown_pct=drawdown_pct(s.pnl_peak, s.pnl_total, equity),
                )
                found.append(
                    SubscriptionRisk(s, quote, tuple(symbols), equity, error, usage(limits, context))
                )
        more_left = len(taken) < len(subs)
        return RiskPage(now, found, taken[-1][0].id if taken and more_left else None)

    def _quotes(
        self, s: Subscription, snap: RiskSnapshot, markets: Mapping[str, Market]
    ) -> dict[str, list[str]]:
        """The quote of each market the subscription trades in (as its account's market list says,
        else as the symbol says), with the symbols of each; the default quote when it names none."""
        symbols = s.pairs or sorted(set(snap.subscription_symbols.get(s.id, [])))
        by_quote: dict[str, list[str]] = {}
        for symbol in symbols:
            market = markets.get(symbol)
            quote = market.quote if market is not None else symbol_quote(symbol)
            if quote:
                by_quote.setdefault(quote, []).append(symbol)
        return by_quote or {self.quote: []}

    async def _markets(self, accounts: list[Account]) -> dict[int, Mapping[str, Market]]:
        found = await asyncio.gather(*(self._market_list(a) for a in accounts))
        return {a.id: m for a, m in zip(accounts, found, strict=True)}

    async def _market_list(self, account: Account) -> Mapping[str, Market]:
        try:
            venue = self.exchanges.for_account(account.id, account.exchange, account.mode)
            return await asyncio.wait_for(venue.markets(), self.timeout_s)
        except (TimeoutError, ExchangeUnavailable, ExchangeError):
            return {}  # the symbols' own quotes (a unified symbol names it)

    async def _equity(self, account: Account, quote: str) -> tuple[Decimal | None, str | None]:
        try:
            found = await self.balances.balance(account.id, account.exchange, account.mode, quote)
        except BalanceUnavailable as exc:
            return None, str(exc)
        return found.valuation.equity, None
