"""The `tradewire` command. Imports stay inside the commands so `tradewire --help` answers at once."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from tradewire.config import Settings
    from tradewire.demo import DemoSeed
    from tradewire.runtime import Runtime

app = typer.Typer(
    help="tradewire: TradingView alerts and strategies turned into orders for every subscriber.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys for exchange API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(keys_app, name="keys")


def _settings(**overrides: object) -> Settings:
    from tradewire.config import load_settings
    from tradewire.logs import configure

    settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    configure(settings.log_level, settings.log_format)
    return settings


def _runtime(settings: Settings) -> Runtime:
    from tradewire.runtime import StartupError, build_runtime

    try:
        return build_runtime(settings)
    except StartupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _serve(runtime: Runtime, host: str, port: int) -> None:
    import uvicorn

    from tradewire.api.app import create_app
    from tradewire.runtime import tune_gc

    tune_gc()
    uvicorn.run(create_app(runtime), host=host, port=port, log_config=None, access_log=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000)")] = None,
) -> None:
    """Run the platform: API, webhook receiver and the server-side trading loop."""
    settings = _settings(host=host, port=port)
    runtime = _runtime(settings)
    _serve(runtime, settings.host, settings.port)


@app.command()
def demo(
    subscribers: Annotated[int, typer.Option(min=1, max=10_000, help="paper subscribers to create")] = 3,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the demo's details as JSON on line one")
    ] = False,
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000)")] = None,
) -> None:
    """Seed a provider, a webhook strategy and paper subscribers, then serve the platform."""
    from tradewire.demo import seed_demo

    settings = _settings(host=host, port=port)
    runtime = _runtime(settings)
    seed = seed_demo(runtime.members, runtime.clock, subscribers)
    api = f"http://{settings.host}:{settings.port}"
    webhook = f"{api}/api/v1/webhooks/tradingview/{seed.slug}"
    if as_json:
        info = {
            "api": api,
            "webhook_url": webhook,
            "passphrase": seed.passphrase,
            "strategy_id": seed.strategy_id,
            "provider": {"username": seed.provider.username, "password": seed.provider.password},
            "subscribers": [{"username": s.username, "password": s.password} for s in seed.subscribers],
        }
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
    else:
        _print_demo(api, webhook, seed, runtime)
    _serve(runtime, settings.host, settings.port)


def _print_demo(api: str, webhook: str, seed: DemoSeed, runtime: Runtime) -> None:
    simulated = [s for s in runtime.feed.symbols() if runtime.feed.is_simulated(s)]
    lines = [
        "",
        "tradewire demo (PAPER trading: no real money, no real exchange)",
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


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Create or migrate the database schema."""
    from tradewire.adapters.store.db import disposable_engine, upgrade

    settings = _settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade(disposable_engine(settings.effective_database_url), revision)
    typer.echo(f"database at {revision}")


@user_app.command("create")
def user_create(
    username: str,
    password_stdin: Annotated[bool, typer.Option(help="read the password from standard input")] = False,
) -> None:
    """Create a user; the password is prompted for (or read from stdin)."""
    from tradewire.adapters.clock import SystemClock
    from tradewire.adapters.passwords import hash_secret
    from tradewire.adapters.store.db import disposable_engine, upgrade
    from tradewire.adapters.store.members import Conflict, SqlMembers

    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else typer.prompt("password", hide_input=True, confirmation_prompt=True)
    )
    if len(password) < 8:
        typer.echo("error: the password needs at least 8 characters", err=True)
        raise typer.Exit(2)
    settings = _settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    engine = disposable_engine(settings.effective_database_url)
    upgrade(engine)
    try:
        user_id = SqlMembers(engine).create_user(username, hash_secret(password), SystemClock().now())
    except Conflict as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"user {username} created (id {user_id})")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random key for TRADEWIRE_ENCRYPTION_KEY."""
    from tradewire.adapters.secrets_box import generate_key

    typer.echo(generate_key())


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored API key with TRADEWIRE_ENCRYPTION_KEY (old keys in ..._OLD_KEYS)."""
    from tradewire.adapters.store.db import disposable_engine

    settings = _settings()
    runtime = _runtime(settings)
    box = runtime.secret_box
    if box is None:
        typer.echo("error: TRADEWIRE_ENCRYPTION_KEY is not set", err=True)
        raise typer.Exit(2)
    members = runtime.members
    members.engine = disposable_engine(settings.effective_database_url)
    rotated = 0
    for row in members.encrypted_secrets():
        updates: dict[str, str | None] = {}
        for column in ("api_key_enc", "api_secret_enc", "api_password_enc"):
            token = row[column]
            if token and box.needs_rotation(token):
                context = f"account:{row['id']}:{column.removesuffix('_enc')}"
                updates[column] = box.encrypt(box.decrypt(token, context), context)
        if updates:
            members.set_account_secrets(row["id"], updates)
            rotated += 1
    typer.echo(f"{rotated} accounts re-encrypted with key {box.key_id}")


if __name__ == "__main__":
    app()
