"""Several active workers (TRADEWIRE_WORKER_PARTITIONS, issue #15) as real processes on one PostgreSQL
and one Redis: the accounts are spread over partitions, each owned by one worker at a time.

- A burst of webhooks to several workers: every intent gets exactly one order, the exchange (the paper
  books) sees each client order id once, every account pays once per fill, and every worker traded.
- A worker killed (kill -9, a failpoint) in the middle of a 1,000-subscriber fan-out: the others take
  its partitions and finish its share once.
- The worker owning armed stops is killed and the price moves through them meanwhile: the stops fire
  once, from the worker that took its partitions.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from tests.e2e.cluster import Cluster, assert_each_client_order_id_once, tally
from tests.fakes.exchange import FakeExchange
from tests.support import PASSWORD, orders_by_account, seed_marketplace, send_alert, until
from tradewire.adapters.store.tables import (
    execution_intents,
    orders,
    paper_balances,
    paper_orders,
    positions,
)

PARTITIONS = "8"


def _partitioned(cluster: Cluster, name: str, **extra: str) -> None:
    cluster.start_worker(name, active=True, TRADEWIRE_WORKER_PARTITIONS=PARTITIONS, **extra)


def _took(cluster: Cluster, name: str) -> set[int]:
    """The partitions a worker's log says it took (over its life)."""
    found: set[int] = set()
    for listed in re.findall(r"took partitions \[([0-9, ]*)\]", cluster.log(name)):
        found |= {int(p) for p in listed.split(",") if p.strip()}
    return found


def _assert_paid_once(cluster: Cluster) -> None:
    """Each account's USDT is its starting 10,000 less what its filled orders cost (buys) or plus what
    they brought (sells), fees included: nothing paid twice, nothing lost by a hand-over."""
    with cluster.engine.connect() as conn:
        balances = {
            a: free + used
            for a, free, used in conn.execute(
                select(paper_balances.c.account_id, paper_balances.c.free, paper_balances.c.used).where(
                    paper_balances.c.asset == "USDT"
                )
            )
        }
        fills = conn.execute(
            select(
                orders.c.account_id,
                orders.c.side,
                orders.c.filled,
                orders.c.average,
                orders.c.fee,
                orders.c.fee_currency,
            ).where(orders.c.state == "filled")
        ).all()
    expected: dict[int, Decimal] = {}
    for account, side, filled, average, fee, currency in fills:
        value = filled * average
        usdt_fee = fee if currency == "USDT" else Decimal(0)
        change = -value - usdt_fee if side == "buy" else value - usdt_fee
        expected[account] = expected.get(account, Decimal(10_000)) + change
    assert set(balances) == set(expected)
    wrong = {a: (balances[a], expected[a]) for a in expected if balances[a] != expected[a]}
    assert not wrong, list(wrong.items())[:3]


