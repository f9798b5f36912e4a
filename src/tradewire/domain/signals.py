"""Trading signals as the rest of the platform sees them, whatever their source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tradewire.domain.orders import OrderType


class SignalAction(StrEnum):
    """What the signal asks for. EXIT flattens the position whatever its side."""

    BUY = "buy"
    SELL = "sell"
    EXIT = "exit"


class MarketPosition(StrEnum):
    """The strategy's position after (or before) the signal, as TradingView reports it."""

    LONG = "long"
    SHORT = "short"
    FLAT = "flat"


@dataclass(frozen=True, slots=True)
class SignalIntent:
    """A parsed signal before its ticker is resolved to a market.

    `ticker` is the source's raw text (e.g. 'BINANCE:BTCUSDT.P'); `contracts` and `price` are the
    provider's own order size and price, which subscribers may or may not follow.
    """

    action: SignalAction
    ticker: str
    contracts: Decimal | None = None
    price: Decimal | None = None
    stop_loss: Decimal | None = None  # absolute price levels the provider asks the position to keep
    take_profit: Decimal | None = None
    market_position: MarketPosition | None = None
    prev_market_position: MarketPosition | None = None
    market_position_size: Decimal | None = None
    prev_market_position_size: Decimal | None = None
    exchange: str | None = None
    interval: str | None = None
    order_id: str | None = None
    signal_time: datetime | None = None
    comment: str | None = None
    order_type: OrderType | None = None  # the provider's order: market, or limit at `price`

    @property
    def exit_ratio(self) -> tuple[Decimal, Decimal]:
        """Share of a long position a SELL closes, as (sold, before): all of it, (1, 1), unless the
        strategy stays long with less. Kept as two numbers so `amount × sold ÷ before` stays exact."""
        if (
            self.action is SignalAction.SELL
            and self.market_position is MarketPosition.LONG
            and self.prev_market_position_size
            and self.market_position_size is not None
            and 0 < self.market_position_size < self.prev_market_position_size
        ):
            return self.prev_market_position_size - self.market_position_size, self.prev_market_position_size
        return Decimal(1), Decimal(1)

    @property
    def exit_fraction(self) -> Decimal:
        """exit_ratio as one (rounded) number, for display."""
        sold, before = self.exit_ratio
        return sold / before
