"""The `tradewire` command. Imports stay inside the commands so `tradewire --help` answers at once."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    import socket
    from collections.abc import Sequence
    from datetime import datetime

    from tradewire.config import Settings
    from tradewire.demo import DemoSeed
    from tradewire.domain.backtest import BacktestResult
    from tradewire.domain.candles import Candles
    from tradewire.domain.exits import ExitRules
    from tradewire.runtime import Runtime

app = typer.Typer(
    help="tradewire: TradingView alerts and strategies turned into orders for every subscriber.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys for exchange API keys.", no_args_is_help=True)
data_app = typer.Typer(help="Market data: candles for backtests.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(keys_app, name="keys")
app.add_typer(data_app, name="data")


def _settings(**overrides: object) -> Settings:
    from pydantic import ValidationError

    from tradewire.config import load_settings
    from tradewire.logs import configure

    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        _fail(f"invalid setting (option, TRADEWIRE_* variable or tradewire.toml): {problems}")
    configure(settings.log_level, settings.log_format)
    return settings


def _runtime(settings: Settings) -> Runtime:
    from tradewire.runtime import StartupError, build_runtime

    try:
        return build_runtime(settings)
    except StartupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


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
        _fail(
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
    config = uvicorn.Config(create_app(runtime), log_config=None, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="port (default 8000)")] = None,
) -> None:
    """Run the platform: API, webhook receiver and the server-side trading loop."""
    settings = _settings(host=host, port=port)
    sock = _listen(settings.host, settings.port)
    runtime = _runtime(settings)
    _serve(runtime, sock)


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

    settings = _settings(host=host, port=port)
    if settings.database_url and not keep:
        _fail(
            "TRADEWIRE_DATABASE_URL is set and the demo never empties a database it does not own; "
            "add --keep to seed the demo into it, or unset it to use a fresh var/demo.db"
        )
    sock = _listen(settings.host, settings.port)
    if not settings.database_url:
        database = settings.var_dir / DEMO_DATABASE
        if not keep:
            _remove_sqlite(database)
        settings = _settings(host=host, port=port, database_url=f"sqlite:///{database}")
    runtime = _runtime(settings)
    seed = seed_demo(runtime.members, runtime.clock, subscribers)
    bound = sock.getsockname()[1]
    api = f"http://{settings.host}:{bound}"
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
        _print_demo(api, webhook, seed, runtime, kept=keep)
    _serve(runtime, sock)


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
    from tradewire.adapters.store.db import disposable_engine, private_dir, upgrade

    settings = _settings()
    private_dir(settings.var_dir)
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
    from tradewire.adapters.store.db import disposable_engine, private_dir, upgrade
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
    private_dir(settings.var_dir)
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


# -- backtests ------------------------------------------------------------------------------------

_SERIES_NAME = r"([A-Za-z0-9]+)_([A-Za-z0-9]+)-(\d+[smhdw])"


def _fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and the exit code: 2 for bad input, 1 for a failure outside (network...)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def backtest(
    strategy: Annotated[
        str,
        typer.Option(help="built-in strategy: ema_cross, rsi_mean_reversion, macd or bollinger_breakout"),
    ],
    data: Annotated[
        list[Path],
        typer.Option(
            help="candles: a <BASE>_<QUOTE>-<tf>.parquet file or a directory of them; repeat for several"
        ),
    ],
    params: Annotated[
        str | None, typer.Option(help="the strategy's parameters as a JSON object, e.g. '{\"fast\": 9}'")
    ] = None,
    symbol: Annotated[
        str | None, typer.Option(help="the symbol of a single file whose name does not say it")
    ] = None,
    timeframe: Annotated[
        str | None, typer.Option(help="the candles' timeframe (default: from the file names); filters dirs")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="first candle, UTC: 2018-01-01 or 2018-01-01T12:00")
    ] = None,
    end: Annotated[str | None, typer.Option(help="candles open before this, UTC")] = None,
    capital: Annotated[float, typer.Option(help="initial capital, quote currency")] = 10_000.0,
    fee: Annotated[float, typer.Option(help="fee per side, 0.001 = 0.1 %")] = 0.001,
    slippage: Annotated[float, typer.Option(help="fraction of the price lost on every fill")] = 0.0,
    stake: Annotated[float | None, typer.Option(help="quote amount of every entry (default 1000)")] = None,
    sl_pct: Annotated[float | None, typer.Option(help="stop loss, % below the entry fill")] = None,
    tp_pct: Annotated[float | None, typer.Option(help="take profit, % above the entry fill")] = None,
    trailing_pct: Annotated[float | None, typer.Option(help="trailing stop, % below the best price")] = None,
    max_hold: Annotated[
        str | None, typer.Option(help="time limit per position: 90m, 4h, 2d or seconds")
    ] = None,
    event_driven: Annotated[
        bool, typer.Option("--event-driven", help="walk the candles one by one (no fast path)")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the result as JSON (report, trades, equity curve)")
    ] = False,
    plot: Annotated[
        Path | None, typer.Option(help="write a chart (price and trades, equity, drawdown) to this PNG file")
    ] = None,
    trades: Annotated[
        int, typer.Option(min=0, help="also print the last N trades (the JSON has them all)")
    ] = 0,
) -> None:
    """Backtest a built-in strategy on Parquet candles and print its report."""
    from tradewire.services.backtests import BacktestInputError, BacktestRequest, window

    parsed = _json_object(params)
    try:
        rules = _exit_rules(sl_pct, tp_pct, trailing_pct, max_hold)
        series = _series_files(data, symbol, timeframe)
        frame = timeframe or _one_timeframe(series)
        request = BacktestRequest(
            strategy=strategy,
            params=parsed,
            symbols=tuple(series),
            timeframe=frame,
            start=_when("--start", start),
            end=_when("--end", end),
            capital=capital,
            fee=fee,
            slippage=slippage,
            stake=stake,
            exit_rules=rules,
        )
        built, config = request.build()
    except (BacktestInputError, ValueError) as exc:
        _fail(str(exc))
    if plot is not None and not plot.parent.is_dir():
        _fail(f"--plot: the directory {plot.parent} does not exist")
    candles = {
        name: window(_read_series(path, name, frame), request.start, request.end)
        for name, (path, _) in series.items()
    }
    if not any(len(c) for c in candles.values()):
        _fail("no candles in the chosen window")

    from tradewire.domain.backtest import run_backtest

    bar = _ProgressBar() if sys.stderr.isatty() else None
    try:
        result = run_backtest(built, candles, config, progress=bar, fast=not event_driven)
    except ValueError as exc:
        _fail(str(exc))
    finally:
        if bar is not None:
            bar.close()
    if plot is not None:
        from tradewire.adapters.charts import result_chart_png

        try:
            plot.write_bytes(result_chart_png(result, candles, request.title()))
        except OSError as exc:
            _fail(f"--plot: cannot write {plot}: {exc.strerror or exc}", 1)
    if as_json:
        sys.stdout.write(json.dumps(result.to_json()) + "\n")
    else:
        sys.stdout.write(_backtest_text(request.title(), candles, result, trades))
        if plot is not None:
            sys.stdout.write(f"\nChart written to {plot}\n")


def _json_object(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"--params is not valid JSON: {exc}")
    if not isinstance(value, dict):
        _fail(f"--params must be a JSON object like '{{\"fast\": 9}}', got {type(value).__name__}")
    return value


def _exit_rules(
    sl_pct: float | None, tp_pct: float | None, trailing_pct: float | None, max_hold: str | None
) -> ExitRules:
    from decimal import Decimal

    from tradewire.domain.exits import ExitRules

    def pct(value: float | None) -> Decimal | None:
        return None if value is None else Decimal(repr(value))

    return ExitRules(
        stop_loss_pct=pct(sl_pct),
        take_profit_pct=pct(tp_pct),
        trailing_pct=pct(trailing_pct),
        max_hold_s=None if max_hold is None else _seconds(max_hold),
    )


def _seconds(text: str) -> int:
    from tradewire.domain.candles import timeframe_ms

    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        return timeframe_ms(value) // 1000
    except ValueError:
        _fail(f"--max-hold: {text!r} is not a duration like 90m, 4h, 2d or a number of seconds")


def _when(option: str, text: str | None) -> datetime | None:
    from datetime import datetime

    from tradewire.services.backtests import utc

    if text is None:
        return None
    try:
        return utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        _fail(f"{option}: {text!r} is not a date or time like 2018-01-01 or 2018-01-01T12:00")


def _series_files(
    paths: Sequence[Path], symbol: str | None, timeframe: str | None
) -> dict[str, tuple[Path, str]]:
    """{symbol: (file, timeframe from its name or '')} for every --data file or directory."""
    import re

    pattern = re.compile(_SERIES_NAME)
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.parquet"))
            if timeframe is not None:
                found = [f for f in found if f.stem.endswith(f"-{timeframe}")]
            if not found:
                what = f"{timeframe} " if timeframe else ""
                _fail(f"--data: no {what}.parquet files in {path}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            _fail(f"--data: no such file or directory: {path}")
    if symbol is not None and len(files) != 1:
        _fail(f"--symbol names the symbol of one file, but --data gives {len(files)} files")
    named: list[tuple[str, str, Path]] = []
    for file in files:
        match = pattern.fullmatch(file.name.removesuffix(".parquet"))
        if symbol is not None:
            named.append((symbol.strip().upper(), match.group(3) if match else "", file))
        elif match is None:
            _fail(
                f"--data: cannot tell the symbol of {file.name}: name it <BASE>_<QUOTE>-<tf>.parquet "
                "(ETH_BTC-5m.parquet) or give --symbol"
            )
        else:
            named.append((f"{match.group(1).upper()}/{match.group(2).upper()}", match.group(3), file))
    frames = sorted({frame for _, frame, _ in named if frame})
    other = [file.name for _, frame, file in named if timeframe is not None and frame not in ("", timeframe)]
    if other:
        _fail(f"--timeframe is {timeframe} but the file name says otherwise: {', '.join(other)}")
    if timeframe is None and len(frames) > 1:
        _fail(
            f"--data: the files have different timeframes ({', '.join(frames)}): choose one with --timeframe"
        )
    series: dict[str, tuple[Path, str]] = {}
    for name, frame, file in named:
        if name in series:
            _fail(f"--data: {name} appears twice ({series[name][0]} and {file})")
        series[name] = (file, frame)
    return series


def _one_timeframe(series: dict[str, tuple[Path, str]]) -> str:
    frames = sorted({frame for _, frame in series.values()})
    if "" in frames:
        _fail("--data: cannot tell the timeframe from the file name: give --timeframe")
    return frames[0]


def _read_series(path: Path, symbol: str, timeframe: str) -> Candles:
    from tradewire.adapters.candles_parquet import CandleFileError, read_candles

    try:
        return read_candles(path, symbol, timeframe)
    except CandleFileError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{path}: cannot read it ({exc.strerror or exc})")


class _ProgressBar:
    """A one-line text bar on stderr (only used when stderr is a terminal)."""

    WIDTH = 30

    def __init__(self) -> None:
        self.shown = -1

    def __call__(self, fraction: float) -> None:
        percent = int(max(0.0, min(fraction, 1.0)) * 100)
        if percent == self.shown:
            return
        self.shown = percent
        filled = self.WIDTH * percent // 100
        sys.stderr.write(f"\rbacktesting [{'#' * filled}{'.' * (self.WIDTH - filled)}] {percent:3d} %")
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown >= 0:
            sys.stderr.write("\r" + " " * (self.WIDTH + 20) + "\r")
            sys.stderr.flush()


def _backtest_text(title: str, candles: dict[str, Candles], result: BacktestResult, last: int) -> str:
    """The summary: what ran, the report's figures, per pair, per exit reason, the last trades."""
    from datetime import UTC, datetime

    def when(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")

    report = result.report
    count = sum(len(c) for c in candles.values())
    first = min(int(c.ts[0]) for c in candles.values() if len(c))
    final = max(int(c.ts[-1]) for c in candles.values() if len(c))
    lines = [f"{title}: {count:,} candles, {when(first)} to {when(final)} UTC ({result.path} path)"]
    if result.note:
        lines.append(f"  {result.note}")
    if result.skipped_entries:
        lines.append(f"  {result.skipped_entries} entries skipped (not enough cash, or no size)")
    lines += ["", *_table(("Metric", "Value"), report.summary_rows())]
    rows: list[tuple[str, ...]]
    if report.per_pair:
        rows = [
            (p.symbol, str(p.trades), f"{p.win_rate_pct:.2f} %", _amount(p.pnl), f"{p.avg_return_pct:+.2f} %")
            for p in report.per_pair
        ]
        lines += ["", *_table(("Pair", "Trades", "Win rate", "PnL", "Avg return"), rows)]
    if report.per_exit_reason:
        rows = [
            (r.reason, str(r.trades), f"{r.win_rate_pct:.2f} %", _amount(r.pnl))
            for r in report.per_exit_reason
        ]
        lines += ["", *_table(("Exit reason", "Trades", "Win rate", "PnL"), rows)]
    if last and result.trades:
        rows = [
            (
                t.symbol,
                when(t.entry_time_ms),
                f"{t.entry_price:.8g}",
                when(t.exit_time_ms),
                f"{t.exit_price:.8g}",
                t.exit_reason,
                _amount(t.pnl),
                f"{t.return_pct:+.2f} %",
            )
            for t in result.trades[-last:]
        ]
        header = ("Pair", "Entry", "Price", "Exit", "Price", "Reason", "PnL", "Return")
        lines += ["", f"Last {len(rows)} trades", *_table(header, rows)]
    return "\n".join(lines) + "\n"


def _amount(value: float) -> str:
    if value == 0 or abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4f}" if abs(value) >= 0.01 else f"{value:.6g}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell; the first left-aligned, numbers right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [
            row[0].ljust(widths[0]),
            *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)),
        ]
        return "  ".join(cells).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(row) for row in rows)]


