"""A backtest request and its market data, without a database: shared by the server's backtests
(`tradewire.services.backtests`) and the `tradewire backtest` command, so this module imports no SQL,
web or worker code.

`BacktestRequest` says what to backtest and builds the strategy and the engine's configuration from
it; `locate`, `load` and `window` find a request's candles in an archive and keep its window. Every
request that cannot run raises `BacktestInputError`, whose message says what to change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from tradewire.domain.ai.replay import ReplayedAiChart, StoredProposal
from tradewire.domain.ai.strategy import AiChartParams, AiChartStrategy
from tradewire.domain.backtest import BacktestConfig
from tradewire.domain.candles import Candles, timeframe_ms
from tradewire.domain.exits import ExitRules
from tradewire.domain.ml.strategy import LightgbmParams, LightgbmStrategy, Predictor
from tradewire.domain.sizing import Sizing, SizingMode
from tradewire.domain.strategies.base import Strategy
from tradewire.domain.strategies.builtin import build_strategy
from tradewire.domain.strategies.confirmation import MtfParams
from tradewire.ports.archive import CandleArchive
from tradewire.services.backtest_confirmation import ConfirmationError, Confirmed, check_confirmation

MAX_SYMBOLS = 50


# Where a `lightgbm` backtest finds its model: None when the params name none.
ModelLookup = Callable[[LightgbmParams], Predictor | None]
# Where an `ai_chart` backtest finds its strategy's stored proposals (strategy id, timeframe).
AnalysisLookup = Callable[[int, str], list[StoredProposal]]


class BacktestInputError(ValueError):
    """A backtest request that cannot run: the message says what to change."""


# -- the request ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestRequest:
    """What to backtest and how: a built-in strategy, the market data and the account's settings.

    `start` / `end` select candles opening at or after `start` and before `end` (UTC). `stake` is the
    quote amount of every entry (None: BacktestConfig's default). `confirmation` keeps only the entries
    the multi-timeframe confirmation accepts.
    """

    strategy: str
    params: Mapping[str, Any]
    symbols: tuple[str, ...]
    timeframe: str
    start: datetime | None = None
    end: datetime | None = None
    capital: float = 10_000.0
    fee: float = 0.001
    slippage: float = 0.0
    stake: float | None = None
    exit_rules: ExitRules = field(default_factory=ExitRules)
    confirmation: MtfParams | None = None
    strategy_id: int | None = None

    def build(
        self, models: ModelLookup | None = None, analyses: AnalysisLookup | None = None
    ) -> tuple[Strategy, BacktestConfig]:
        """The strategy and the engine's configuration; BacktestInputError says what is wrong.

        A `lightgbm` strategy gets its model from `models` (none there: BacktestInputError), an
        `ai_chart` strategy its stored analyses from `analyses`.
        """
        try:
            strategy: Strategy = build_strategy(self.strategy, self.params)
            config = self.config()
        except ValueError as exc:
            raise BacktestInputError(str(exc)) from None
        if isinstance(strategy, AiChartStrategy):
            if self.strategy_id is None or analyses is None:
                raise BacktestInputError(
                    "ai_chart replays a strategy's stored analyses: give its strategy_id"
                )
            assert isinstance(strategy.params, AiChartParams)
            strategy = ReplayedAiChart(strategy.params, analyses(self.strategy_id, self.timeframe))
        if isinstance(strategy, LightgbmStrategy):
            assert isinstance(strategy.params, LightgbmParams)
            predictor = None if models is None else models(strategy.params)
            if predictor is None:
                named = strategy.params.model_id or f"for {strategy.params.model_symbol}"
                raise BacktestInputError(f"lightgbm: no model {named} of yours")
            strategy = strategy.with_predictor(predictor)
        if self.confirmation is not None:
            try:
                check_confirmation(self.confirmation, self.timeframe)
            except ConfirmationError as exc:
                raise BacktestInputError(str(exc)) from None
            strategy = Confirmed(strategy, self.confirmation)
        return strategy, config

    def config(self) -> BacktestConfig:
        try:
            timeframe_ms(self.timeframe)
        except ValueError as exc:
            raise BacktestInputError(str(exc)) from None
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise BacktestInputError(
                f"end ({self.end.isoformat()}) must be after start ({self.start.isoformat()})"
            )
        sizing = (
            Sizing(SizingMode.FIXED_QUOTE, Decimal(repr(self.stake)))
            if self.stake is not None
            else BacktestConfig().sizing
        )
        return BacktestConfig(
            initial_capital=self.capital,
            fee_rate=self.fee,
            slippage=self.slippage,
            sizing=sizing,
            exit_rules=self.exit_rules,
            timeframe=self.timeframe,
        )

    def row(self) -> dict[str, Any]:
        """The stored form (the `backtests` columns it fills)."""
        mtf = self.confirmation
        return {
            "strategy_id": self.strategy_id,
            "strategy_name": self.strategy,
            "params": dict(self.params),
            "symbols": list(self.symbols),
            "timeframe": self.timeframe,
            "config": {
                "initial_capital": self.capital,
                "fee_rate": self.fee,
                "slippage": self.slippage,
                "stake": self.stake,
                "exit_rules": self.exit_rules.as_json(),
                "start": _iso(self.start),
                "end": _iso(self.end),
                "confirmation": None if mtf is None else mtf.model_dump(mode="json"),
            },
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> BacktestRequest:
        config = row["config"]
        confirmation = config.get("confirmation")
        return cls(
            strategy=row["strategy_name"],
            params=row["params"],
            symbols=tuple(row["symbols"]),
            timeframe=row["timeframe"],
            start=_parse_iso(config.get("start")),
            end=_parse_iso(config.get("end")),
            capital=float(config["initial_capital"]),
            fee=float(config["fee_rate"]),
            slippage=float(config["slippage"]),
            stake=None if config.get("stake") is None else float(config["stake"]),
            exit_rules=ExitRules.from_json(config.get("exit_rules")),
            confirmation=None if confirmation is None else MtfParams.model_validate(confirmation),
            strategy_id=row.get("strategy_id"),
        )

    def title(self) -> str:
        return f"{self.strategy} {', '.join(self.symbols)} {self.timeframe}"


def from_definition(definition: Mapping[str, Any] | None, strategy_id: int) -> dict[str, Any]:
    """A strategy's stored indicator definition as request fields (strategy, params, symbols, ...)."""
    if not definition or not definition.get("builtin"):
        raise BacktestInputError(
            f"strategy {strategy_id} has no indicator definition naming a built-in strategy "
            "(webhook strategies cannot be backtested); give a strategy name and params instead"
        )
    fields: dict[str, Any] = {
        "strategy": str(definition["builtin"]),
        "params": dict(definition.get("params") or {}),
    }
    if definition.get("timeframe"):
        fields["timeframe"] = str(definition["timeframe"])
    if definition.get("symbols"):
        fields["symbols"] = tuple(str(s) for s in definition["symbols"])
    if definition.get("confirmation"):
        try:
            fields["confirmation"] = MtfParams.model_validate(definition["confirmation"])
        except ValueError as exc:
            raise BacktestInputError(f"strategy {strategy_id}: invalid confirmation: {exc}") from None
    return fields


# -- market data ------------------------------------------------------------------------------------


def locate(archive: CandleArchive, symbols: Sequence[str], timeframe: str) -> dict[str, Path]:
    """Every symbol's candle file in `timeframe` in `archive`; BacktestInputError if one is missing."""
    if not symbols:
        raise BacktestInputError("give at least one symbol")
    if len(symbols) > MAX_SYMBOLS:
        raise BacktestInputError(f"at most {MAX_SYMBOLS} symbols per backtest, got {len(symbols)}")
    if len(set(symbols)) != len(symbols):
        raise BacktestInputError(f"symbols must be distinct, got {', '.join(symbols)}")
    found: dict[str, Path] = {}
    missing: list[str] = []
    for symbol in symbols:
        try:
            path = archive.find(symbol, timeframe)
        except ValueError as exc:
            raise BacktestInputError(str(exc)) from None
        if path is None:
            missing.append(symbol)
        else:
            found[symbol] = path
    if missing:
        raise BacktestInputError(f"no {timeframe} candles for {', '.join(missing)} on this server")
    return found


def load(
    archive: CandleArchive,
    paths: Mapping[str, Path],
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, Candles]:
    """Read every file and keep the window; BacktestInputError for an unreadable file or no candles."""
    series: dict[str, Candles] = {}
    for symbol, path in paths.items():
        try:
            candles = archive.read(path, symbol, timeframe)
        except ValueError as exc:
            raise BacktestInputError(str(exc)) from None
        except OSError as exc:
            raise BacktestInputError(f"{path}: cannot read it ({exc.strerror or exc})") from None
        series[symbol] = window(candles, start, end)
    if not any(len(c) for c in series.values()):
        raise BacktestInputError(f"no candles{_between(start, end)} for {', '.join(paths)}")
    return series


def window(candles: Candles, start: datetime | None, end: datetime | None) -> Candles:
    """The candles opening at or after `start` and before `end` (views, no copy)."""
    if start is None and end is None:
        return candles
    first = 0 if start is None else int(np.searchsorted(candles.ts, _ms(start), side="left"))
    stop = len(candles) if end is None else int(np.searchsorted(candles.ts, _ms(end), side="left"))
    return candles.rows(first, max(first, stop))


def utc(value: datetime) -> datetime:
    """A datetime in UTC; a naive one is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ms(value: datetime) -> int:
    return int(utc(value).timestamp() * 1000)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else utc(value).isoformat()


def _parse_iso(value: str | None) -> datetime | None:
    return None if value is None else utc(datetime.fromisoformat(value))


def _between(start: datetime | None, end: datetime | None) -> str:
    if start is None and end is None:
        return ""
    return f" between {_iso(start) or 'the start'} and {_iso(end) or 'the end'}"
