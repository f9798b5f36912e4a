"""Benchmark: the live exchange path against the local fake Binance (run in its own process).

Prints, as min / median over repeated runs:
  1. our overhead per order beyond the exchange's own time: CcxtExchange.create_order (limiter,
     breaker, client order id, conversion) minus a bare ccxt create_order to the same server
     (target < 2 ms);
  2. orders per second one account sustains under its rate limiter (ccxt's Binance figure: 20/s);
  3. the time to reconcile 1,000 open orders of one account (one open-orders call, then recording).

    .venv/bin/python bench/exchange.py [--runs 5] [--orders 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import ccxt.async_support as ccxt_async  # noqa: E402

from tradewire.adapters.live.ccxt_exchange import CcxtExchange, LiveAccount  # noqa: E402
from tradewire.adapters.secrets_box import generate_key  # noqa: E402
from tradewire.config import Settings  # noqa: E402
from tradewire.domain.orders import OrderRequest, OrderSide, OrderState, OrderType  # noqa: E402
from tradewire.wiring import build_runtime  # noqa: E402

SERVER = """
import json, sys, time
from tests.fakes.exchange import FakeExchange
fake = FakeExchange(
    "binance", balances={"USDT": "100000000", "BTC": "1000"}, prices={"BTC/USDT": "60000"}
)
fake.start()
config = {k: v for k, v in fake.ccxt_config().items() if k != "urls"}
print(json.dumps({"urls": fake.ccxt_urls(), "config": config}), flush=True)
sys.stdin.read()
"""


@contextmanager
def fake_exchange() -> Iterator[dict[str, Any]]:
    """The fake Binance in a separate process, so it does not share our interpreter's lock."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(10)


def live_account(info: dict[str, Any], rate: float | None) -> LiveAccount:
    config = info["config"]
    return LiveAccount(
        account_id=1,
        exchange="binance",
        api_key=config["apiKey"],
        secret=config["secret"],
        api_urls=info["urls"],
        requests_per_second=rate,
        private_urls_allowed=True,  # the local fake exchange
    )


def bare_client(info: dict[str, Any]) -> ccxt_async.Exchange:
    return ccxt_async.binance({**info["config"], "urls": {"api": info["urls"]}})


async def overhead_ms(info: dict[str, Any], orders: int, tag: str) -> tuple[float, float]:
    """(bare ccxt ms per order, ours ms per order), sequential market buys."""
    bare = bare_client(info)
    ours = CcxtExchange(live_account(info, rate=1e9))  # the limiter must not be what we measure
    await bare.load_markets()
    await ours.markets()
    try:
        started = time.perf_counter()
        for i in range(orders):
            await bare.create_order(
                "BTC/USDT", "market", "buy", 0.0001, None, {"newClientOrderId": f"b{tag}{i}"}
            )
        bare_ms = (time.perf_counter() - started) * 1000 / orders
        started = time.perf_counter()
        for i in range(orders):
            await ours.create_order(
                OrderRequest(f"o{tag}{i}", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, Decimal("0.0001"))
            )
        ours_ms = (time.perf_counter() - started) * 1000 / orders
    finally:
        await bare.close()
        await ours.close()
    return bare_ms, ours_ms


async def orders_per_second(info: dict[str, Any], orders: int, tag: str) -> float:
    """Concurrent orders through one account's limiter at ccxt's own rate for Binance."""
    exchange = CcxtExchange(live_account(info, rate=None))
    await exchange.markets()
    try:
        started = time.perf_counter()
        await asyncio.gather(
            *(
                exchange.create_order(
                    OrderRequest(f"r{tag}{i}", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, Decimal("0.0001"))
                )
                for i in range(orders)
            )
        )
        return orders / (time.perf_counter() - started)
    finally:
        await exchange.close()


