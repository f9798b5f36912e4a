"""Helpers the tests share: seeding marketplace records fast, and serving a runtime over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine, select

from tests.databases import migrated_sqlite_file
from tests.seeding import NO_COOLDOWN, Seeded, now, seed_members
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.sql import SqlStore
from tradewire.adapters.store.tables import orders
from tradewire.config import Settings
from tradewire.domain.events import StoredEvent
from tradewire.domain.members import NewStrategy, StrategySource
from tradewire.domain.orders import ExchangeOrder, OrderSide, OrderType, Trade
from tradewire.domain.records import Decisions, NewOrder, NewSignal, OrderRecord, Routing, WorkItem
from tradewire.domain.signals import SignalAction
from tradewire.domain.strategies.definition import StrategyDefinition
from tradewire.ports import Clock
from tradewire.runtime import Runtime
from tradewire.wiring import build_runtime

# Hashing is deliberately slow (~50 ms a hash or a check at the real cost): users the tests store
# directly get hashes at scrypt's lowest cost (quick_hash), so that each sign-in does not pay it;
# users signed up over HTTP, and the tests of hashing (tests/unit/test_passwords.py), get the real cost.
PASSWORD = "correct horse battery"
PASSPHRASE = "abcdefgh"
RATE_LIMIT_TIERS = ("general", "signin", "trading", "marketplace", "exports", "webhook", "webhook_failures")


def quick_hash(secret: str) -> str:
    """A stored hash in hash_secret's format at scrypt's lowest cost: verify_secret takes the cost from
    the stored hash, and checks it as it checks any other."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2, r=1, p=1, dklen=32)
    return f"scrypt$2$1$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


@functools.cache
def _hashes() -> tuple[str, str]:
    """The password's and the passphrase's hashes, made once when first needed (not on import)."""
    return quick_hash(PASSWORD), quick_hash(PASSPHRASE)


def seed_marketplace(
    engine: Engine,
    subscriptions: list[dict[str, Any]],
    slug: str = "tv-test",
) -> Seeded:
    """A provider with a webhook strategy (passphrase 'abcdefgh') and one subscriber per entry.

    Each entry may set sizing_mode, sizing_value, pairs and status (seed_members: and more).
    """
    return seed_members(SqlMembers(engine), subscriptions, slug, *_hashes())


def first_subscriber_columns(seeded: Seeded) -> dict[str, Any]:
    """The columns that put a row written by hand (an order, a position) on the first subscriber's
    subscription and paper account."""
    return {
        "account_id": seeded.account_ids[0],
        "subscription_id": seeded.subscription_ids[0],
        "user_id": seeded.subscriber_ids[0],
        "mode": "paper",
    }


def make_runtime(
    tmp_path: Path,
    database_url: str | None = None,
    clock: Clock | None = None,
    *,
    fresh_database: bool = False,
    **overrides: Any,
) -> Runtime:
    """A runtime as `tradewire serve` builds it (migrating its database), on `database_url` or else on
    SQLite under tmp_path/var: a new file there starts as a copy of a database already at the schema's
    head (the same tables, made once per test process), unless `fresh_database` lets the runtime
    create and migrate the file itself, as a first start does."""
    defaults: dict[str, Any] = {
        "var_dir": tmp_path / "var",
        "database_url": database_url or "",
        "data_dir": tmp_path / "no-data",  # simulated prices unless a test pins them
        "feed_interval_s": 3600,
        "reconcile_interval_s": 0.2,
        # Live accounts in tests trade on local fakes (http://127.0.0.1); tests of the guard turn it off.
        "allow_private_exchange_urls": True,
        "signup_enabled": True,  # tests sign their users up over HTTP
        "signup_role": "provider",  # and most publish strategies (tests/e2e/test_access.py: subscribers)
        # Tests poll and sign in far more often than people do; tests of the limits set their own.
        **{f"rate_limit_{tier}": "1000000/minute" for tier in RATE_LIMIT_TIERS},
    }
    settings = Settings(**{**defaults, **overrides})
    if not settings.database_url and not fresh_database:
        path = settings.var_dir / "tradewire.db"
        if not path.exists():
            migrated_sqlite_file(path)
    return build_runtime(settings, clock=clock)


def pin_prices(runtime: Runtime, prices: dict[str, str]) -> None:
    for symbol, price in prices.items():
        runtime.feed.set_price(symbol, Decimal(price))