# -- market data ------------------------------------------------------------------------------------


@data_app.command("download")
def data_download(
    symbol: Annotated[str, typer.Option(help="unified symbol, e.g. BTC/USDT")],
    since: Annotated[str, typer.Option(help="first candle, UTC: 2024-01-01 or 2024-01-01T12:00")],
    exchange: Annotated[str, typer.Option(help="ccxt exchange id")] = "binance",
    timeframe: Annotated[str, typer.Option(help="candle timeframe: 1m, 5m, 1h, 1d ...")] = "5m",
    until: Annotated[str | None, typer.Option(help="stop before this time, UTC (default: now)")] = None,
    out: Annotated[
        Path | None, typer.Option(help="data directory (default: the configured one, TRADEWIRE_DATA_DIR)")
    ] = None,
    api_url: Annotated[
        list[str] | None,
        typer.Option(help="KEY=URL: override ccxt's urls['api'][KEY] (a proxy, a local endpoint); repeat"),
    ] = None,
    page: Annotated[int, typer.Option(min=1, max=5000, help="candles asked for per request")] = 1000,
) -> None:
    """Download candles with ccxt into <out>/ohlcv/<exchange>/<BASE>_<QUOTE>-<tf>.parquet (merged)."""
    from datetime import UTC, datetime

    from tradewire.domain.candles import timeframe_ms

    try:
        step = timeframe_ms(timeframe)
    except ValueError as exc:
        _fail(str(exc))
    pair = symbol.strip().upper()
    base, _, quote = pair.partition(":")[0].partition("/")
    if not (base.isalnum() and quote.isalnum()):
        _fail(f"--symbol: not a unified symbol like 'BTC/USDT': {symbol!r}")
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    start_ms = _epoch_ms("--since", since)
    stop_ms = now_ms if until is None else _epoch_ms("--until", until)
    if stop_ms <= start_ms:
        _fail("--until must be after --since")
    root = out
    if root is None:
        root = _settings().effective_data_dir
        if root is None:
            _fail("no data directory: give --out or set TRADEWIRE_DATA_DIR")
    target = root / "ohlcv" / exchange / f"{base}_{quote}-{timeframe}.parquet"
    client = _ccxt_client(exchange, api_url or [])
    rows = _fetch_candles(client, pair, timeframe, step, start_ms, min(stop_ms, now_ms), now_ms, page)
    if not rows:
        typer.echo(f"{exchange} has no closed {pair} {timeframe} candles in that period; nothing written")
        return
    total, added = _merge_candles(target, rows, pair, timeframe)
    first = datetime.fromtimestamp(rows[0][0] / 1000, UTC).isoformat(timespec="minutes")
    last = datetime.fromtimestamp(rows[-1][0] / 1000, UTC).isoformat(timespec="minutes")
    typer.echo(f"{len(rows)} candles downloaded ({first} to {last}), {added} new: {total} in {target}")


