"""Position sizing: how much a subscription buys on an entry signal.

Every method ends in the same cap, a maximum share of equity (20 % by default). Example: equity
10,000, risk 2 %, stop 5 % → fixed-fractional 4,000, capped at 20 % → 2,000.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradewire.domain.money import fmt

HUNDRED = Decimal(100)


class SizingMode(StrEnum):
    """fixed quote amount | % of equity | the signal's own size | fixed-fractional by risk | Kelly."""

    FIXED_QUOTE = "fixed_quote"
    EQUITY_PCT = "equity_pct"
    SIGNAL = "signal"
    RISK_PCT = "risk_pct"
    KELLY = "kelly"


class SizingError(ValueError):
    """The order size cannot be computed."""


@dataclass(frozen=True, slots=True)
class SizingParams:
    """The knobs beyond the mode's own value; safe defaults."""

    max_position_pct: Decimal = Decimal(20)  # cap for every method, % of equity
    stop_loss_pct: Decimal | None = None  # stop distance for risk-based sizing, % of entry price
    risk_pct: Decimal = Decimal(1)  # Kelly's fallback: fixed-fractional risk, % of equity
    min_trades_for_kelly: int = 20  # closed trades needed before Kelly replaces the fallback

    def __post_init__(self) -> None:
        if not 0 < self.max_position_pct <= HUNDRED:
            raise ValueError("max_position_pct must be in (0, 100]")
        if self.stop_loss_pct is not None and not 0 < self.stop_loss_pct < HUNDRED:
            raise ValueError("stop_loss_pct must be in (0, 100)")
        if not 0 < self.risk_pct <= HUNDRED:
            raise ValueError("risk_pct must be in (0, 100]")
        if self.min_trades_for_kelly < 1:
            raise ValueError("min_trades_for_kelly must be at least 1")

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SizingParams:
        if not data:
            return _DEFAULT_PARAMS  # most subscriptions: one shared instance (it is frozen)
        return cls(
            max_position_pct=Decimal(str(data.get("max_position_pct", "20"))),
            stop_loss_pct=_decimal(data.get("stop_loss_pct")),
            risk_pct=Decimal(str(data.get("risk_pct", "1"))),
            min_trades_for_kelly=int(data.get("min_trades_for_kelly", 20)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "max_position_pct": fmt(self.max_position_pct),
            "stop_loss_pct": fmt(self.stop_loss_pct),
            "risk_pct": fmt(self.risk_pct),
            "min_trades_for_kelly": self.min_trades_for_kelly,
        }


_DEFAULT_PARAMS = SizingParams()


@dataclass(frozen=True, slots=True)
class TradeStats:
    """A strategy's measured record over its closed positions (net of fees)."""

    wins: int = 0
    losses: int = 0
    average_win: Decimal = Decimal(0)
    average_loss: Decimal = Decimal(0)  # a positive number

    @classmethod
    def of(cls, results: Iterable[Decimal]) -> TradeStats:
        """The record of these net results (a result of exactly 0 counts as a loss of 0)."""
        values = list(results)
        wins = [x for x in values if x > 0]
        losses = [-x for x in values if x <= 0]
        return cls(
            wins=len(wins),
            losses=len(losses),
            average_win=sum(wins, Decimal(0)) / len(wins) if wins else Decimal(0),
            average_loss=sum(losses, Decimal(0)) / len(losses) if losses else Decimal(0),
        )

    @property
    def trades(self) -> int:
        return self.wins + self.losses

    def kelly(self) -> Decimal | None:
        """Full Kelly f* = W − (1 − W) ÷ R (W: win rate, R: average win ÷ average loss)."""
        if self.trades == 0 or self.average_loss <= 0 or self.average_win <= 0:
            return None
        win_rate = Decimal(self.wins) / self.trades
        payoff = self.average_win / self.average_loss
        return win_rate - (1 - win_rate) / payoff


@dataclass(frozen=True, slots=True)
class SizedEntry:
    """An entry's size and how it was reached (kept in the execution log next to the fill)."""

    amount: Decimal
    note: str


@dataclass(frozen=True, slots=True)
class Sizing:
    """A subscription's sizing rule.

    `value` means: quote units (fixed_quote), % of equity (equity_pct), a multiplier of the signal's
    contracts (signal), % of equity at risk (risk_pct), or the fraction of full Kelly (kelly, e.g.
    0.25).
    """

    mode: SizingMode
    value: Decimal
    params: SizingParams = field(default_factory=SizingParams)

    def __post_init__(self) -> None:
        if self.value <= 0:
            raise ValueError("sizing value must be positive")
        if self.mode in (SizingMode.EQUITY_PCT, SizingMode.RISK_PCT) and self.value > HUNDRED:
            raise ValueError("a percentage of equity must be at most 100")
        if self.mode is SizingMode.KELLY and self.value > 1:
            raise ValueError("the Kelly fraction must be at most 1 (0.25 is a quarter Kelly)")
        if self.mode in (SizingMode.RISK_PCT, SizingMode.KELLY) and self.params.stop_loss_pct is None:
            raise ValueError("risk-based sizing needs stop_loss_pct")

    @property
    def needs_stats(self) -> bool:
        return self.mode is SizingMode.KELLY

    def with_stop(self, price: Decimal, stop: Decimal | None) -> Sizing:
        """Risk-based sizing measured by the stop the position will really keep (the signal's level or
        the exit rules'), rather than the configured distance, when there is one below the price."""
        if stop is None or not 0 < stop < price or self.mode not in (SizingMode.RISK_PCT, SizingMode.KELLY):
            return self
        distance = (price - stop) / price * HUNDRED
        return replace(self, params=replace(self.params, stop_loss_pct=distance))

    def fits_cap_of(self, floor: Decimal, price: Decimal, contracts: Decimal | None) -> bool:
        """True if a size that needs no equity surely stays under the cap of any equity >= `floor`
        (so equity need not be valued asset by asset)."""
        if self.mode is SizingMode.FIXED_QUOTE:
            value = self.value
        elif self.mode is SizingMode.SIGNAL and contracts is not None:
            value = contracts * self.value * price
        else:
            return False
        return value <= floor * self.params.max_position_pct / HUNDRED

    def entry(
        self,
        price: Decimal,
        equity: Decimal | None,
        contracts: Decimal | None,
        stats: TradeStats | None = None,
        currency: str = "",
    ) -> SizedEntry:
        """The entry's base amount (before market rounding), capped, and how it was reached (every mode
        says so; `currency` names the quote in it); raises SizingError."""
        quote, how = self._quote_value(price, equity, contracts, stats or TradeStats())
        if self.mode is SizingMode.FIXED_QUOTE:
            how = " ".join(("fixed", fmt(self.value) or "", currency)).rstrip()
        if equity is None or equity <= 0:
            raise SizingError("account equity is zero or unknown")
        cap = equity * self.params.max_position_pct / HUNDRED
        if quote > cap:
            capped = f"capped at {fmt(self.params.max_position_pct)} % of equity = {fmt(cap)}"
            how = f"{how}, {capped}"
            quote = cap
        return SizedEntry(quote / price, how)

    def _quote_value(
        self, price: Decimal, equity: Decimal | None, contracts: Decimal | None, stats: TradeStats
    ) -> tuple[Decimal, str]:
        if self.mode is SizingMode.FIXED_QUOTE:
            return self.value, ""
        if self.mode is SizingMode.SIGNAL:
            if contracts is None:
                raise SizingError("the signal carries no contracts to copy (sizing mode 'signal')")
            amount = contracts * self.value
            return amount * price, f"signal {fmt(contracts)} × {fmt(self.value)}"
        if equity is None or equity <= 0:
            raise SizingError("account equity is zero or unknown")
        if self.mode is SizingMode.EQUITY_PCT:
            return equity * self.value / HUNDRED, f"{fmt(self.value)} % of equity {fmt(equity)}"
        stop = self.params.stop_loss_pct
        assert stop is not None
        if self.mode is SizingMode.RISK_PCT:
            return _fixed_fractional(equity, self.value, stop)
        kelly = stats.kelly()
        if stats.trades < self.params.min_trades_for_kelly or kelly is None:
            value, how = _fixed_fractional(equity, self.params.risk_pct, stop)
            return value, f"{how} (Kelly needs {self.params.min_trades_for_kelly} trades, has {stats.trades})"
        if kelly <= 0:
            raise SizingError(f"no edge: full Kelly is {kelly:.4f} over {stats.trades} trades")
        share = kelly * self.value
        return equity * share, (
            f"Kelly {kelly:.4f} × {fmt(self.value)} = {share * HUNDRED:.2f} % of equity {fmt(equity)} "
            f"({stats.wins} wins, {stats.losses} losses)"
        )


def _fixed_fractional(equity: Decimal, risk_pct: Decimal, stop_pct: Decimal) -> tuple[Decimal, str]:
    value = equity * risk_pct / stop_pct
    return value, f"equity {fmt(equity)} × risk {fmt(risk_pct)} % ÷ stop {fmt(stop_pct)} % = {fmt(value)}"


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