async def reconcile_seconds(info: dict[str, Any], count: int, tag: str) -> float:
    """Place `count` resting limit orders, record them as ours, then time one reconciliation."""
    from tests.support import add_live_subscriber, now, seed_marketplace

    from tradewire.domain.client_ids import intent_client_order_id
    from tradewire.domain.records import Decisions, NewOrder, NewSignal, Routing
    from tradewire.domain.signals import SignalAction

    with tempfile.TemporaryDirectory() as tmp:
        key = generate_key()
        runtime = build_runtime(
            Settings(
                var_dir=Path(tmp),
                data_dir=Path(tmp) / "none",
                encryption_key=key,
                feed_interval_s=3600,
                allow_private_exchange_urls=True,  # the fake exchange is on 127.0.0.1
            )
        )
        seeded = seed_marketplace(runtime.engine, [])
        add_live_subscriber(
            runtime, seeded, "binance", info["urls"], info["config"]["apiKey"], info["config"]["secret"]
        )
        account_id = runtime.members.accounts(seeded.provider_id)[0].id
        new_orders = []
        for i in range(count):
            signal_id, _ = runtime.store.insert_signal(
                NewSignal(
                    seeded.strategy_id,
                    f"{tag}-{i}",
                    SignalAction.BUY,
                    "BTCUSDT",
                    "BTC/USDT",
                    None,
                    None,
                    None,
                    {},
                    now(),
                )
            )
            runtime.store.create_intents(
                Routing(signal_id, runtime.store.active_targets(seeded.strategy_id)), now()
            )
        for work in runtime.store.pending_work(limit=count):
            new_orders.append(
                NewOrder(
                    work,
                    intent_client_order_id(work.intent_id, prefix=f"t{tag}"),
                    OrderSide.BUY,
                    OrderType.LIMIT,
                    Decimal("0.0002"),
                    Decimal("50000"),
                )
            )
        records = runtime.store.save_decisions(Decisions(new_orders=new_orders), now())
        runtime.store.claim_for_submission([r.order_id for r in records], now())
        client = bare_client(info)
        await client.load_markets()
        try:
            await asyncio.gather(
                *(
                    client.create_order(
                        "BTC/USDT", "limit", "buy", 0.0002, 50000, {"newClientOrderId": r.client_order_id}
                    )
                    for r in records
                )
            )
        finally:
            await client.close()
        unsettled = runtime.store.unsettled_orders(account_id)
        started = time.perf_counter()
        checked = await runtime.reconciler.check(unsettled)
        elapsed = time.perf_counter() - started
        await runtime.exchanges.close()
        states = {o.state for o in runtime.store.unsettled_orders(account_id)}
        assert checked == count and states == {OrderState.OPEN}, (checked, states)
        return elapsed


def summary(name: str, values: list[float], unit: str) -> str:
    return f"{name:<48} min {min(values):9.3f}  median {statistics.median(values):9.3f}  {unit}"


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--orders", type=int, default=200, help="orders per overhead run")
    parser.add_argument("--open-orders", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with fake_exchange() as info:
        bare, ours, rates, reconcile = [], [], [], []
        for run in range(args.runs):
            b, o = await overhead_ms(info, args.orders, f"{run}x")
            bare.append(b)
            ours.append(o)
            rates.append(await orders_per_second(info, 60, f"{run}y"))
            reconcile.append(await reconcile_seconds(info, args.open_orders, f"{run}z"))
        overhead = [o - b for o, b in zip(ours, bare, strict=True)]
        print(f"live exchange benchmark: fake Binance in its own process, {args.runs} runs")
        print(summary("bare ccxt create_order (the exchange's own time)", bare, "ms/order"))
        print(summary("tradewire CcxtExchange.create_order", ours, "ms/order"))
        print(summary("our overhead per order", overhead, "ms/order  (target < 2)"))
        limit = "orders/s (20/s after a burst of 10)"
        print(summary("orders per second, one account, rate limiter", rates, limit))
        print(summary(f"reconcile {args.open_orders} open orders of one account", reconcile, "s"))


if __name__ == "__main__":
    asyncio.run(main())
