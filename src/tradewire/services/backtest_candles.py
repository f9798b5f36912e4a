"""The candles a backtest ran on, to chart its trades over them: one of its symbols, in its window,
merged into at most a given number of bars (the page draws a few thousand, not a year of minutes)."""

from __future__ import annotations

from tradewire.domain.candles import Candles, coarsened
from tradewire.services.backtests import BacktestInputError, BacktestService

MAX_BARS = 2_000


def backtest_candles(
    service: BacktestService, user_id: int, backtest_id: int, symbol: str, max_bars: int = MAX_BARS
) -> Candles:
    """`symbol`'s candles of the user's backtest (blocking: run it in a thread). NotFound for another
    user's backtest; BacktestInputError for a symbol it did not test or candles no longer here."""
    row = service.store.get(user_id, backtest_id, with_result=False)
    if symbol not in row["symbols"]:
        tested = ", ".join(row["symbols"])
        raise BacktestInputError(f"backtest {backtest_id} did not test {symbol}: only {tested}")
    series = service.candles_of({**row, "symbols": [symbol]})  # read that one file only
    if series is None:
        raise BacktestInputError(f"the candles of backtest {backtest_id} are no longer on this server")
    return coarsened(series[symbol], max_bars)
