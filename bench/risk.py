"""Micro-benchmark: `assess_entry` per entry, the call a fan-out makes once per subscriber.

A webhook fanned out to thousands of subscribers assesses thousands of entries; the approved common
case must stay cheap (no explanation strings built). Prints the time per call, best of repeated runs,
for a typical approval, an approval on a losing day with drawdown and R/R measured, and a rejection
(which does build every explanation).

    .venv/bin/python bench/risk.py [--calls 200000] [--runs 7]
"""

from __future__ import annotations

import argparse
import sys
import timeit
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tradewire.domain.risk import RiskContext, RiskLimits, assess_entry  # noqa: E402

LIMITS = RiskLimits(max_position_quote=Decimal(5_000), max_signal_age_s=300)
QUIET = RiskContext(
    open_positions_subscription=2,
    open_positions_account=5,
    realized_today=Decimal(0),
    equity=Decimal(10_000),
    signal_age_s=0.4,
    notional=Decimal(1_000),
)
CASES = {
    "approved, quiet day": QUIET,
    "approved, losing day, all measured": replace(
        QUIET,
        realized_today=Decimal(-120),
        since_last_trade_s=3_600.0,
        drawdown_pct=Decimal(3),
        strategy_drawdown_pct=Decimal(4),
        correlated=(("ETH/USDT", 0.8),),
        risk_reward=Decimal(2),
    ),
    "rejected (positions full)": replace(QUIET, open_positions_subscription=20),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    for name, context in CASES.items():

        def call(context: RiskContext = context) -> None:
            assess_entry(LIMITS, context)

        timer = timeit.Timer(call)
        best = min(timer.repeat(repeat=args.runs, number=args.calls)) / args.calls
        print(f"{name:38s} {best * 1e9:8.0f} ns per assess_entry")


if __name__ == "__main__":
    main()
