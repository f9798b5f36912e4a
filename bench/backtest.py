"""Benchmark: our backtester against vectorbt and backtesting.py, each in a fresh process, and trade parity.

Runs in its own environment, which holds the other two engines (our package is installed editable):

    python3 -m venv .bench-venv
    .bench-venv/bin/pip install vectorbt backtesting pandas pyarrow numpy ta-lib
    .bench-venv/bin/pip install -e .
    .bench-venv/bin/python bench/backtest.py [--runs 5] [--bt-runs 2]

Reference strategy (the built-in `ema_cross` with its defaults), long only: enter when EMA(12) crosses
above EMA(26) while RSI(14) < 70, exit when it crosses back below; orders fill at the next candle's open;
stop loss -2 % and take profit +4 % from the FILL price; 0.1 % fee per side; a fixed stake of 1,000 quote
units from 100,000 of capital (so the account never limits an entry and only the engines are compared).

Data: the ten 5m `*_BTC` pairs of ../shared/data/ohlcv/freqtrade, and one long series of at least
500,000 candles built from them: the pairs' candle-to-candle close returns are chained (pair after pair,
the whole set repeated until long enough; each pair's first candle continues at the previous close), and
each candle's open, high and low keep their ratio to that candle's close. It is written to a temporary
Parquet file every engine reads itself.

Prints, as min / median over repeated runs:
  1. our whole command on the long series: `tradewire backtest ... --json`, a fresh process that reads
     the Parquet file, computes the signals, runs the backtest and prints its report and trades as
     JSON (target <= 1.0 s), with the interpreter start-up and the imports shown apart;
  2. vectorbt (Portfolio.from_signals with sl_stop / tp_stop from the fill price, fees), a fresh process
     each time: import, first run (numba JIT compilation) and a second, warm run;
  3. backtesting.py (Backtest with commission, the same rules), a fresh process each time;
  4. parity on the ten pairs: our trades against backtesting.py's, matched on entry and exit time and
     price; the mismatches are explained (first few printed).
Our command runs with the project's own .venv interpreter (what `tradewire` will run with) and, for
comparison, with this environment's, where TA-Lib also imports pandas (about 0.15 s more start-up).

backtesting.py, as read in its source (0.6.x), and what we do:
  - market orders fill at the next open; SL/TP brackets of a market order are checked on the fill candle
    itself (orders are processed again after the fill); SL orders sit first in the queue, so with both
    touched the stop wins; a gap through the stop fills at the open (min(open, stop)): all as ours.
  - its `buy(sl=, tp=)` takes absolute prices when the order is placed, one candle before the fill price
    is known; setting `trade.sl` after the fill misses the fill candle. The exact way is to give the order
    the levels of the next open, which is the fill price: the strategy reads it from a one-candle-ahead
    indicator (used for nothing else). The levels are computed as our engine does (decimal 0.98 × fill),
    so equal stops give equal prices. When the next open gaps so far that the order's levels are on the
    wrong side of the current close, backtesting.py refuses the brackets; the trade then gets them set
    after its fill candle (counted).
  - an exit signal: `position.close()` puts its market order at the head of the queue, so it fills at
    the next open before the brackets are looked at: our rule (c), the exit signal first.
  - `finalize_trades=True` closes what is still open by re-running the last candle, so it fills at the
    last candle's OPEN; ours closes at the last close (reason END), the price the final equity is marked at.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ohlcv" / "freqtrade"
PAIRS = ("ADA", "DASH", "ETC", "ETH", "LTC", "NXT", "TRX", "XLM", "XMR", "ZEC")
LONG_SYMBOL = "LONG/BTC"
MIN_CANDLES = 500_000
STEP_MS = 300_000
CAPITAL = 100_000.0
STAKE = 1_000.0
FEE = 0.001
SL_PCT, TP_PCT = Decimal(2), Decimal(4)
FAST, SLOW, RSI_PERIOD, RSI_MAX = 12, 26, 14, 70.0


def ours_command(path: Path, python: str = sys.executable) -> list[str]:
    """Our whole command: `tradewire backtest` of the environment `python` belongs to, JSON out."""
    return [
        str(Path(python).parent / "tradewire"),
        "backtest",
        "--strategy",
        "ema_cross",
        "--data",
        str(path),
        "--symbol",
        LONG_SYMBOL,
        "--timeframe",
        "5m",
        "--capital",
        str(CAPITAL),
        "--stake",
        str(STAKE),
        "--fee",
        str(FEE),
        "--sl-pct",
        str(SL_PCT),
        "--tp-pct",
        str(TP_PCT),
        "--json",
    ]


PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"


# ---------------------------------------------------------------------------------------------------
# Data


def load_pairs() -> dict[str, Any]:
    from tradewire.adapters.candles_parquet import read_candles

    return {
        f"{base}/BTC": read_candles(DATA / f"{base}_BTC-5m.parquet", f"{base}/BTC", "5m") for base in PAIRS
    }


def long_series(pairs: dict[str, Any], minimum: int = MIN_CANDLES) -> dict[str, Any]:
    """Columns of one long series chaining the pairs' close-to-close returns (see the module doc)."""
    import numpy as np

    returns, open_, high, low = [], [], [], []
    for candles in pairs.values():
        step = np.ones(len(candles))
        step[1:] = candles.close[1:] / candles.close[:-1]
        returns.append(step)
        open_.append(candles.open / candles.close)
        high.append(candles.high / candles.close)
        low.append(candles.low / candles.close)
    one_pass = len(np.concatenate(returns))
    repeat = -(-minimum // one_pass)
    close = 100.0 * np.cumprod(np.tile(np.concatenate(returns), repeat))
    return {
        "ts": 1_500_000_000_000 + STEP_MS * np.arange(len(close), dtype=np.int64),
        "open": close * np.tile(np.concatenate(open_), repeat),
        "high": close * np.tile(np.concatenate(high), repeat),
        "low": close * np.tile(np.concatenate(low), repeat),
        "close": close,
        "volume": np.ones(len(close)),
    }


def write_parquet(columns: dict[str, Any], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path)


# ---------------------------------------------------------------------------------------------------
# The other engines, run in this file's child mode (`--child NAME PATH`) so each starts fresh.


def reference_signals(close: Any) -> tuple[Any, Any]:
    """EMA(12) crossing above EMA(26) with RSI(14) < 70, and crossing below: TA-Lib, as our indicators."""
    import numpy as np
    import talib

    fast, slow, rsi = talib.EMA(close, FAST), talib.EMA(close, SLOW), talib.RSI(close, RSI_PERIOD)
    up = np.zeros(len(close), dtype=bool)
    down = np.zeros(len(close), dtype=bool)
    up[1:] = (fast[:-1] <= slow[:-1]) & (fast[1:] > slow[1:])
    down[1:] = (fast[:-1] >= slow[:-1]) & (fast[1:] < slow[1:])
    return up & (rsi < RSI_MAX) & ~down, down


def child_vectorbt(path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    import numpy as np
    import pandas as pd
    import vectorbt as vbt

    imported = time.perf_counter()

    def run() -> int:
        frame = pd.read_parquet(path)
        frame.index = pd.to_datetime(frame["ts"], unit="ms")
        entries, exits = reference_signals(frame["close"].to_numpy())
        # A signal at a close acts at the next open: shift by one candle and fill at the open.
        entries = np.concatenate(([False], entries[:-1]))
        exits = np.concatenate(([False], exits[:-1]))
        portfolio = vbt.Portfolio.from_signals(
            close=frame["close"],
            entries=entries,
            exits=exits,
            price=frame["open"],
            open=frame["open"],
            high=frame["high"],
            low=frame["low"],
            sl_stop=float(SL_PCT) / 100,
            tp_stop=float(TP_PCT) / 100,
            stop_entry_price="fillprice",
            fees=FEE,
            size=STAKE,
            size_type="value",
            init_cash=CAPITAL,
            freq="5min",
        )
        return int(portfolio.trades.count())

    trades = run()
    first = time.perf_counter()
    run()
    second = time.perf_counter()
    return {
        "import_s": imported - started,
        "first_s": first - imported,
        "warm_s": second - first,
        "trades": trades,
    }


def backtesting_strategy(brackets: bool = True) -> type:
    """The reference strategy for backtesting.py (see the module doc for the SL/TP from the fill price)."""
    import numpy as np
    from backtesting import Strategy

    class EmaCrossBt(Strategy):
        refused = 0

        def init(self) -> None:
            entries, exits = reference_signals(np.asarray(self.data.Close, dtype=np.float64))
            self.entry = self.I(lambda: entries.astype(float), name="entry", plot=False)
            self.exit = self.I(lambda: exits.astype(float), name="exit", plot=False)
            # The next open: where a market order placed at this close fills. Only used for its levels.
            opens = np.asarray(self.data.Open, dtype=np.float64)
            self.next_open = self.I(lambda: np.append(opens[1:], np.nan), name="next_open", plot=False)
            self.late_brackets: tuple[float, float] | None = None

        def next(self) -> None:
            if self.late_brackets is not None and self.trades:
                self.trades[-1].sl, self.trades[-1].tp = self.late_brackets
                self.late_brackets = None
            if self.exit[-1] and self.position:
                self.position.close()
            elif self.entry[-1] and not self.position and not math.isnan(self.next_open[-1]):
                fill = float(self.next_open[-1])
                sl, tp = levels(fill)
                size = max(1, int(STAKE / fill))
                if not brackets:
                    self.buy(size=size)
                    return
                try:
                    self.buy(size=size, sl=sl, tp=tp)
                except ValueError:  # the levels are on the wrong side of this close (a gap)
                    type(self).refused += 1
                    self.buy(size=size)
                    self.late_brackets = (sl, tp)

    return EmaCrossBt


def levels(fill: float) -> tuple[float, float]:
    """SL and TP from a fill price, computed as our ExitRules does (decimal, then float)."""
    price = Decimal(repr(fill))
    return float(price * (1 - SL_PCT / 100)), float(price * (1 + TP_PCT / 100))


def backtesting_frame(columns: dict[str, Any]) -> Any:
    import pandas as pd

    index = pd.to_datetime(columns["ts"], unit="ms")
    return pd.DataFrame(
        {
            "Open": columns["open"],
            "High": columns["high"],
            "Low": columns["low"],
            "Close": columns["close"],
            "Volume": columns["volume"],
        },
        index=index,
    )


def run_backtesting(frame: Any, brackets: bool = True) -> tuple[Any, int]:
    from backtesting import Backtest

    strategy = backtesting_strategy(brackets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = Backtest(frame, strategy, cash=CAPITAL, commission=FEE, finalize_trades=True)
        stats = test.run()
    return stats["_trades"], strategy.refused


def child_backtesting(path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    import backtesting  # noqa: F401
    import pandas as pd

    imported = time.perf_counter()
    table = pd.read_parquet(path)
    trades, _ = run_backtesting(backtesting_frame({k: table[k].to_numpy() for k in table.columns}))
    done = time.perf_counter()
    return {"import_s": imported - started, "first_s": done - imported, "trades": len(trades)}


CHILDREN: dict[str, Callable[[Path], dict[str, Any]]] = {
    "vectorbt": child_vectorbt,
    "backtesting": child_backtesting,
}


# ---------------------------------------------------------------------------------------------------
# Measuring


def timed(command: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])}… failed:\n{done.stderr[-3000:]}")
    return elapsed, done.stdout


def child_command(name: str, path: Path) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", name, str(path)]


def repeat(runs: int, command: list[str]) -> tuple[list[float], list[dict[str, Any]]]:
    walls, reports = [], []
    for _ in range(runs):
        wall, out = timed(command)
        walls.append(wall)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        report = json.loads(lines[-1]) if lines else {}
        if isinstance(report.get("trades"), list):  # `tradewire backtest --json` lists them
            report["trades"] = len(report["trades"])
        reports.append(report)
    return walls, reports


def fmt_times(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"{min(values):7.3f} / {statistics.median(values):7.3f} s"


def measure(path: Path, runs: int, bt_runs: int, skip: set[str]) -> None:
    print(f"\n1-3. Whole command on the long series ({path.name}), fresh process per run, min / median:")
    imports = (
        "import numpy, pyarrow.parquet, talib, tradewire.cli, tradewire.services.backtests; "
        "from tradewire.domain.backtest import run_backtest; "
        "from tradewire.adapters.candles_parquet import read_candles; "
        "from tradewire.domain.strategies.builtin import EmaCross"
    )
    pythons = [("project .venv", str(PROJECT_PYTHON))] if PROJECT_PYTHON.exists() else []
    pythons.append(("bench venv", sys.executable))
    rows: list[tuple[str, ...]] = []
    for where, python in pythons:
        startup, _ = repeat(runs, [python, "-c", "pass"])
        ours_imports, _ = repeat(runs, [python, "-c", imports])
        ours, ours_out = repeat(runs, ours_command(path, python))
        paths = {o.get("path") for o in ours_out}
        rows += [
            (f"python start-up alone ({where})", fmt_times(startup), "", "", "", ""),
            (f"tradewire start-up + imports ({where})", fmt_times(ours_imports), "", "", "", ""),
            (
                f"tradewire backtest ({where}, {'/'.join(map(str, paths))} path)",
                fmt_times(ours),
                "",
                "",
                "",
                _trades_of(ours_out),
            ),
        ]
    if "vectorbt" not in skip:
        walls, out = repeat(runs, child_command("vectorbt", path))
        rows.append(("vectorbt from_signals", fmt_times(walls), *_inner(out), _trades_of(out)))
    if "backtesting" not in skip:
        walls, out = repeat(bt_runs, child_command("backtesting", path))
        rows.append(("backtesting.py Backtest", fmt_times(walls), *_inner(out), _trades_of(out)))
    header = ("engine", "whole process", "import", "first run", "warm run", "trades")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  " + "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _inner(out: list[dict[str, Any]]) -> tuple[str, str, str]:
    def col(key: str) -> str:
        values = [o[key] for o in out if key in o]
        return fmt_times(values) if values else "-"

    return col("import_s"), col("first_s"), col("warm_s")


def _trades_of(out: list[dict[str, Any]]) -> str:
    counts = sorted({o.get("trades") for o in out if "trades" in o})
    return "/".join(str(c) for c in counts)


# ---------------------------------------------------------------------------------------------------
# Parity


def parity(pairs: dict[str, Any]) -> None:
    from tradewire.domain.backtest import BacktestConfig, run_backtest
    from tradewire.domain.exits import ExitRules
    from tradewire.domain.sizing import Sizing, SizingMode
    from tradewire.domain.strategies.builtin import EmaCross

    for brackets in (True, False):
        config = BacktestConfig(
            initial_capital=CAPITAL,
            fee_rate=FEE,
            sizing=Sizing(SizingMode.FIXED_QUOTE, Decimal(str(STAKE))),
            exit_rules=ExitRules(stop_loss_pct=SL_PCT, take_profit_pct=TP_PCT) if brackets else ExitRules(),
        )
        rules = "SL -2 % / TP +4 % from the fill" if brackets else "no SL/TP"
        print(f"\n4. Parity on the ten pairs, ours vs backtesting.py ({rules}):")
        total = Counter[str]()
        examples: list[str] = []
        for symbol, candles in pairs.items():
            ours = run_backtest(EmaCross(), {symbol: candles}, config).trades
            theirs, refused = run_backtesting(backtesting_frame(_columns(candles)), brackets)
            total["bracket orders refused"] += refused
            total["ours"] += len(ours)
            total["theirs"] += len(theirs)
            mine = {t.entry_time_ms: t for t in ours}
            for row in theirs.itertuples():
                entry_ms = int(candles.ts[int(row.EntryBar)])
                exit_ms = int(candles.ts[int(row.ExitBar)])
                trade = mine.pop(entry_ms, None)
                if trade is None:
                    total["only backtesting.py"] += 1
                    examples.append(f"{symbol}: backtesting.py only, entry {entry_ms}")
                    continue
                if (trade.exit_time_ms, trade.entry_price, trade.exit_price) == (
                    exit_ms,
                    float(row.EntryPrice),
                    float(row.ExitPrice),
                ):
                    total["match"] += 1
                    continue
                why = _why(trade, exit_ms)
                total[why] += 1
                examples.append(
                    f"{symbol} entry {entry_ms}: ours exit {trade.exit_time_ms} at {trade.exit_price!r} "
                    f"({trade.exit_reason}), backtesting.py {exit_ms} at {float(row.ExitPrice)!r}: {why}"
                )
            total["only ours"] += len(mine)
            examples.extend(f"{symbol}: ours only, entry {t.entry_time_ms}" for t in mine.values())
        print(
            f"  trades: ours {total['ours']}, backtesting.py {total['theirs']}; exact matches on entry and "
            f"exit time and price: {total['match']} "
            f"({100 * total['match'] / max(1, total['ours']):.2f} % of ours)"
        )
        others = {k: v for k, v in total.items() if k not in ("ours", "theirs", "match") and v}
        print(f"  mismatches: {others or 'none'}")
        for line in examples[:5]:
            print(f"    {line}")


def _columns(candles: Any) -> dict[str, Any]:
    return {name: getattr(candles, name) for name in ("ts", "open", "high", "low", "close", "volume")}


def _why(trade: Any, exit_ms: int) -> str:
    if trade.exit_reason == "END":
        return "END: ours at the last close, backtesting.py at the last open"
    if exit_ms != trade.exit_time_ms:
        return f"different exit candle (ours {trade.exit_reason})"
    return f"same exit candle, different price (ours {trade.exit_reason})"


# ---------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per engine (default 5)")
    parser.add_argument("--bt-runs", type=int, default=2, help="runs of backtesting.py (slow; default 2)")
    parser.add_argument("--skip", action="append", default=[], choices=["vectorbt", "backtesting", "parity"])
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "PARQUET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bars (read at tqdm's import)
    if args.child:
        name, path = args.child
        print(json.dumps(CHILDREN[name](Path(path))))
        return
    if not DATA.is_dir():
        raise SystemExit(f"data directory {DATA} not found")
    pairs = load_pairs()
    print(f"Pairs: {', '.join(pairs)} ({sum(len(c) for c in pairs.values()):,} 5m candles)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "LONG_BTC-5m.parquet"
        columns = long_series(pairs)
        write_parquet(columns, path)
        print(
            f"Long series: {len(columns['ts']):,} candles chained from the ten pairs' returns, "
            f"{os.path.getsize(path) / 1e6:.1f} MB Parquet"
        )
        measure(path, args.runs, args.bt_runs, set(args.skip))
    if "parity" not in args.skip:
        parity(pairs)


if __name__ == "__main__":
    main()
