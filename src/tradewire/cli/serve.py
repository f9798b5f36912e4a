"""`tradewire serve` and `tradewire demo`: the platform, with or without a seeded demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tradewire.cli.common import app, fail, runtime_or_exit, settings_or_exit

if TYPE_CHECKING:
    import socket

    from tradewire.config import Settings
    from tradewire.demo import DemoSeed
    from tradewire.runtime import Runtime


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else happens: a busy port is reported at once,
    before a demo prints logins or resets its database."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        fail(
            f"cannot listen on {host}:{port}: {reason} (is another tradewire running?); stop it or pick "
            f"another port: --port N, TRADEWIRE_PORT=N, or make run PORT=N",
            1,
        )
    return sock


def _serve(runtime: Runtime, sock: socket.socket) -> None:
    import uvicorn

    from tradewire.api.app import create_app
    from tradewire.runtime import tune_gc

    tune_gc()
    config = uvicorn.Config(create_app(runtime), **uvicorn_options(runtime.settings))
    uvicorn.Server(config).run(sockets=[sock])


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="port (default 8000)")] = None,
) -> None:
    """Run the platform: API, webhook receiver and the server-side trading loop.

    With TRADEWIRE_ROLE=api it runs only the API, webhook receiver and live channel, beside
    `tradewire worker` processes that trade (any number of API processes, on one database and bus).
    """
    settings = settings_or_exit(host=host, port=port)
    if settings.role == "worker":
        fail("TRADEWIRE_ROLE=worker is `tradewire worker`; `tradewire serve` runs the roles all and api")
    sock = _listen(settings.host, settings.port)
    runtime = runtime_or_exit(settings)
    _serve(runtime if settings.role == "api" else _claimed(runtime), sock)


@app.command()
def worker() -> None:
    """Run the trading loops without HTTP: routing, execution, reconciliation, the exit monitor,
    strategies and notifications, beside `TRADEWIRE_ROLE=api tradewire serve` processes on one
    database and TRADEWIRE_BUS=redis. One worker is active at a time; the others stand by and take
    over when it stops or dies. SIGTERM or Ctrl-C stops it."""
    import asyncio

    settings = settings_or_exit(role="worker")
    runtime = runtime_or_exit(settings)
    asyncio.run(_work(runtime))


async def _work(runtime: Runtime) -> None:
    import asyncio
    import signal

    from tradewire.runtime import tune_gc

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    starting = loop.create_task(runtime.start())
    stopping = loop.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():  # stopped while standing by: nothing was started
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        runtime.server_lock.release()
        if runtime.partitioned is not None:
            await runtime.partitioned.ownership.leave()
        return
    starting.result()
    tune_gc()
    await stopping
    await runtime.stop()


DEMO_DATABASE = "demo.db"


@app.command()
def demo(
    subscribers: Annotated[int, typer.Option(min=1, max=10_000, help="paper subscribers to create")] = 3,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the demo's details as JSON on line one")
    ] = False,
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="port (default 8000; 0: any free port)")
    ] = None,
    keep: Annotated[
        bool,
        typer.Option(
            "--keep", help="keep the previous demo's data (users, trades) instead of starting afresh"
        ),
    ] = False,
) -> None:
    """Seed a provider, a webhook strategy and paper subscribers, then serve the platform.

    Every run starts from an empty demo database (<var dir>/demo.db) unless --keep is given; the
    database of `tradewire serve` is never touched. With TRADEWIRE_DATABASE_URL set, the demo only
    adds itself to that database, with --keep.
    """
    from tradewire.demo import seed_demo

    settings = settings_or_exit(host=host, port=port)
    if settings.database_url and not keep:
        fail(
            "TRADEWIRE_DATABASE_URL is set and the demo never empties a database it does not own; "
            "add --keep to seed the demo into it, or unset it to use a fresh var/demo.db"
        )
    sock = _listen(settings.host, settings.port)
    if not settings.database_url:
        database = settings.var_dir / DEMO_DATABASE
        if not keep:
            _remove_sqlite(database)
        settings = settings_or_exit(host=host, port=port, database_url=f"sqlite:///{database}")
    runtime = _claimed(runtime_or_exit(settings))
    seed = seed_demo(runtime.members, runtime.clock, subscribers)
    bound = sock.getsockname()[1]
    api = f"http://{settings.host}:{bound}"
    webhook = f"{api}/api/v1/webhooks/tradingview/{seed.slug}"
    if as_json:
        info = {
            "api": api,
            "dashboard": f"{api}/",
            "webhook_url": webhook,
            "passphrase": seed.passphrase,
            "strategy_id": seed.strategy_id,
            "provider": {"username": seed.provider.username, "password": seed.provider.password},
            "subscribers": [{"username": s.username, "password": s.password} for s in seed.subscribers],
        }
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
    else:
        _print_demo(api, webhook, seed, runtime, kept=keep)
    _serve(runtime, sock)


def _claimed(runtime: Runtime) -> Runtime:
    """The runtime, holding its database (one server per database), or exit 1 saying who holds it."""
    from tradewire.runtime import StartupError

    try:
        runtime.claim_database()
    except StartupError as exc:
        fail(str(exc), 1)
    return runtime


def _remove_sqlite(database: Path) -> None:
    """Delete a SQLite database with its write-ahead log and shared-memory files."""
    for path in (
        database,
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
    ):
        path.unlink(missing_ok=True)


def _print_demo(api: str, webhook: str, seed: DemoSeed, runtime: Runtime, kept: bool) -> None:
    simulated = [s for s in runtime.feed.symbols() if runtime.feed.is_simulated(s)]
    data = "kept from the last run (--keep)" if kept else "fresh (make run KEEP=1 / --keep keeps it)"
    lines = [
        "",
        "tradewire demo (PAPER trading: no real money, no real exchange)",
        f"  demo data:    {data}",
        f"  dashboard:    {api}/   (sign in as a subscriber below, e.g. {seed.subscribers[0].username})",
        f"  API docs:     {api}/docs",
        f"  webhook URL:  {webhook}",
        f"  passphrase:   {seed.passphrase}",
        f"  provider:     {seed.provider.username} / {seed.provider.password}",
    ]
    lines += [f"  subscriber:   {s.username} / {s.password}" for s in seed.subscribers]
    if simulated:
        lines.append(f"  SIMULATED prices (no candles found): {', '.join(simulated)}")
    lines += [
        "",
        "Send an alert as TradingView would:",
        f"  curl -X POST {webhook} -H 'Content-Type: application/json' \\",
        f'       -d \'{{"passphrase":"{seed.passphrase}","ticker":"BTCUSDT","action":"buy"}}\'',
        "Then look at a subscriber's orders and positions:",
        f"  TOKEN=$(curl -s -X POST {api}/api/v1/auth/token -d 'username={seed.subscribers[0].username}"
        f"&password={seed.subscribers[0].password}' \\",
        "           | python3 -c 'import json,sys;print(json.load(sys.stdin)[\"access_token\"])')",
        f'  curl -s {api}/api/v1/positions -H "Authorization: Bearer $TOKEN"',
        "",
    ]
    typer.echo("\n".join(lines))


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How `tradewire serve` configures uvicorn (bench/ws_fanout.py serves the same way)."""
    return {
        "log_config": None,
        "access_log": False,
        # A WebSocket message larger than this is refused by the protocol layer itself (close 1009),
        # before it is buffered or anyone signed in (uvicorn's default is 16 MiB).
        "ws_max_size": settings.ws_max_message_bytes,
        # permessage-deflate compresses every frame for every client (each with its own compressor):
        # off by default, it was nine tenths of the live channel's sending time (TRADEWIRE_WS_DEFLATE).
        "ws_per_message_deflate": settings.ws_deflate,
        # X-Forwarded-For is believed only from TRADEWIRE_TRUSTED_PROXIES (api/addresses.py); uvicorn
        # would otherwise rewrite the client address itself for any request from 127.0.0.1.
        "proxy_headers": False,
    }