class ServedRuntime:
    """A runtime served by uvicorn on 127.0.0.1 in a background thread: real HTTP, real lifespan."""

    def __init__(self, runtime: Runtime, port: int) -> None:
        from tradewire.api.app import create_app
        from tradewire.cli.serve import uvicorn_options

        self.runtime = runtime
        self.url = f"http://127.0.0.1:{port}"
        # Served as `tradewire serve` serves it.
        options = uvicorn_options(runtime.settings)
        config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, **options)
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.server.serve())

    def __enter__(self) -> ServedRuntime:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until the trading loop has handled every signal received so far."""
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(self.runtime.bus.drain(), self.loop)
        future.result(timeout)

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        """Run a coroutine on the server's loop (the paper venue lives there)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def token(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        # A sign-in hashes the password (scrypt): on a loaded CI machine it can take longer than
        # httpx's default 5 s, which is not what these tests measure.
        response = httpx.post(
            f"{self.url}/api/v1/auth/token", data={"username": username, "password": password}, timeout=30
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


def add_live_subscriber(
    runtime: Runtime,
    seeded: Seeded,
    exchange: str,
    api_urls: dict[str, str],
    api_key: str,
    api_secret: str,
    name: str = "live",
    quote_amount: str = "100",
    api_password: str | None = None,
) -> int:
    """A live account of the provider (keys encrypted as the API does) subscribed to its strategy."""
    box = runtime.secret_box
    assert box is not None, "live accounts need an encryption key"
    account_id = runtime.members.create_account(
        {
            "user_id": seeded.provider_id,
            "name": name,
            "exchange": exchange,
            "mode": "live",
            "sandbox": False,
            "api_urls": api_urls,
            "created_at": now(),
        }
    )
    runtime.members.set_account_secrets(
        account_id,
        {
            "api_key_enc": box.encrypt(api_key, f"account:{account_id}:api_key"),
            "api_secret_enc": box.encrypt(api_secret, f"account:{account_id}:api_secret"),
            "api_password_enc": box.encrypt(api_password, f"account:{account_id}:api_password")
            if api_password
            else None,
        },
    )
    runtime.members.create_subscription(
        {
            "user_id": seeded.provider_id,
            "strategy_id": seeded.strategy_id,
            "account_id": account_id,
            "status": "ACTIVE",
            "pairs": None,
            "sizing_mode": "fixed_quote",
            "sizing_value": Decimal(quote_amount),
            "risk_limits": NO_COOLDOWN,
            "created_at": now(),
            "updated_at": now(),
        }
    )
    return account_id


# A bot as POST /api/v1/bots takes it: the built-in EMA cross on BTC/USDT's 1-minute candles, trading
# at once (no temperature, confirmation or cooldown of its own), 50 quote an entry.
EMA_CROSS_BOT: dict[str, Any] = {
    "name": "BTC scalper",
    "definition": {
        "builtin": "ema_cross",
        "params": {"fast": 3, "slow": 8, "rsi_max": None},
        "timeframe": "1m",
        "symbols": ["BTC/USDT"],
        "bot": {"min_temperature": 0, "confirmation_minutes": 0, "cooldown_minutes": 0},
    },
    "sizing_value": "50",
}


def subscription_columns(user_id: int, account_id: int, at: datetime, **columns: Any) -> dict[str, Any]:
    """An ACTIVE subscription of `user_id`'s `account_id` as the members store takes it: every pair, 100
    quote a trade, created and updated `at`; `columns` add to these or replace them (strategy_id ...)."""
    return {
        "user_id": user_id,
        "account_id": account_id,
        "status": "ACTIVE",
        "pairs": None,
        "sizing_mode": "fixed_quote",
        "sizing_value": Decimal(100),
        "created_at": at,
        "updated_at": at,
        **columns,
    }


def add_paper_subscriptions(runtime: Runtime, user_id: int, strategy_id: int, count: int) -> None:
    """`count` paper accounts of `user_id` ("paper0", "paper1", ...), each subscribed to `strategy_id`
    (fixed 10 quote a trade, no limits of its own): more subscriptions than one page of the API holds."""
    for n in range(count):
        account = runtime.members.create_account(
            {
                "user_id": user_id,
                "name": f"paper{n}",
                "exchange": "paper",
                "mode": "paper",
                "sandbox": False,
                "api_urls": None,
                "created_at": now(),
            }
        )
        runtime.members.create_subscription(
            subscription_columns(
                user_id, account, now(), strategy_id=strategy_id, sizing_value=Decimal(10), risk_limits=None
            )
        )


def flatten_urls(urls: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested ccxt url dicts as the dotted keys an account's api_urls take ('ws.ws-api.spot')."""
    flat: dict[str, str] = {}
    for key, value in urls.items():
        if isinstance(value, dict):
            flat.update(flatten_urls(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def reported(
    status: str,
    amount: str,
    filled: str,
    average: str | None = None,
    *,
    type: OrderType = OrderType.MARKET,
    price: str | None = None,
    client_order_id: str = "c",
    trades: tuple[Trade, ...] = (),
    reason: str | None = None,
    fee: str | None = None,
    fee_currency: str | None = None,
) -> ExchangeOrder:
    """What an exchange reports of our BTC/USDT buy (its order "x-1"), amounts as decimal strings."""
    return ExchangeOrder(
        exchange_order_id="x-1",
        client_order_id=client_order_id,
        symbol="BTC/USDT",
        side=OrderSide.BUY,
        type=type,
        status=status,
        amount=Decimal(amount),
        filled=Decimal(filled),
        average=None if average is None else Decimal(average),
        price=None if price is None else Decimal(price),
        trades=trades,
        reason=reason,
        fee=None if fee is None else Decimal(fee),
        fee_currency=fee_currency,
    )


def btc_signal(
    strategy_id: int,
    dedup_key: str,
    action: SignalAction = SignalAction.BUY,
    details: dict[str, Any] | None = None,
) -> NewSignal:
    """A TradingView alert for BTCUSDT (BTC/USDT) to `strategy_id`, received now, with no contracts,
    price or time of its own."""
    return NewSignal(
        strategy_id=strategy_id,
        dedup_key=dedup_key,
        action=action,
        ticker="BTCUSDT",
        symbol="BTC/USDT",
        contracts=None,
        price=None,
        signal_time=None,
        details={} if details is None else details,
        received_at=now(),
    )


def claimed_buy(engine: Engine, sizing_note: str | None = None) -> tuple[SqlStore, WorkItem, OrderRecord]:
    """One subscriber's market buy of 0.002 BTC/USDT ("tw-1") from a buy signal, stored and claimed
    for submission: the store, the intent's work and the order."""
    seeded = seed_marketplace(engine, [{}])
    store = SqlStore(engine)
    signal_id, _ = store.insert_signal(btc_signal(seeded.strategy_id, "k"))
    store.create_intents(Routing(signal_id, store.active_targets(seeded.strategy_id)), now())
    [work] = store.pending_work(signal_id)
    new = NewOrder(
        work, "tw-1", OrderSide.BUY, OrderType.MARKET, Decimal("0.002"), None, sizing_note=sizing_note
    )
    [record] = store.save_decisions(Decisions(new_orders=[new]), now())
    store.claim_for_submission([record.order_id], now())
    return store, work, record


def stored_buy_and_sell(engine: Engine) -> tuple[SqlStore, dict[int, str], int]:
    """A NEW market buy and a NEW market sell of 0.002 BTC/USDT ("tw-0", "tw-1") of one subscriber, from
    a buy and a sell signal, stored and not yet claimed: the store, each order's side by its id, and
    the subscriber's id."""
    seeded = seed_marketplace(engine, [{}])
    store = SqlStore(engine)
    new_orders = []
    for n, side in enumerate([OrderSide.BUY, OrderSide.SELL]):
        action = SignalAction.BUY if side is OrderSide.BUY else SignalAction.SELL
        signal_id, _ = store.insert_signal(btc_signal(seeded.strategy_id, f"k{n}", action))
        store.create_intents(Routing(signal_id, store.active_targets(seeded.strategy_id)), now())
        [work] = store.pending_work(signal_id)
        new_orders.append(NewOrder(work, f"tw-{n}", side, OrderType.MARKET, Decimal("0.002"), None))
    records = store.save_decisions(Decisions(new_orders=new_orders), now())
    return store, {r.order_id: r.side.value for r in records}, seeded.subscriber_ids[0]


def add_private_strategy(
    members: Any, owner_id: int, slug: str, name: str, definition: dict[str, Any], created_at: datetime
) -> int:
    """A private indicator strategy of `owner_id` running `definition`, added to `members` (the SQL
    store or its in-memory twin): its id."""
    new = NewStrategy(
        owner_id=owner_id,
        slug=slug,
        name=name,
        description="",
        source=StrategySource.INDICATOR,
        passphrase_hash="x",
        is_public=False,
        created_at=created_at,
        definition=StrategyDefinition.model_validate(definition),
    )
    return int(members.add_strategy(new))


class Announced:
    """A notifier of the members store that records the last event id by user of each announcement."""

    def __init__(self) -> None:
        self.calls: list[dict[int, int]] = []

    def published(self, last_ids: Mapping[int, int], events: Sequence[StoredEvent] = ()) -> None:
        self.calls.append(dict(last_ids))


def train_model(data_dir: Path, out: Path) -> None:
    """`tradewire ml train` on a small real candle file (ETH/BTC 5m), writing model.txt and
    manifest.json into `out`."""
    from typer.testing import CliRunner

    from tradewire.cli import app

    result = CliRunner().invoke(
        app,
        [
            "ml", "train",
            "--data", str(data_dir / "ohlcv/freqtrade/ETH_BTC-5m.parquet"),
            "--horizon", "12", "--fee-rate", "0.001", "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def send_alert(url: str, action: str, number: int, slug: str = "tv-test") -> None:
    """A TradingView alert to the served strategy `slug`, with an id of its own (`number`), so none is
    taken for a repeat of an earlier one; accepted (202)."""
    body = {"passphrase": PASSPHRASE, "ticker": "BTCUSDT", "action": action, "id": f"{action}-{number}"}
    response = httpx.post(f"{url}/api/v1/webhooks/tradingview/{slug}", json=body, timeout=10)
    assert response.status_code == 202, response.text


def until(done: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    """Wait for `done`, failing with `what` it waited for after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def orders_by_account(engine: Engine) -> dict[int, list[tuple[str, str]]]:
    """Each account's orders as (side, state), oldest first."""
    found: dict[int, list[tuple[str, str]]] = {}
    with engine.connect() as conn:
        rows = conn.execute(select(orders.c.account_id, orders.c.side, orders.c.state).order_by(orders.c.id))
        for account_id, side, state in rows:
            found.setdefault(account_id, []).append((side, state))
    return found
