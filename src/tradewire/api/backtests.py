"""REST for backtests: start one (it runs in the background), follow it, read its result and curve."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field, field_validator, model_validator

from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.fields import DbId, UtcTime
from tradewire.api.paging import PageQuery
from tradewire.api.schemas.common import SYMBOL, Strict
from tradewire.api.schemas.settings import ExitRulesIn
from tradewire.domain.candles import timeframe_ms
from tradewire.domain.exits import ExitRules
from tradewire.domain.strategies.confirmation import DEFAULT_TIMEFRAMES, MtfParams
from tradewire.services.backtest_candles import backtest_candles
from tradewire.services.backtest_request import MAX_SYMBOLS, BacktestInputError, BacktestRequest, utc

router = APIRouter(prefix="/api/v1", tags=["backtests"])


class ConfirmationIn(Strict):
    """Keep only the entries the multi-timeframe confirmation accepts (RSI, MACD, EMA votes)."""

    timeframes: list[str] = Field(default=list(DEFAULT_TIMEFRAMES), min_length=1, max_length=12)
    min_priority: Literal["HIGH", "MEDIUM", "LOW"] = "MEDIUM"

    def domain(self) -> MtfParams:
        return MtfParams(timeframes=tuple(self.timeframes), min_priority=self.min_priority)

    @model_validator(mode="after")
    def _valid(self) -> ConfirmationIn:
        self.domain()
        return self


# The least capital or stake a backtest takes (a satoshi): 5e-324, the least positive float, made the
# run fail with ZeroDivisionError once divided.
MIN_QUOTE = 1e-8


class BacktestCreate(Strict):
    """A built-in strategy (`strategy` + `params`) or a strategy with an indicator definition
    (`strategy_id`; its symbols, timeframe and confirmation are the defaults), on the server's candles."""

    strategy: str | None = Field(
        default=None, max_length=64, description="built-in: ema_cross, rsi_mean_reversion, macd, ..."
    )
    params: dict[str, Any] | None = Field(default=None, description="the strategy's parameters")
    strategy_id: DbId | None = Field(default=None, description="a strategy whose definition names a built-in")
    symbols: list[str] | None = Field(
        default=None, min_length=1, max_length=MAX_SYMBOLS, description="unified symbols, e.g. ETH/BTC"
    )
    timeframe: str | None = Field(default=None, max_length=8, description="candle timeframe, e.g. 5m")
    start: UtcTime | None = Field(default=None, description="first candle's open time (UTC if no zone)")
    end: UtcTime | None = Field(default=None, description="candles open before this (UTC if no zone)")
    capital: float = Field(default=10_000.0, ge=MIN_QUOTE, le=1e15, allow_inf_nan=False)
    fee: float = Field(default=0.001, ge=0, lt=1, allow_inf_nan=False, description="per side, 0.001 = 0.1 %")
    slippage: float = Field(default=0.0, ge=0, lt=1, allow_inf_nan=False, description="fraction of price")
    stake: float | None = Field(
        default=None, ge=MIN_QUOTE, le=1e15, allow_inf_nan=False, description="quote per entry (default 1000)"
    )
    exit_rules: ExitRulesIn | None = None
    confirmation: ConfirmationIn | None = None

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [s.strip().upper() for s in value]
        bad = [s for s in cleaned if not SYMBOL.match(s)]
        if bad:
            raise ValueError(f"symbols must be unified symbols like 'ETH/BTC': {bad}")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("symbols must be distinct")
        return cleaned

    @model_validator(mode="after")
    def _one_strategy(self) -> BacktestCreate:
        if (self.strategy is None) == (self.strategy_id is None):
            raise ValueError("give either strategy (a built-in name, with params) or strategy_id")
        if self.strategy_id is not None and self.params is not None:
            raise ValueError("params come from the strategy's definition when strategy_id is given")
        return self


class BacktestAccepted(BaseModel):
    id: int
    status: str
    url: str


class BacktestSummary(BaseModel):
    id: int
    strategy_id: int | None
    strategy_name: str
    params: dict[str, Any]
    config: dict[str, Any]
    symbols: list[str]
    timeframe: str
    status: str = Field(description="queued, running, done or failed")
    progress: float = Field(description="0 to 1")
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class BacktestOut(BacktestSummary):
    result: dict[str, Any] | None = Field(
        default=None, description="when done: path, report, trades and the equity curve (thinned)"
    )


