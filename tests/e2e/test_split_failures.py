"""The split deployment's failures (issue #15), as real processes on one PostgreSQL and one Redis.

- The active worker dies (kill -9, or a failpoint: os._exit at a named gap) in the middle of a
  1,000-subscriber fan-out: a standing-by worker takes over; every subscriber gets exactly one order,
  the exchange (the paper books) sees each client order id once, every account pays once.
- The worker that owns open positions with armed stops is killed and the price moves through the
  stops during the take-over: the next worker fires each stop once (and if it dies right after
  sending them, the one after it records them and sends nothing again). The prices are moved by hand
  on a fake exchange's public tickers, which the paper market follows.
- Redis is killed in the middle of a burst of webhooks and started again: every webhook is answered,
  stored and traded once (the sweep makes good what the bus lost), nothing twice.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from tests.conftest import free_port, unavailable
from tests.e2e.cluster import Cluster, assert_each_client_order_id_once, tally
from tests.fakes.exchange import FakeExchange
from tests.support import PASSPHRASE, orders_by_account, seed_marketplace, send_alert, until
from tradewire.adapters.store.tables import (
    execution_intents,
    orders,
    paper_balances,
    paper_orders,
    positions,
    signals,
)

FANOUT = 1_000  # seeding 1,000 subscribers on the local PostgreSQL takes ~5 s
QUOTE = Decimal(100)  # each subscriber's entry: fixed_quote 100 USDT (seed_members' default)


# -- 1. kill -9 in the middle of a 1,000-subscriber fan-out ------------------------------------------


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize(
    "failpoint",
    [
        "after_orders_stored",  # 1,000 orders stored, none sent: the next worker sends each once
        "after_orders_sent",  # 1,000 orders filled on the exchange, none recorded: looked up, not resent
    ],
)
def test_a_worker_killed_in_the_middle_of_a_1000_subscriber_fan_out_is_finished_once_by_a_standby(
    cluster: Cluster, failpoint: str
) -> None:
    seeded = seed_marketplace(cluster.engine, [{}] * FANOUT)
    cluster.start_api()
    first = cluster.start_worker("worker-a", active=True, TRADEWIRE_FAILPOINT=failpoint)
    second = cluster.start_worker("worker-b", active=False)

    send_alert(cluster.url, "buy", 1)
    # The first worker routes the signal, decides the 1,000 orders and dies at the failpoint.
    assert first.wait(60) == 137, cluster.log("worker-a")
    assert f"failpoint {failpoint}: killing the process" in cluster.log("worker-a")
    left = tally(cluster.engine, orders.c.state)
    on_the_exchange = cluster.count(paper_orders)
    assert sum(left.values()) == FANOUT and "filled" not in left, left  # killed mid-way, not after
    assert on_the_exchange == (0 if failpoint == "after_orders_stored" else FANOUT)

    # The standby takes over and finishes the fan-out.
    until(
        lambda: cluster.count(orders, orders.c.state == "filled") == FANOUT,
        "the standby to fill every subscriber",
        45,
    )
    assert "active now" in cluster.log("worker-b")
    time.sleep(2.5)  # a late duplicate would show within a sweep (2 s)
    assert second.poll() is None, cluster.log("worker-b")

    by_account = orders_by_account(cluster.engine)
    assert set(by_account) == set(seeded.account_ids)
    assert all(placed == [("buy", "filled")] for placed in by_account.values())
    assert_each_client_order_id_once(cluster.engine)
    with cluster.engine.connect() as conn:
        [(status,)] = conn.execute(select(signals.c.status)).all()
        balances = conn.execute(
            select(paper_balances.c.account_id, paper_balances.c.free, paper_balances.c.used).where(
                paper_balances.c.asset == "USDT"
            )
        ).all()
        costs = conn.execute(
            select(
                orders.c.account_id, orders.c.filled, orders.c.average, orders.c.fee, orders.c.fee_currency
            )
        ).all()
    intents = tally(cluster.engine, execution_intents.c.status)
    assert status == "routed"  # the signal routed once: one intent per subscription
    assert sum(intents.values()) == FANOUT and "created" not in intents, intents
    assert tally(cluster.engine, paper_orders.c.status) == {"closed": FANOUT}
    assert tally(cluster.engine, positions.c.status) == {"open": FANOUT}
    # Each account paid for its one entry, not twice.
    paid = {
        account: filled * average + (fee if currency == "USDT" else 0)
        for account, filled, average, fee, currency in costs
    }
    assert len(balances) == FANOUT
    assert all(Decimal(10_000) - free - used == paid[account] for account, free, used in balances), balances[
        :3
    ]


# -- 2. kill -9 the worker that owns armed stops; the price moves through them during the take-over ----

HOLDERS = 20
ENTRY = Decimal(70_000)
STOP = Decimal(68_600)  # stop_loss_pct 2 below the entry
THROUGH = Decimal(68_000)  # where the price goes while no worker is active


@pytest.fixture
def tickers() -> Iterator[FakeExchange]:
    """A fake exchange whose public tickers the paper market follows: prices moved by hand."""
    fake = FakeExchange("binance", prices={"BTC/USDT": str(ENTRY), "ETH/USDT": "3000"})
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.mark.postgres
@pytest.mark.slow
def test_stops_hit_while_their_worker_is_dead_fire_once_through_the_take_over(
    cluster: Cluster, tickers: FakeExchange
) -> None:
    cluster.follow_tickers(tickers.ccxt_urls())
    seeded = seed_marketplace(cluster.engine, [{"exit_rules": {"stop_loss_pct": "2"}}] * HOLDERS)
    cluster.start_api()
    cluster.start_worker("worker-a", active=True)

    cluster.buy_with_stops(ENTRY, STOP, HOLDERS)

    # 1. The worker holding them dies; the next one takes over at an unchanged price: nothing closes.
    cluster.start_worker("worker-b", active=False)
    cluster.kill("worker-a")
    until(lambda: "active now" in cluster.log("worker-b"), "worker-b to take over")
    time.sleep(3)  # ~15 rounds of worker-b's exit monitor
    assert cluster.count(orders, orders.c.side == "sell") == 0, "a take-over closed positions by itself"

    # 2. worker-b dies too, and the price falls through every stop before anyone holds the database.
    # worker-c takes over and fires the stops; it is armed to die right after sending them (filled on
    # the paper exchange, not recorded): worker-d, starting after it, must record them and send none.
    worker_c = cluster.start_worker("worker-c", active=False, TRADEWIRE_FAILPOINT="after_orders_sent")
    cluster.kill("worker-b")
    tickers.set_price("BTC/USDT", str(THROUGH))
    assert worker_c.wait(30) == 137, cluster.log("worker-c")
    assert "failpoint after_orders_sent: killing the process" in cluster.log("worker-c")
    sent = tally(cluster.engine, paper_orders.c.side)
    assert sent == {"buy": HOLDERS, "sell": HOLDERS}, sent  # worker-c fired every stop before dying
    assert cluster.count(orders, orders.c.side == "sell", orders.c.state == "filled") == 0

    cluster.start_worker("worker-d", active=True)
    until(
        lambda: cluster.count(positions, positions.c.status == "closed") == HOLDERS,
        "worker-d to record the stops' fills",
    )
    time.sleep(2.5)  # a second exit would show within a sweep and a few monitor rounds

    by_account = orders_by_account(cluster.engine)
    assert set(by_account) == set(seeded.account_ids)
    assert all(placed == [("buy", "filled"), ("sell", "filled")] for placed in by_account.values()), (
        by_account
    )
    assert_each_client_order_id_once(cluster.engine)
    with cluster.engine.connect() as conn:
        closed = conn.execute(select(positions.c.close_reason, positions.c.amount)).all()
        sells = conn.execute(
            select(orders.c.average, orders.c.close_reason).where(orders.c.side == "sell")
        ).all()
    assert {reason for reason, _ in closed} == {"SL"}
    # Each sold at the price the exchange showed when the stop fired, not at another price source's.
    assert all(average == THROUGH and reason == "SL" for average, reason in sells), sells


# -- 3. Redis killed in the middle of a burst of webhooks, and started again -------------------------

BURST = 60  # webhooks, each a buy for every subscriber
FOLLOWERS = 5


class RedisServer:
    """A Redis of this test's own (the machine's is shared with other tests): killed and started
    again on the same port, empty, as a restarted Redis without persistence is."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._log = tmp_path / "redis.log"
        self._dir = tmp_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        with self._log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    *("--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
                    *("--dir", str(self._dir)),
                ],
                stdout=out,
                stderr=out,
            )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)

        def answers() -> bool:
            assert self.process is not None and self.process.poll() is None, self._log.read_text()
            try:
                return bool(client.ping())
            except (redis.RedisError, OSError):
                return False

        try:
            until(answers, "the test's Redis to start", 10)
        finally:
            client.close()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed (the Redis restart test starts one of its own)")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()


