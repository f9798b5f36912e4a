"""`tradewire backtest`: a built-in strategy on Parquet candles, its report as text or JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tradewire.cli.common import app, fail, parse_when

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tradewire.domain.backtest import BacktestResult
    from tradewire.domain.candles import Candles
    from tradewire.domain.exits import ExitRules

_SERIES_NAME = r"([A-Za-z0-9]+)_([A-Za-z0-9]+)-(\d+[smhdw])"


@app.command()
def backtest(
    strategy: Annotated[
        str,
        typer.Option(
            help="built-in strategy: ema_cross, rsi_mean_reversion, macd or bollinger_breakout; "
            "or lightgbm with --model"
        ),
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
    model: Annotated[
        Path | None,
        typer.Option(help="lightgbm: the model file (model.txt from `tradewire ml train`)"),
    ] = None,
    trades: Annotated[
        int, typer.Option(min=0, help="also print the last N trades (the JSON has them all)")
    ] = 0,
) -> None:
    """Backtest a built-in strategy on Parquet candles and print its report."""
    from tradewire.services.backtest_request import BacktestInputError, BacktestRequest, window

    parsed = _json_object(params)
    lookup = None
    if model is not None:
        lookup = _model_file(model)
        if "model_id" not in parsed and "model_symbol" not in parsed:
            parsed["model_id"] = 1  # the file given: the params need not name a registered model
    try:
        rules = _exit_rules(sl_pct, tp_pct, trailing_pct, max_hold)
        series = _series_files(data, symbol, timeframe)
        frame = timeframe or _one_timeframe(series)
        request = BacktestRequest(
            strategy=strategy,
            params=parsed,
            symbols=tuple(series),
            timeframe=frame,
            start=parse_when("--start", start),
            end=parse_when("--end", end),
            capital=capital,
            fee=fee,
            slippage=slippage,
            stake=stake,
            exit_rules=rules,
        )
        built, config = request.build(lookup)
    except (BacktestInputError, ValueError) as exc:
        fail(str(exc))
    if plot is not None and not plot.parent.is_dir():
        fail(f"--plot: the directory {plot.parent} does not exist")
    candles = {
        name: window(_read_series(path, name, frame), request.start, request.end)
        for name, (path, _) in series.items()
    }
    if not any(len(c) for c in candles.values()):
        fail("no candles in the chosen window")

    from tradewire.domain.backtest import run_backtest

    bar = _ProgressBar() if sys.stderr.isatty() else None
    try:
        result = run_backtest(built, candles, config, progress=bar, fast=not event_driven)
    except ValueError as exc:
        fail(str(exc))
    finally:
        if bar is not None:
            bar.close()
    if plot is not None:
        from tradewire.adapters.charts import result_chart_png

        try:
            plot.write_bytes(result_chart_png(result, candles, request.title()))
        except OSError as exc:
            fail(f"--plot: cannot write {plot}: {exc.strerror or exc}", 1)
    if as_json:
        sys.stdout.write(json.dumps(result.to_json()) + "\n")
    else:
        sys.stdout.write(_backtest_text(request.title(), candles, result, trades))
        if plot is not None:
            sys.stdout.write(f"\nChart written to {plot}\n")


def _model_file(path: Path) -> Callable[[Any], Any]:
    """The predictor in a LightGBM text model file, for whichever model the params name."""
    from tradewire.adapters.ml.lightgbm_model import load_predictor

    try:
        predictor = load_predictor(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        fail(f"--model: {exc}")
    return lambda _params: predictor


def _json_object(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--params is not valid JSON: {exc}")
    if not isinstance(value, dict):
        fail(f"--params must be a JSON object like '{{\"fast\": 9}}', got {type(value).__name__}")
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
        fail(f"--max-hold: {text!r} is not a duration like 90m, 4h, 2d or a number of seconds")


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
                fail(f"--data: no {what}.parquet files in {path}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            fail(f"--data: no such file or directory: {path}")
    if symbol is not None and len(files) != 1:
        fail(f"--symbol names the symbol of one file, but --data gives {len(files)} files")
    named: list[tuple[str, str, Path]] = []
    for file in files:
        match = pattern.fullmatch(file.name.removesuffix(".parquet"))
        if symbol is not None:
            named.append((symbol.strip().upper(), match.group(3) if match else "", file))
        elif match is None:
            fail(
                f"--data: cannot tell the symbol of {file.name}: name it <BASE>_<QUOTE>-<tf>.parquet "
                "(ETH_BTC-5m.parquet) or give --symbol"
            )
        else:
            named.append((f"{match.group(1).upper()}/{match.group(2).upper()}", match.group(3), file))
    frames = sorted({frame for _, frame, _ in named if frame})
    other = [file.name for _, frame, file in named if timeframe is not None and frame not in ("", timeframe)]
    if other:
        fail(f"--timeframe is {timeframe} but the file name says otherwise: {', '.join(other)}")
    if timeframe is None and len(frames) > 1:
        fail(
            f"--data: the files have different timeframes ({', '.join(frames)}): choose one with --timeframe"
        )
    series: dict[str, tuple[Path, str]] = {}
    for name, frame, file in named:
        if name in series:
            fail(f"--data: {name} appears twice ({series[name][0]} and {file})")
        series[name] = (file, frame)
    return series


def _one_timeframe(series: dict[str, tuple[Path, str]]) -> str:
    frames = sorted({frame for _, frame in series.values()})
    if "" in frames:
        fail("--data: cannot tell the timeframe from the file name: give --timeframe")
    return frames[0]


def _read_series(path: Path, symbol: str, timeframe: str) -> Candles:
    from tradewire.adapters.candles_parquet import CandleFileError, read_candles

    try:
        return read_candles(path, symbol, timeframe)
    except CandleFileError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{path}: cannot read it ({exc.strerror or exc})")


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