@router.post(
    "/backtests", response_model=BacktestAccepted, status_code=status.HTTP_202_ACCEPTED, responses={404: {}}
)
async def create_backtest(
    body: BacktestCreate, request: Request, runtime: RuntimeDep, user: CurrentUser
) -> BacktestAccepted:
    """Start a backtest; it runs in the background (one at a time, others wait in line). Poll
    GET /backtests/{id} until its status is done or failed."""
    service = runtime.backtests
    fields: dict[str, Any] = {}
    try:
        if body.strategy_id is not None:
            fields = await service.resolve(user.id, body.strategy_id)
            fields["strategy_id"] = body.strategy_id
        else:
            fields = {"strategy": body.strategy, "params": body.params or {}}
        if body.symbols is not None:
            fields["symbols"] = tuple(body.symbols)
        if body.timeframe is not None:
            fields["timeframe"] = body.timeframe
        if body.confirmation is not None:
            fields["confirmation"] = body.confirmation.domain()
        for name in ("symbols", "timeframe"):
            if name not in fields:
                raise BacktestInputError(f"give {name}: the request (or the strategy's definition) has none")
        backtest = BacktestRequest(
            **fields,
            start=None if body.start is None else utc(body.start),
            end=None if body.end is None else utc(body.end),
            capital=body.capital,
            fee=body.fee,
            slippage=body.slippage,
            stake=body.stake,
            exit_rules=body.exit_rules.domain() if body.exit_rules else ExitRules(),
        )
        backtest_id = await service.submit(user.id, backtest)
    except BacktestInputError as exc:
        raise HTTPException(422, str(exc)) from exc
    url = str(request.url_for("get_backtest", backtest_id=backtest_id))
    return BacktestAccepted(id=backtest_id, status="queued", url=url)


@router.get("/backtests/{backtest_id}", response_model=BacktestOut)
async def get_backtest(backtest_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> BacktestOut:
    """One of your backtests: status, progress, error, and the result once done."""
    return BacktestOut(**await asyncio.to_thread(runtime.backtests.store.get, user.id, backtest_id))


@router.get(
    "/backtests/{backtest_id}/equity.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "price and trades, equity curve and drawdown"},
        409: {"description": "not finished, or its stored result cannot be charted"},
    },
)
async def backtest_equity_png(backtest_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> Response:
    """A finished backtest's chart (PNG): the price with its trades, the equity curve in the quote
    currency and the drawdown, on dated axes."""
    row = await asyncio.to_thread(runtime.backtests.store.get, user.id, backtest_id)
    if row["status"] != "done" or not row["result"]:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"backtest {backtest_id} is {row['status']}: no equity curve yet"
        )
    try:
        png = await asyncio.to_thread(runtime.backtest_chart_png, row)
    except (KeyError, TypeError, ValueError) as exc:
        # A result stored by an older version (or damaged) is a conflict to report, never a 500.
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"backtest {backtest_id}'s stored result cannot be charted: {exc}"
        ) from exc
    return Response(content=png, media_type="image/png")


class BacktestCandlesOut(BaseModel):
    symbol: str
    timeframe: str
    bar_ms: int = Field(description="the time one bar spans: the timeframe, or more when merged")
    ts_ms: list[int] = Field(description="bar open times, ms since the epoch (UTC)")
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]


@router.get(
    "/backtests/{backtest_id}/candles", response_model=BacktestCandlesOut, responses={409: {}, 422: {}}
)
async def backtest_candles_of(
    backtest_id: DbId,
    runtime: RuntimeDep,
    user: CurrentUser,
    symbol: Annotated[str, Query(pattern=SYMBOL.pattern, description="one of the backtest's symbols")],
) -> BacktestCandlesOut:
    """The candles one of your backtests ran on for `symbol`, over its window, to draw its trades on:
    at most 2,000 bars (consecutive candles merged into one bar when there are more). 422 for a symbol
    it did not test or candles no longer on this server; 409 for a backtest whose stored settings
    cannot be read."""
    try:
        candles = await asyncio.to_thread(backtest_candles, runtime.backtests, user.id, backtest_id, symbol)
    except BacktestInputError as exc:
        raise HTTPException(422, str(exc)) from exc
    except (KeyError, TypeError, ValueError) as exc:
        # A backtest stored by an older version (or damaged) is a conflict to report, never a 500.
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"backtest {backtest_id}'s stored settings cannot be read: {exc}"
        ) from exc
    step = timeframe_ms(candles.timeframe)
    bar_ms = int(candles.ts[1] - candles.ts[0]) if len(candles) > 1 else step
    return BacktestCandlesOut(
        symbol=symbol,
        timeframe=candles.timeframe,
        bar_ms=max(bar_ms, step),
        ts_ms=candles.ts.tolist(),
        open=candles.open.tolist(),
        high=candles.high.tolist(),
        low=candles.low.tolist(),
        close=candles.close.tolist(),
    )


@router.get("/strategies/{strategy_id}/backtests", response_model=list[BacktestSummary])
async def strategy_backtests(
    strategy_id: DbId, runtime: RuntimeDep, user: CurrentUser, page: PageQuery
) -> list[BacktestSummary]:
    """Your backtests filed under a strategy you can see, newest first (without their results)."""
    rows = await asyncio.to_thread(
        runtime.backtests.store.of_strategy, user.id, strategy_id, page.limit, page.before_id
    )
    return [BacktestSummary(**row) for row in rows]