@pytest.mark.postgres
@pytest.mark.slow
def test_redis_killed_and_restarted_mid_burst_loses_nothing_and_doubles_nothing(
    tmp_path: Path, postgres_engine: Engine, own_redis: RedisServer
) -> None:
    cluster = Cluster(tmp_path, postgres_engine, "tradewire-restart", redis_url=own_redis.url)
    try:
        _burst_through_a_redis_restart(cluster, own_redis)
    finally:
        cluster.stop_all()


def _burst_through_a_redis_restart(cluster: Cluster, own_redis: RedisServer) -> None:
    seeded = seed_marketplace(cluster.engine, [{}] * FOLLOWERS)
    cluster.start_api()
    worker = cluster.start_worker("worker", active=True)
    answers: list[int] = []

    def send(numbers: range) -> None:
        """Webhooks from 4 clients at once, each alert with its own id."""

        def one(number: int) -> int:
            body = {"passphrase": PASSPHRASE, "ticker": "BTCUSDT", "action": "buy", "id": f"buy-{number}"}
            url = f"{cluster.url}/api/v1/webhooks/tradingview/{seeded.slug}"
            return httpx.post(url, json=body, timeout=15).status_code

        with ThreadPoolExecutor(4) as pool:
            answers.extend(pool.map(one, numbers))

    third = BURST // 3
    send(range(1, third + 1))
    own_redis.kill()  # Redis dies with whatever its streams held, read or not
    send(range(third + 1, 2 * third + 1))
    own_redis.start()  # empty: no streams, no consumer groups
    send(range(2 * third + 1, BURST + 1))
    assert answers == [202] * BURST, answers  # every webhook answered, Redis or not

    until(
        lambda: cluster.count(orders, orders.c.state == "filled") >= BURST * FOLLOWERS,
        "every webhook to be traded for every subscriber",
        45,
    )
    time.sleep(2.5)  # a late duplicate would show within a sweep (2 s)
    assert worker.poll() is None, cluster.log("worker")
    assert "could not publish" in cluster.log("api")  # the API did meet the outage

    routed = tally(cluster.engine, signals.c.status)
    intents = tally(cluster.engine, execution_intents.c.status)
    with cluster.engine.connect() as conn:
        per_intent = conn.execute(
            select(orders.c.intent_id, func.count()).group_by(orders.c.intent_id).having(func.count() > 1)
        ).all()
        held = conn.execute(
            select(positions.c.account_id, positions.c.amount).where(positions.c.status == "open")
        ).all()
        bought = conn.execute(
            select(orders.c.account_id, orders.c.filled, orders.c.fee, orders.c.fee_currency)
        )
        bought_amounts: dict[int, Decimal] = {}
        for account, filled, fee, currency in bought:
            net = filled - (fee if currency == "BTC" else 0)
            bought_amounts[account] = bought_amounts.get(account, Decimal(0)) + net
    assert routed == {"routed": BURST}, routed  # each webhook stored once and routed
    assert sum(intents.values()) == BURST * FOLLOWERS and "created" not in intents, intents
    assert per_intent == []
    assert cluster.count(orders) == BURST * FOLLOWERS
    assert_each_client_order_id_once(cluster.engine)
    by_account = orders_by_account(cluster.engine)
    assert set(by_account) == set(seeded.account_ids)
    assert all(placed == [("buy", "filled")] * BURST for placed in by_account.values())
    # One position per subscriber holding exactly what its buys brought.
    assert sorted(account for account, _ in held) == sorted(seeded.account_ids)
    assert all(amount == bought_amounts[account] for account, amount in held), (held, bought_amounts)
