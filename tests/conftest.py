"""Shared fixtures: real data from ../shared/data, SQLite and PostgreSQL stores, a running server."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.databases import migrated_sqlite_file
from tests.databases import postgres_template as postgres_template_database
from tests.fakes.tcp import TcpProxy
from tradewire.adapters.candles_parquet import read_candles
from tradewire.adapters.store.db import make_engine, upgrade
from tradewire.domain.candles import Candles

if TYPE_CHECKING:
    from tests.fakes.openai_api import FakeOpenAI
    from tests.fakes.webhook_receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_SERVICES = os.environ.get("TRADEWIRE_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get(
    "TRADEWIRE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TRADEWIRE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def pytest_configure(config: pytest.Config) -> None:
    """Hypothesis's and anyio's own asserts are left as they are. pytest rewrites the asserts of every
    package that ships a pytest plugin, the whole package: hypothesis's ~70 modules (its plugin imports
    them at the end of every run) and anyio's ~30 (httpx imports it; its plugin, unused here, is off in
    pyproject.toml so that it is not imported before this runs), ~0.6 s of CPU whenever the rewritten
    bytecode cannot be cached (as under PYTHONDONTWRITEBYTECODE). Our tests' asserts are rewritten."""
    marked = getattr(config.pluginmanager.rewrite_hook, "_must_rewrite", None)
    if isinstance(marked, set):  # pytest's own bookkeeping; without it, nothing changes
        marked.difference_update({"hypothesis", "anyio"})


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Iterator[object]:
    """Collection without the cyclic garbage collector, then the collected heap frozen out of it.

    Importing the test modules and what they use builds a heap of ~500,000 objects; a full collection
    ran every time it grew by a quarter (a dozen passes of up to 0.3 s each), then every later full
    pass (and pytest's five at exit) walked it again, all for objects alive until the end: ~5 s of a
    30 s unit run. One collection after it clears what collecting left behind, and objects made by
    the tests themselves are collected as before. The server does the same (runtime.tune_gc).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return (yield)
    finally:
        gc.collect()
        gc.freeze()
        if enabled:
            gc.enable()


def unavailable(reason: str) -> None:
    """Skip, or fail where CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


def shared_data_dir() -> Path | None:
    configured = os.environ.get("TRADEWIRE_DATA_DIR")
    path = Path(configured) if configured else ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if path is None:
        unavailable("real data directory ../shared/data not found (set TRADEWIRE_DATA_DIR)")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def eth_btc_5m(data_dir: Path) -> Candles:
    """Real ETH/BTC 5m candles (freqtrade's test series)."""
    return read_candles(data_dir / "ohlcv/freqtrade/ETH_BTC-5m.parquet", "ETH/BTC", "5m")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A new SQLite database at the schema's head (a copy of one migrated once per test process)."""
    path = tmp_path / "tradewire.db"
    migrated_sqlite_file(path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """The name of a PostgreSQL database at the schema's head, migrated once per test process (xdist
    worker: each has its own, as PostgreSQL copies a template nobody else is copying or using)."""
    admin = create_engine(PG_ADMIN_URL)
    try:
        with admin.connect():
            pass
    except Exception as exc:  # any connection failure means "no server here"
        unavailable(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    finally:
        admin.dispose()
    name = f"tradewire_template_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{secrets.token_hex(4)}"
    with postgres_template_database(PG_ADMIN_URL, name) as template:
        yield template


@pytest.fixture
def postgres_engine(postgres_template: str) -> Iterator[Engine]:
    """A fresh PostgreSQL database at the schema's head for one test (a copy of the template), dropped
    afterwards."""
    with scratch_postgres("tradewire_test", migrate=True, template=postgres_template) as engine:
        yield engine


@contextlib.contextmanager
def scratch_postgres(prefix: str, migrate: bool, template: str | None = None) -> Iterator[Engine]:
    """A new PostgreSQL database (at the schema's head with `migrate`, else empty), dropped after; the
    test is skipped (failed under TRADEWIRE_REQUIRE_SERVICES) when no server answers. With `migrate`,
    a `template` at the schema's head is copied rather than the new database migrated."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(4)}"
    copied = migrate and template is not None
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if copied else "")))
    except Exception as exc:  # any connection failure means "no server here"
        admin.dispose()
        unavailable(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    engine = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        if migrate and not copied:
            upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the local Redis; every key under it deleted afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        client.close()
        unavailable(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    prefix = f"tradewire-test-{secrets.token_hex(6)}"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def redis_proxy() -> Iterator[TcpProxy]:
    """A proxy to the local Redis, started: stop it to see Redis go away (its connections cut), start
    it to see it come back on the same port."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    finally:
        client.close()
    where = urlsplit(REDIS_URL)
    proxy = TcpProxy((where.hostname or "127.0.0.1", where.port or 6379))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def proxied_url(proxy: TcpProxy) -> str:
    """The local Redis's URL through `proxy` (the same database)."""
    database = urlsplit(REDIS_URL).path.lstrip("/") or "0"
    return f"redis://127.0.0.1:{proxy.port}/{database}"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A local HTTP server taking outgoing webhooks (tests/fakes/webhook_receiver.py)."""
    from tests.fakes.webhook_receiver import WebhookReceiver

    fake = WebhookReceiver()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A local OpenAI-compatible server (tests/fakes/openai_api.py) for the AI chart analysis."""
    from tests.fakes.openai_api import FakeOpenAI

    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on SQLite and on PostgreSQL."""
    fixture = "sqlite_engine" if request.param == "sqlite" else "postgres_engine"
    result: Engine = request.getfixturevalue(fixture)
    return result


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """`engine`, one database for all of a module's tests that take it: for tests that change nothing
    another could see (requests refused, reads), sharing one server instead of starting one each."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("module-db") / "tradewire.db"
        migrated_sqlite_file(path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    template: str = request.getfixturevalue("postgres_template")
    with scratch_postgres("tradewire_test", migrate=True, template=template) as engine:
        yield engine


_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}


@pytest.fixture(autouse=True, scope="session")
def _no_traffic_beyond_this_machine() -> Iterator[None]:
    """Tests talk to loopback only: resolving any other host name fails the test loudly."""
    import socket

    real = socket.getaddrinfo

    def guarded(host: object, *args: object, **kwargs: object) -> object:
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        if name not in _LOCAL_HOSTS and not name.startswith("127."):
            raise OSError(f"test tried to reach {name!r}: only 127.0.0.1 is allowed in tests")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    socket.getaddrinfo = guarded  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.getaddrinfo = real


# Loggers whose levels tradewire.logs.configure sets.
_CONFIGURED_LOGGERS = ("httpx", "ccxt", "uvicorn.access", "alembic")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Logging as it was before each test: a test that runs the CLI in-process (configure() points the
    root logger at the sys.stderr of that moment, which pytest closes after it) would otherwise leave
    a handler writing to a closed stream for every later test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in _CONFIGURED_LOGGERS}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        # Only what changed: each setLevel clears the cache of every logger there is.
        for logger, value in [(root, level), *((logging.getLogger(n), v) for n, v in levels.items())]:
            if logger.level != value:
                logger.setLevel(value)
