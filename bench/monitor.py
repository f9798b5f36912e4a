"""Benchmark: the position exit monitor (ExitBook) checking every open position on each price update.

N open positions (1,000, 10,000, 100,000) spread over 200 symbols, with random stop loss, take
profit, trailing stop and time limit around realistic prices (seeded). Each batch brings a new price
for every symbol (a random walk, so a realistic few positions trigger); triggered positions are
replaced by new ones outside the timed section, keeping N constant. Prints, per N:
  1. `evaluate` time per batch, min and median in ms (target < 10 ms at 100,000), the growth ratio
     of the median against the previous N (10x more positions), and the triggers per batch;
  2. the time to add one position (`upsert`), in µs;
then `evaluate_bars` (one candle per symbol) at the largest N.

    .venv/bin/python bench/monitor.py [--runs 5] [--batches 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tradewire.domain.exits import ExitBook, ExitLevels, ExitRules, Side, Triggers  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
SYMBOLS = 200
STEP_S = 1.0  # one price batch per second
VOLATILITY = 0.0001  # per batch: 1 bp a second, about 3 % a day
TARGET_MS = 10.0


class Market:
    """Prices of all symbols as a seeded random walk, and random positions opened at them."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.symbols = [f"C{i:03d}/USDT" for i in range(SYMBOLS)]
        self.prices = np.exp(self.rng.uniform(np.log(0.05), np.log(60_000.0), SYMBOLS))
        self.now = 1_700_000_000.0
        self.next_id = 0

    def step(self) -> dict[str, float]:
        self.prices *= np.exp(self.rng.normal(0.0, VOLATILITY, SYMBOLS))
        self.now += STEP_S
        return dict(zip(self.symbols, self.prices.tolist(), strict=True))

    def bars(self) -> dict[str, tuple[float, float, float, float]]:
        """One one-minute candle per symbol: 60 steps of the walk."""
        walk = self.prices[:, None] * np.exp(
            np.cumsum(self.rng.normal(0.0, VOLATILITY, (SYMBOLS, 60)), axis=1)
        )
        self.prices = walk[:, -1].copy()
        self.now += 60 * STEP_S
        opens, highs, lows, closes = walk[:, 0], walk.max(axis=1), walk.min(axis=1), walk[:, -1]
        return {
            symbol: (float(o), float(h), float(lo), float(c))
            for symbol, o, h, lo, c in zip(self.symbols, opens, highs, lows, closes, strict=True)
        }

    def open_position(self, book: ExitBook) -> None:
        rng = self.rng
        code = int(rng.integers(SYMBOLS))
        side: Side = "long" if rng.random() < 0.7 else "short"
        trailing = rng.random() < 0.5
        rules = ExitRules(
            stop_loss_pct=Decimal(f"{rng.uniform(0.5, 5):.2f}"),
            take_profit_pct=Decimal(f"{rng.uniform(1, 10):.2f}"),
            trailing_pct=Decimal(f"{rng.uniform(0.5, 3):.2f}") if trailing else None,
            trailing_activation_pct=Decimal(f"{rng.uniform(0.5, 2):.2f}")
            if trailing and rng.random() < 0.5
            else None,
            max_hold_s=int(rng.integers(3600, 7 * 86400)) if rng.random() < 0.7 else None,
        )
        entry = self.prices[code]  # a market entry at the current price
        opened_at = self.now - float(rng.uniform(0, 86400))  # some positions near their time limit
        levels: ExitLevels = rules.levels(side, Decimal(f"{entry:.8g}"), opened_at)
        book.upsert(self.next_id, self.symbols[code], levels)
        self.next_id += 1


def replace_triggered(book: ExitBook, market: Market, triggers: Triggers) -> None:
    for position_id in triggers.position_ids.tolist():
        book.remove(position_id)
        market.open_position(book)


def filled_book(size: int, seed: int) -> tuple[ExitBook, Market, float]:
    """A book of `size` positions and the µs it took to add one."""
    market = Market(seed)
    book = ExitBook()
    started = time.perf_counter()
    for _ in range(size):
        market.open_position(book)
    per_add_us = (time.perf_counter() - started) * 1e6 / size
    # Settle: positions already beyond a level at the start would all trigger in the first batch.
    replace_triggered(book, market, book.evaluate(market.step(), market.now))
    return book, market, per_add_us


def time_evaluate(
    size: int, runs: int, batches: int, bars: bool = False, seed: int = 0
) -> tuple[list[float], list[int], float]:
    """Per batch: ms to evaluate (`bars`: one candle per symbol, else one price each) and positions
    triggered; and the median µs to add a position."""
    timings, triggered, adds = [], [], []
    for run in range(runs):
        book, market, per_add_us = filled_book(size, seed=seed + run)
        adds.append(per_add_us)
        evaluate = book.evaluate_bars if bars else book.evaluate
        for _ in range(batches):
            moves = market.bars() if bars else market.step()
            started = time.perf_counter()
            triggers = evaluate(moves, market.now)
            timings.append((time.perf_counter() - started) * 1000)
            triggered.append(len(triggers))
            replace_triggered(book, market, triggers)
            assert len(book) == size
    return timings, triggered, statistics.median(adds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="fresh books per size")
    parser.add_argument("--batches", type=int, default=100, help="price batches per run")
    args = parser.parse_args()
    print(
        f"exit monitor benchmark: {SYMBOLS} symbols, {args.runs} runs x {args.batches} batches per N "
        f"(numpy {np.__version__})"
    )
    header = (
        f"{'N positions':>12} {'min ms':>9} {'median ms':>10} {'growth':>7} {'triggers':>9} {'add µs':>7}"
    )
    print("ExitBook.evaluate, one price per symbol per batch (target < 10 ms at 100,000)")
    print(header)
    previous: float | None = None
    medians: dict[int, float] = {}
    for size in SIZES:
        timings, triggered, add_us = time_evaluate(size, args.runs, args.batches)
        median = statistics.median(timings)
        medians[size] = median
        growth = f"{median / previous:6.1f}x" if previous else f"{'-':>7}"
        print(
            f"{size:>12,} {min(timings):9.3f} {median:10.3f} {growth} "
            f"{statistics.mean(triggered):9.1f} {add_us:7.1f}"
        )
        previous = median
    largest = SIZES[-1]
    bar_timings, bar_triggered, _ = time_evaluate(
        largest, max(1, args.runs // 2), max(10, args.batches // 4), bars=True, seed=100
    )
    print("ExitBook.evaluate_bars, one candle per symbol per batch")
    print(header)
    print(
        f"{largest:>12,} {min(bar_timings):9.3f} {statistics.median(bar_timings):10.3f} {'-':>7} "
        f"{statistics.mean(bar_triggered):9.1f} {'':>7}"
    )
    verdict = "met" if medians[largest] < TARGET_MS else "MISSED"
    print(f"target < {TARGET_MS:g} ms per batch at {largest:,}: {verdict} (median {medians[largest]:.3f} ms)")


if __name__ == "__main__":
    main()