@pytest.mark.postgres
@pytest.mark.slow
def test_a_burst_of_webhooks_to_three_active_workers_gives_each_intent_exactly_one_order(
    cluster: Cluster,
) -> None:
    followers = 120
    seeded = seed_marketplace(cluster.engine, [{}] * followers)
    cluster.start_api()
    for name in ("worker-a", "worker-b", "worker-c"):
        _partitioned(cluster, name)
    until(
        lambda: all(len(_took(cluster, n)) >= 2 for n in ("worker-a", "worker-b", "worker-c")),
        "the three workers to share the partitions",
    )
    owned = [_took(cluster, n) for n in ("worker-a", "worker-b", "worker-c")]
    assert set().union(*owned) == set(range(int(PARTITIONS)))

    # A burst: buys and sells of one ticker, alternating, each to every follower.
    burst = 6
    for number in range(burst):
        send_alert(cluster.url, "buy" if number % 2 == 0 else "sell", number)
    until(
        lambda: (
            cluster.count(execution_intents) == burst * followers
            and cluster.count(execution_intents, execution_intents.c.status == "created") == 0
        ),
        "every intent to be decided",
        60,
    )
    until(
        lambda: cluster.count(orders, orders.c.state.not_in(["filled", "rejected"])) == 0,
        "every order to settle",
        30,
    )
    time.sleep(2.5)  # a late duplicate would show within a sweep

    intents = tally(cluster.engine, execution_intents.c.status)
    with cluster.engine.connect() as conn:
        reasons = conn.execute(
            select(execution_intents.c.reason, execution_intents.c.signal_id).where(
                execution_intents.c.status != "done"
            )
        ).all()
    assert intents == {"done": burst * followers}, (intents, reasons[:5])  # each ordered and filled
    assert cluster.count(orders) == burst * followers
    with cluster.engine.connect() as conn:
        per_intent = conn.execute(
            select(orders.c.intent_id).group_by(orders.c.intent_id).having(orders.c.intent_id.is_not(None))
        ).all()
    assert len(per_intent) == burst * followers  # one order per intent
    assert_each_client_order_id_once(cluster.engine)
    by_account = orders_by_account(cluster.engine)
    assert set(by_account) == set(seeded.account_ids)
    expected = [("buy" if n % 2 == 0 else "sell", "filled") for n in range(burst)]
    assert all(placed == expected for placed in by_account.values()), list(by_account.items())[:2]
    _assert_paid_once(cluster)

    # Manual closes at the API process reach each account's owner (the bus hands them to one worker,
    # which wakes the owner): four subscribers' accounts, spread over the partitions.
    send_alert(cluster.url, "buy", burst)
    until(lambda: cluster.count(positions, positions.c.status == "open") == followers, "the buys to fill")
    closers = seeded.account_ids[:4]
    for number, account_id in enumerate(closers, start=1):
        with cluster.engine.connect() as conn:
            position_id = conn.execute(
                select(positions.c.id).where(
                    positions.c.account_id == account_id, positions.c.status == "open"
                )
            ).scalar_one()
        token = httpx.post(
            f"{cluster.url}/api/v1/auth/token",
            data={"username": f"tv-test-sub{number}", "password": PASSWORD},
            timeout=30,
        ).json()["access_token"]
        closed = httpx.post(
            f"{cluster.url}/api/v1/positions/{position_id}/close",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert closed.status_code in (200, 202, 204), closed.text
    until(
        lambda: (
            cluster.count(positions, positions.c.status == "closed", positions.c.account_id.in_(closers))
            == len(closers) * (burst // 2 + 1)
        ),
        "the manual closes to fill",
    )
    time.sleep(2.5)
    by_account = orders_by_account(cluster.engine)
    for account_id, placed in by_account.items():
        tail = [("buy", "filled"), ("sell", "filled")] if account_id in closers else [("buy", "filled")]
        assert placed == expected + tail, (account_id, placed)
    assert_each_client_order_id_once(cluster.engine)
    _assert_paid_once(cluster)
    # Each worker sent orders for its own accounts (its venue refuses the others': none was refused).
    for name in ("worker-a", "worker-b", "worker-c"):
        assert "traded by another worker now" not in cluster.log(name)


FANOUT = 1_000


@pytest.mark.postgres
@pytest.mark.slow
def test_a_worker_killed_in_the_middle_of_a_1000_subscriber_fan_out_has_its_share_finished_once(
    cluster: Cluster,
) -> None:
    seeded = seed_marketplace(cluster.engine, [{}] * FANOUT)
    cluster.start_api()
    _partitioned(cluster, "worker-a", TRADEWIRE_FAILPOINT="after_orders_stored")
    _partitioned(cluster, "worker-b")
    until(lambda: len(_took(cluster, "worker-b")) >= 2, "worker-b to take its share")
    until(
        lambda: len(_took(cluster, "worker-a") - _gave(cluster, "worker-a")) == int(PARTITIONS) // 2,
        "worker-a to give half back",
    )

    send_alert(cluster.url, "buy", 1)
    # worker-a stores its share's orders and dies before sending them; worker-b takes its partitions.
    assert cluster.processes["worker-a"].wait(60) == 137, cluster.log("worker-a")
    until(
        lambda: cluster.count(orders, orders.c.state == "filled") == FANOUT,
        "worker-b to fill every subscriber",
        60,
    )
    assert _took(cluster, "worker-b") == set(range(int(PARTITIONS)))
    assert "take-over of partitions" in cluster.log("worker-b")
    time.sleep(2.5)
    by_account = orders_by_account(cluster.engine)
    assert set(by_account) == set(seeded.account_ids)
    assert all(placed == [("buy", "filled")] for placed in by_account.values())
    assert_each_client_order_id_once(cluster.engine)
    assert tally(cluster.engine, paper_orders.c.status) == {"closed": FANOUT}
    assert tally(cluster.engine, positions.c.status) == {"open": FANOUT}
    _assert_paid_once(cluster)


def _gave(cluster: Cluster, name: str) -> set[int]:
    found: set[int] = set()
    for listed in re.findall(r"gave back partitions \[([0-9, ]*)\]", cluster.log(name)):
        found |= {int(p) for p in listed.split(",") if p.strip()}
    return found


HOLDERS = 24
ENTRY = Decimal(70_000)
STOP = Decimal(68_600)  # stop_loss_pct 2 below the entry
THROUGH = Decimal(68_000)


@pytest.mark.postgres
@pytest.mark.slow
def test_stops_hit_while_their_worker_is_dead_fire_once_from_the_worker_taking_its_partitions(
    cluster: Cluster,
) -> None:
    with FakeExchange("binance", prices={"BTC/USDT": str(ENTRY), "ETH/USDT": "3000"}) as tickers:
        cluster.follow_tickers(tickers.ccxt_urls())
        seed_marketplace(cluster.engine, [{"exit_rules": {"stop_loss_pct": "2"}}] * HOLDERS)
        cluster.start_api()
        _partitioned(cluster, "worker-a")
        _partitioned(cluster, "worker-b")
        until(
            lambda: (
                len(_took(cluster, "worker-b")) == int(PARTITIONS) // 2
                and len(_took(cluster, "worker-a") - _gave(cluster, "worker-a")) == int(PARTITIONS) // 2
            ),
            "the two workers to share the partitions",
        )

        cluster.buy_with_stops(ENTRY, STOP, HOLDERS)
        # worker-a (the leader: it started first and holds partition 0) dies, and the price falls
        # through every stop before worker-b takes its partitions.
        assert 0 in _took(cluster, "worker-a")
        cluster.kill("worker-a")
        tickers.set_price("BTC/USDT", str(THROUGH))
        until(
            lambda: cluster.count(positions, positions.c.status == "closed") == HOLDERS,
            "every stop to fire",
            45,
        )
        time.sleep(2.5)
    assert _took(cluster, "worker-b") == set(range(int(PARTITIONS)))
    by_account = orders_by_account(cluster.engine)
    assert len(by_account) == HOLDERS
    assert all(placed == [("buy", "filled"), ("sell", "filled")] for placed in by_account.values())
    assert_each_client_order_id_once(cluster.engine)
    with cluster.engine.connect() as conn:
        exits = conn.execute(select(orders.c.average).where(orders.c.side == "sell")).scalars().all()
    assert all(price == THROUGH for price in exits), exits  # at the market's price, not a made-up one
    _assert_paid_once(cluster)
