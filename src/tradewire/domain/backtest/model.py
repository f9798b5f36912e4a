"""What both backtest paths share: the configuration, the result, the prepared inputs and the fill rules.

Everything that decides a price lives here once, so the event-driven engine and the fast path cannot
drift apart: `buy_fill` / `sell_fill` (slippage), `entry_levels` (the live `ExitPlan` turning the
subscription's `ExitRules` and a signal's own SL/TP into absolute levels) and `prepare` (which signals
are tradable).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from tradewire.domain.candles import Candles, timeframe_ms
from tradewire.domain.exit_plan import ExitPlan
from tradewire.domain.exits import ExitRules
from tradewire.domain.metrics import ClosedTrade, Report
from tradewire.domain.money import fmt, to_decimal
from tradewire.domain.sizing import Sizing, SizingMode
from tradewire.domain.strategies.base import Strategy

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
EnginePath = Literal["fast", "event"]

END = "END"
"""Exit reason of a position still open after the last candle: closed at that candle's close."""


def _default_sizing() -> Sizing:
    return Sizing(SizingMode.FIXED_QUOTE, Decimal(1000))


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """How a backtest trades: capital, costs, sizing and automatic exits (the subscription's settings).

    `fee_rate` is charged per side on the notional (0.001 = 0.1 %). `slippage` is a fraction of the
    price paid on every fill: buys at price × (1 + slippage), sells at price × (1 − slippage), exits at a
    stop or target included. `timeframe` (e.g. '5m'): None takes the candles' own, which must agree.
    """

    initial_capital: float = 10_000.0
    fee_rate: float = 0.001
    slippage: float = 0.0
    sizing: Sizing = field(default_factory=_default_sizing)
    exit_rules: ExitRules = field(default_factory=ExitRules)
    timeframe: str | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.initial_capital) and self.initial_capital > 0):
            raise ValueError(f"initial_capital must be positive, got {self.initial_capital}")
        if not 0 <= self.fee_rate < 1:
            raise ValueError(f"fee_rate must be in [0, 1), got {self.fee_rate}")
        if not 0 <= self.slippage < 1:
            raise ValueError(f"slippage must be in [0, 1), got {self.slippage}")
        if self.sizing.mode is SizingMode.SIGNAL:
            raise ValueError("sizing mode 'signal' copies a signal's contracts; strategies give none")
        if self.timeframe is not None:
            timeframe_ms(self.timeframe)  # raises ValueError for an unknown timeframe

    @property
    def equity_dependent(self) -> bool:
        """True when an entry's size depends on the account (equity, or the trades so far)."""
        return self.sizing.mode is not SizingMode.FIXED_QUOTE

    def as_json(self) -> dict[str, Any]:
        return {
            "initial_capital": self.initial_capital,
            "fee_rate": self.fee_rate,
            "slippage": self.slippage,
            "sizing": {
                "mode": self.sizing.mode.value,
                "value": fmt(self.sizing.value),
                "params": self.sizing.params.to_json(),
            },
            "exit_rules": self.exit_rules.as_json(),
            "timeframe": self.timeframe,
        }


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Closed trades, the equity curve and its report.

    `ts_ms[i]` is the open time of the i-th candle of the (merged) timeline and `equity[i]` the account
    marked to market at that candle's close. `path` says which engine produced it and `note` why the
    event-driven one was used when the fast one was asked for. `skipped_entries` counts entry signals
    that could not be filled (not enough cash, or no size: zero equity, no edge for Kelly).
    """

    trades: tuple[ClosedTrade, ...]
    ts_ms: IntArray
    equity: FloatArray
    report: Report
    config: BacktestConfig
    timeframe: str
    path: EnginePath
    note: str = ""
    skipped_entries: int = 0

    def to_json(self, max_equity_points: int | None = 2_000) -> dict[str, Any]:
        """A JSON-safe dict at full precision; the equity curve thinned to about `max_equity_points`
        (None: every point)."""
        ts, equity = self.ts_ms, self.equity
        if max_equity_points is not None and len(ts) > max(max_equity_points, 2):
            keep = np.unique(np.linspace(0, len(ts) - 1, max_equity_points).round().astype(np.int64))
            ts, equity = ts[keep], equity[keep]
        return {
            "path": self.path,
            "note": self.note,
            "timeframe": self.timeframe,
            "config": self.config.as_json(),
            "report": self.report.as_json(),
            "skipped_entries": self.skipped_entries,
            "trades": [_trade_json(t) for t in self.trades],
            "equity": {"ts_ms": ts.tolist(), "equity": equity.tolist()},
        }


@dataclass(frozen=True, slots=True, eq=False)
class Outcome:
    """What a simulation produced, before the report: trades, the curve, entries that could not fill."""

    trades: list[ClosedTrade]
    ts: IntArray
    equity: FloatArray
    skipped: int


def _trade_json(trade: ClosedTrade) -> dict[str, Any]:
    return {
        "symbol": trade.symbol,
        "side": trade.side,
        "entry_time_ms": trade.entry_time_ms,
        "exit_time_ms": trade.exit_time_ms,
        "entry_price": trade.entry_price,
        "exit_price": trade.exit_price,
        "amount": trade.amount,
        "fees": trade.fees,
        "pnl": trade.pnl,
        "return_pct": trade.return_pct,
        "exit_reason": trade.exit_reason,
    }


@dataclass(frozen=True, slots=True, eq=False)
class Series:
    """One symbol ready to simulate: plain arrays and the tradable signals.

    `entries[i]` is an entry the engine acts on: the strategy's entry at candle i, not on a candle whose
    exit also fired (the exit wins), not before `strategy.warmup`, not on the last candle (no next open).
    """

    symbol: str
    ts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    close_s: FloatArray  # each candle's close time in epoch seconds (for the time limit)
    entries: BoolArray
    exits: BoolArray
    stop_loss: FloatArray | None  # the signal's own absolute levels per entry candle (NaN: none)
    take_profit: FloatArray | None

    def __len__(self) -> int:
        return len(self.ts)


def resolve_timeframe(candles_by_symbol: Mapping[str, Candles], configured: str | None) -> str:
    if configured is not None:
        return configured
    frames = sorted({c.timeframe for c in candles_by_symbol.values()})
    if len(frames) != 1:
        raise ValueError(f"the series have different timeframes ({', '.join(frames)}); set one in the config")
    return frames[0]


def prepare(strategy: Strategy, candles_by_symbol: Mapping[str, Candles], tf_ms: int) -> list[Series]:
    """Every non-empty series with its strategy signals, sorted by symbol (the engines' fixed order)."""
    if not candles_by_symbol:
        raise ValueError("no candles to backtest")
    prepared: list[Series] = []
    for symbol in sorted(candles_by_symbol):
        candles = candles_by_symbol[symbol]
        n = len(candles)
        if n == 0:
            continue
        prices = (candles.open, candles.high, candles.low, candles.close)
        if not all(bool(np.isfinite(column).all()) for column in prices):
            raise ValueError(f"{symbol}: prices have missing values (NaN); fill or drop those candles first")
        signals = strategy.signals(candles)
        if len(signals) != n:
            raise ValueError(f"{symbol}: the strategy gave {len(signals)} signals for {n} candles")
        exits = np.asarray(signals.exits, dtype=np.bool_)
        entries = np.asarray(signals.entries, dtype=np.bool_) & ~exits
        entries[: max(0, min(int(strategy.warmup), n))] = False
        entries[n - 1] = False
        prepared.append(
            Series(
                symbol=symbol,
                ts=np.asarray(candles.ts, dtype=np.int64),
                open=np.asarray(candles.open, dtype=np.float64),
                high=np.asarray(candles.high, dtype=np.float64),
                low=np.asarray(candles.low, dtype=np.float64),
                close=np.asarray(candles.close, dtype=np.float64),
                close_s=(candles.ts + tf_ms) / 1000.0,
                entries=entries,
                exits=exits,
                stop_loss=_levels_column(symbol, "stop_loss", signals.stop_loss),
                take_profit=_levels_column(symbol, "take_profit", signals.take_profit),
            )
        )
    if not prepared:
        raise ValueError("no candles to backtest")
    return prepared


def _levels_column(symbol: str, name: str, values: FloatArray | None) -> FloatArray | None:
    if values is None:
        return None
    column = np.asarray(values, dtype=np.float64)
    bad = ~np.isnan(column) & ~(np.isfinite(column) & (column > 0))
    if bool(bad.any()):
        row = int(np.argmax(bad))
        raise ValueError(f"{symbol}: signal {name} at row {row} is {column[row]}; a level is a price > 0")
    return column


_Price = TypeVar("_Price", float, FloatArray)


def buy_fill(price: _Price, slippage: float) -> _Price:
    """What a buy at `price` pays (one expression for floats and arrays: identical results)."""
    return price * (1.0 + slippage)


def sell_fill(price: _Price, slippage: float) -> _Price:
    """What a sell at `price` gets."""
    return price * (1.0 - slippage)


class Levels(NamedTuple):
    """One position's exit settings as the floats `exits.evaluate_bar` takes."""

    stop_loss: float | None
    take_profit: float | None
    trailing_pct: float | None
    trailing_activation_pct: float | None
    deadline_s: float | None


def entry_levels(
    rules: ExitRules, series: Series, signal_row: int, fill: float, opened_at_s: float
) -> tuple[Levels, Decimal | None]:
    """The position's levels (the live `ExitPlan`: the signal's SL/TP win over the rules' percentages)
    and the stop that risk-based sizing measures against."""
    sl_override = _override(series.stop_loss, signal_row)
    tp_override = _override(series.take_profit, signal_row)
    plan = ExitPlan(rules, sl_override, tp_override)
    price = to_decimal(fill)
    levels = plan.levels(price, opened_at_s)
    return (
        Levels(
            stop_loss=None if levels.stop_loss is None else float(levels.stop_loss),
            take_profit=None if levels.take_profit is None else float(levels.take_profit),
            trailing_pct=None if levels.trailing_pct is None else float(levels.trailing_pct),
            trailing_activation_pct=(
                None if levels.trailing_activation_pct is None else float(levels.trailing_activation_pct)
            ),
            deadline_s=levels.deadline_s,
        ),
        plan.stop_at(price),
    )


def _override(column: FloatArray | None, row: int) -> Decimal | None:
    if column is None:
        return None
    value = float(column[row])
    return None if math.isnan(value) else to_decimal(value)