def _epoch_ms(option: str, text: str) -> int:
    moment = _when(option, text)
    assert moment is not None
    return int(moment.timestamp() * 1000)


def _ccxt_client(exchange: str, overrides: Sequence[str]) -> Any:
    import ccxt

    from tradewire.adapters.live.ccxt_exchange import SPOT_OPTIONS

    klass = getattr(ccxt, exchange, None) if exchange in ccxt.exchanges else None
    if klass is None:
        _fail(f"--exchange: ccxt does not know {exchange!r} (binance, bybit, okx, ...)")
    options = dict(SPOT_OPTIONS.get(exchange, {"defaultType": "spot"}))
    client = klass({"enableRateLimit": True, "timeout": 30_000, "options": options})
    api = client.urls.get("api")
    for item in overrides:
        key, sep, url = item.partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            _fail(f"--api-url: expected KEY=http(s)://..., got {item!r}")
        node = api
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or parts[-1] not in node:
            _fail(f"--api-url: {exchange} has no API url key {key!r}")
        node[parts[-1]] = url
    return client


def _fetch_candles(
    client: Any, symbol: str, timeframe: str, step: int, start_ms: int, stop_ms: int, now_ms: int, page: int
) -> list[list[float]]:
    """Candles closed by now_ms, opening in [start_ms, stop_ms), page by page (ccxt keeps to rateLimit)."""
    import ccxt

    show = sys.stderr.isatty()
    rows: dict[int, list[float]] = {}
    cursor = start_ms
    try:
        while cursor < stop_ms:
            batch = client.fetch_ohlcv(symbol, timeframe, since=cursor, limit=page)
            if not batch:
                break
            for row in batch:
                ts = int(row[0])
                if start_ms <= ts < stop_ms and ts + step <= now_ms:
                    rows[ts] = [ts, *(float("nan") if v is None else float(v) for v in row[1:6])]
            following = int(batch[-1][0]) + step
            if following <= cursor:
                break
            cursor = following
            if show:
                sys.stderr.write(f"\r{len(rows)} candles ...")
                sys.stderr.flush()
    except ccxt.BadSymbol as exc:
        _fail(f"{client.id} has no market {symbol}: {exc}")
    except ccxt.NetworkError as exc:
        _fail(f"cannot reach {client.id}: {type(exc).__name__}: {_first_line(exc)}", 1)
    except ccxt.BaseError as exc:
        _fail(f"{client.id} refused: {type(exc).__name__}: {_first_line(exc)}", 1)
    finally:
        if show:
            sys.stderr.write("\r" + " " * 40 + "\r")
    return [rows[ts] for ts in sorted(rows)]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""


def _merge_candles(target: Path, rows: list[list[float]], symbol: str, timeframe: str) -> tuple[int, int]:
    """Merge `rows` into the Parquet file (new values win on equal times); (total rows, rows added)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tradewire.adapters.candles_parquet import COLUMNS, CandleFileError, read_candles

    fresh = np.array(rows, dtype=np.float64).reshape(-1, 6)
    columns = {"ts": fresh[:, 0].astype(np.int64), **{c: fresh[:, i] for i, c in enumerate(COLUMNS[1:], 1)}}
    before = 0
    if target.exists():
        try:
            old = read_candles(target, symbol, timeframe)
        except (CandleFileError, OSError) as exc:
            _fail(f"cannot merge into {target}: {exc}")
        before = len(old)
        keep = ~np.isin(old.ts, columns["ts"])
        columns = {c: np.concatenate([getattr(old, c)[keep], columns[c]]) for c in COLUMNS}
    order = np.argsort(columns["ts"], kind="stable")
    table = pa.table({c: columns[c][order] for c in COLUMNS})
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    pq.write_table(table, temporary)
    temporary.replace(target)
    return table.num_rows, table.num_rows - before


if __name__ == "__main__":
    app()
