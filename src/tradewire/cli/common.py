"""What every `tradewire` command shares: the command groups, settings, the runtime, errors, dates."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import Engine

    from tradewire.config import Settings
    from tradewire.runtime import Runtime

app = typer.Typer(
    help="tradewire: TradingView alerts and strategies turned into orders for every subscriber.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Database schema, backups and restores.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys for exchange API keys.", no_args_is_help=True)
data_app = typer.Typer(help="Market data: candles for backtests.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(keys_app, name="keys")
ml_app = typer.Typer(help="Machine-learning predictors: train LightGBM models.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(ml_app, name="ml")


def settings_or_exit(**overrides: object) -> Settings:
    from pydantic import ValidationError

    from tradewire.config import load_settings
    from tradewire.logs import configure

    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fail(f"invalid setting (option, TRADEWIRE_* variable or tradewire.toml): {problems}")
    configure(settings.log_level, settings.log_format)
    return settings


def runtime_or_exit(settings: Settings) -> Runtime:
    from tradewire.runtime import StartupError
    from tradewire.wiring import build_runtime

    try:
        return build_runtime(settings)
    except StartupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def migrated_database(settings: Settings) -> Engine:
    """The configured database, its directory private and its schema upgraded to the newest."""
    from tradewire.adapters.store.db import disposable_engine, private_dir, upgrade

    private_dir(settings.var_dir)
    engine = disposable_engine(settings.effective_database_url)
    upgrade(engine)
    return engine


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and the exit code: 2 for bad input, 1 for a failure outside (network...)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def parse_when(option: str, text: str | None) -> datetime | None:
    from datetime import datetime

    from tradewire.services.backtest_request import utc

    if text is None:
        return None
    try:
        return utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        fail(f"{option}: {text!r} is not a date or time like 2018-01-01 or 2018-01-01T12:00")
