"""The Health page's details without a server: a user's own accounts (paper has no exchange to wait
on; a live one its client's health once used), an admin every live account in use and the last
problems; a rate limiter's headroom read without spending; the problems kept redacted and bounded."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from tradewire.adapters.live.guards import RateLimiter
from tradewire.domain.health import ExchangeHealth
from tradewire.domain.members import Account, AccountMode, Role, User
from tradewire.logs import RecentProblems
from tradewire.services.health_details import HealthDetails
from tradewire.services.monitor import MonitorStats

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)


class Check:
    def __init__(self, ok: bool, error: str | None = None) -> None:
        self.ok, self.ms, self.error = ok, 1.5, error


class Client:
    """A live account whose breaker another process opened: this one learns it when it refreshes."""

    def __init__(self, account_id: int, exchange: str = "binance") -> None:
        self.account_id, self.exchange = account_id, exchange
        self.circuit, self.refreshes = "closed", 0

    async def refresh_health(self) -> None:
        self.refreshes += 1
        self.circuit = "open"

    def health(self) -> ExchangeHealth:
        return ExchangeHealth(
            self.account_id, self.exchange, self.circuit, 0, 12.5, NOW, None, None, 10, 100, 0
        )


class Accounts:
    async def owned(self, user_id: int) -> list[Account]:
        mine = {
            1: [
                Account(10, "paper one", "paper", AccountMode.PAPER, False, None, False, NOW),
                Account(11, "binance", "binance", AccountMode.LIVE, False, None, True, NOW),
                Account(12, "okx idle", "okx", AccountMode.LIVE, False, None, True, NOW),
            ]
        }
        return mine.get(user_id, [])


class Clock:
    def now(self) -> datetime:
        return NOW


def details(
    problems: list[dict[str, str]] | None = None, clients: dict[int, Client] | None = None
) -> HealthDetails:
    async def checks() -> dict[str, Check]:
        return {"database": Check(True), "bus": Check(False, "bus stopped")}

    stats = MonitorStats(evaluations=7, last_batch_ms=3.25, last_round_at=NOW - timedelta(seconds=2))
    live = clients if clients is not None else {11: Client(11), 99: Client(99, "bybit")}  # 99: another's
    return HealthDetails(
        checks,
        lambda: live,
        Accounts(),
        lambda: stats,
        lambda: 4,
        lambda: problems or [],
        Clock(),
    )


@pytest.mark.asyncio
async def test_a_user_sees_its_own_accounts_only() -> None:
    found = await details([{"message": "x"}]).of(User(1, "alice", "h", Role.SUBSCRIBER))
    assert [(a.account_id, a.name, a.health is not None) for a in found.accounts] == [
        (10, "paper one", False),
        (11, "binance", True),
        (12, "okx idle", False),
    ]
    assert found.accounts[0].note.startswith("paper")
    assert found.accounts[2].note == "not used since the server started"
    assert (found.monitor_lag_s, found.monitor_rounds, found.monitor_batch_ms) == (2.0, 7, 3.25)
    assert found.ws_clients == 4 and found.errors is None
    assert not found.checks["bus"].ok and found.checks["bus"].error == "bus stopped"
    nobody = await details().of(User(2, "bob", "h", Role.SUBSCRIBER))
    assert nobody.accounts == []


@pytest.mark.asyncio
async def test_an_admin_sees_every_live_account_in_use_and_the_problems_newest_first() -> None:
    problems = [{"message": "older"}, {"message": "newer"}]
    found = await details(problems).of(User(3, "root", "h", Role.ADMIN))
    assert [(a.account_id, a.name, a.exchange) for a in found.accounts] == [
        (11, None, "binance"),
        (99, None, "bybit"),
    ]
    assert found.errors == [{"message": "newer"}, {"message": "older"}]


@pytest.mark.asyncio
async def test_each_shown_account_shows_the_state_other_processes_gave_its_breaker() -> None:
    clients = {11: Client(11), 99: Client(99, "bybit")}

    mine = await details(clients=clients).of(User(1, "alice", "h", Role.SUBSCRIBER))
    refreshed_for_alice = {a: c.refreshes for a, c in clients.items()}
    everyone = await details(clients=clients).of(User(3, "root", "h", Role.ADMIN))

    assert [a.health.circuit for a in mine.accounts if a.health] == ["open"]  # read before shown
    assert refreshed_for_alice == {11: 1, 99: 0}  # another user's account is not read for her
    assert [a.health.circuit for a in everyone.accounts if a.health] == ["open", "open"]


def test_headroom_is_read_without_spending_and_a_retry_after_blocks() -> None:
    clock = [100.0]
    limiter = RateLimiter(rate=2.0, burst=4.0, clock=lambda: clock[0])
    assert limiter.headroom_pct() == 100.0 and limiter.headroom_pct() == 100.0
    limiter._tokens = 1.0  # three requests just went out
    assert limiter.headroom_pct() == 25.0
    clock[0] += 1.0  # two tokens back a second
    assert limiter.headroom_pct() == 75.0
    limiter.penalize(30)
    assert limiter.blocked_s() == 30.0 and limiter.rate == 2.0


def test_recent_problems_are_redacted_short_and_bounded() -> None:
    kept = RecentProblems(keep=3, max_chars=40)
    log = logging.getLogger("tradewire.test.problems")
    log.addHandler(kept)
    try:
        log.info("not a problem")
        for n in range(5):
            log.warning("problem %d token=%s and more words to be cut off here", n, "abcdef123456")
    finally:
        log.removeHandler(kept)
    entries = kept.entries()
    assert [e["message"][:9] for e in entries] == ["problem 2", "problem 3", "problem 4"]
    assert all("abcdef123456" not in e["message"] and len(e["message"]) <= 40 for e in entries)
    assert entries[0]["message"].startswith("problem 2 token=***") and entries[0]["level"] == "WARNING"
