"""How much of each risk limit a user's subscriptions use now: daily loss, drawdown and open positions,
measured by the entry rules themselves (domain/risk.py: usage) on the numbers they would see."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import Account, Subscription
from tradewire.domain.records import RiskKeys, RiskSnapshot
from tradewire.domain.risk import LimitUsage, RiskContext, RiskLimits, drawdown_pct, usage
from tradewire.ports import Clock
from tradewire.services.valuation import AccountBalance, BalanceUnavailable

ZERO = Decimal(0)
MAX_ACCOUNTS = 100  # accounts valued per request (bounded work; a user has a handful)


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
    """One subscription's limits and how much of each is used."""

    subscription: Subscription
    quote: str
    equity: Decimal | None
    equity_error: str | None  # why there is no equity (the exchange did not answer)
    limits: tuple[LimitUsage, ...]


@dataclass(slots=True, eq=False)
class RiskUsage:
    accounts: OwnedAccounts
    subscriptions: OwnedSubscriptions
    reads: RiskReads
    balances: Balances
    clock: Clock
    quote: str  # the currency equity is measured in (as the account balance page does)

    async def of(self, user_id: int) -> tuple[datetime, list[SubscriptionRisk]]:
        """Every subscription of the user that is not cancelled, newest first, with its usage."""
        now = self.clock.now()
        subs = [
            s for s in await self.subscriptions.owned(user_id) if s.status != SubscriptionStatus.CANCELLED
        ]
        subs.sort(key=lambda s: s.id, reverse=True)
        accounts = {a.id: a for a in await self.accounts.owned(user_id)}
        wanted = sorted({s.account_id for s in subs if s.account_id in accounts})[:MAX_ACCOUNTS]
        snap = await asyncio.to_thread(self.reads.risk_snapshot, RiskKeys(wanted, now.date().isoformat()))
        equities = dict(
            zip(wanted, await asyncio.gather(*(self._equity(accounts[a]) for a in wanted)), strict=True)
        )
        found = []
        for s in subs:
            if s.account_id not in equities:
                continue
            equity, error = equities[s.account_id]
            context = RiskContext(
                open_positions_subscription=snap.per_subscription.get(s.id, 0),
                open_positions_account=snap.per_account.get(s.account_id, 0),
                realized_today=snap.realized_today.get(s.account_id, ZERO),
                equity=equity,
                signal_age_s=None,
                drawdown_pct=drawdown_pct(s.pnl_peak, s.pnl_total, equity),
            )
            limits = RiskLimits.from_json(s.risk_limits)
            found.append(SubscriptionRisk(s, self.quote, equity, error, usage(limits, context)))
        return now, found

    async def _equity(self, account: Account) -> tuple[Decimal | None, str | None]:
        try:
            found = await self.balances.balance(account.id, account.exchange, account.mode, self.quote)
        except BalanceUnavailable as exc:
            return None, str(exc)
        return found.valuation.equity, None
