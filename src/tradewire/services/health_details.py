"""What the dashboard's Health page shows beyond GET /health: the database and bus checks, the exit
monitor's lag, the live channel's clients, each exchange account's health (circuit breaker, last
latency, last failure, rate-limit headroom) and, for admins, the process's last warnings and errors.
A user sees their own accounts only; an admin every live account in use too."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tradewire.domain.health import ExchangeHealth
from tradewire.domain.members import Account, Role, User
from tradewire.ports import Clock
from tradewire.services.monitor import MonitorStats


class Check(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def ms(self) -> float: ...
    @property
    def error(self) -> str | None: ...


class LiveClient(Protocol):
    async def refresh_health(self) -> None:
        """Learn what other processes changed (a circuit breaker they share) before `health`."""
        ...

    def health(self) -> ExchangeHealth: ...


class OwnedAccounts(Protocol):
    async def owned(self, user_id: int) -> list[Account]: ...


@dataclass(frozen=True, slots=True)
class AccountHealth:
    account_id: int
    name: str | None  # None: another user's account (an admin's view)
    exchange: str
    mode: str
    health: ExchangeHealth | None  # None: paper, or a live account not used since the start
    note: str


@dataclass(frozen=True, slots=True)
class Details:
    checks: Mapping[str, Check]
    monitor_lag_s: float | None  # since the exit monitor last checked every open position
    monitor_rounds: int
    monitor_batch_ms: float
    ws_clients: int
    accounts: list[AccountHealth]
    errors: list[dict[str, str]] | None  # admins only
    as_of: datetime


@dataclass(slots=True, eq=False)
class HealthDetails:
    checks: Callable[[], Awaitable[Mapping[str, Check]]]
    live_clients: Callable[[], Mapping[int, LiveClient]]
    accounts: OwnedAccounts
    monitor: Callable[[], MonitorStats]
    ws_clients: Callable[[], int]
    problems: Callable[[], list[dict[str, str]]]
    clock: Clock
    max_accounts: int = 500  # an admin's list of live accounts in use, at most

    async def of(self, user: User) -> Details:
        now = self.clock.now()
        checks = await self.checks()
        stats = self.monitor()
        lag = None if stats.last_round_at is None else max(0.0, (now - stats.last_round_at).total_seconds())
        live = self.live_clients()
        owned = await self.accounts.owned(user.id)
        admin = user.role is Role.ADMIN
        mine = {a.id for a in owned}
        others = sorted(a for a in live if a not in mine)[: self.max_accounts] if admin else []
        # Breakers shared by processes are read now (all at once), so each shows its state everywhere.
        in_use = [live[a.id] for a in owned if a.id in live and a.mode != "paper"] + [live[a] for a in others]
        await asyncio.gather(*(client.refresh_health() for client in in_use), return_exceptions=True)
        shown: list[AccountHealth] = []
        for account in owned:
            client = live.get(account.id)
            if account.mode == "paper":
                note = "paper: the simulated market, no exchange to wait on"
            elif client is None:
                note = "not used since the server started"
            else:
                note = ""
            shown.append(
                AccountHealth(
                    account.id,
                    account.name,
                    account.exchange,
                    account.mode,
                    client.health() if client is not None and account.mode != "paper" else None,
                    note,
                )
            )
        for account_id in others:
            health = live[account_id].health()
            shown.append(AccountHealth(account_id, None, health.exchange, "live", health, ""))
        return Details(
            checks=checks,
            monitor_lag_s=None if lag is None else round(lag, 2),
            monitor_rounds=stats.evaluations,
            monitor_batch_ms=round(stats.last_batch_ms, 2),
            ws_clients=self.ws_clients(),
            accounts=shown,
            errors=self.problems()[::-1] if admin else None,
            as_of=now,
        )
