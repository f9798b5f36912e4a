"""Backtests on the same domain code as live trading: an event-driven engine and its fast path (no I/O).

result = run_backtest(strategy, {"ETH/BTC": candles}, BacktestConfig(exit_rules=rules))
result.trades, result.ts_ms, result.equity, result.report, result.to_json()
"""

from tradewire.domain.backtest.engine import run_backtest
from tradewire.domain.backtest.model import END, BacktestConfig, BacktestResult

__all__ = ["END", "BacktestConfig", "BacktestResult", "run_backtest"]
