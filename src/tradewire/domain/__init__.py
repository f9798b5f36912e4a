"""Pure trading logic: no I/O, the same in backtests and live trading."""
