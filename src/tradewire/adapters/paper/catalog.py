"""Demo spot markets in ccxt's unified format, with Binance's real steps, ticks and minimum notionals."""

from __future__ import annotations

from typing import Any

from tradewire.domain.markets import Market

# Binance spot charges 0.1 % maker and taker without BNB discounts or VIP tiers.
_FEE = 0.001


def _spot(
    symbol: str,
    *,
    amount_step: float,
    price_tick: float,
    min_cost: float,
    max_amount: float,
    max_price: float,
    max_cost: float = 9_000_000.0,
    market_id: str | None = None,
) -> dict[str, Any]:
    base, quote = symbol.split("/")
    return {
        "id": market_id or f"{base}{quote}",
        "symbol": symbol,
        "base": base,
        "quote": quote,
        "baseId": base,
        "quoteId": quote,
        "settle": None,
        "type": "spot",
        "spot": True,
        "margin": False,
        "swap": False,
        "future": False,
        "option": False,
        "contract": False,
        "active": True,
        "taker": _FEE,
        "maker": _FEE,
        # ccxt 4 reports precision as tick sizes (TICK_SIZE mode), not as decimal places.
        "precision": {"amount": amount_step, "price": price_tick},
        "limits": {
            # Binance's LOT_SIZE minQty equals the step, and PRICE_FILTER minPrice equals the tick.
            "amount": {"min": amount_step, "max": max_amount},
            "price": {"min": price_tick, "max": max_price},
            "cost": {"min": min_cost, "max": max_cost},
            "leverage": {"min": None, "max": None},
        },
        "info": {},
    }


DEMO_MARKETS: tuple[dict[str, Any], ...] = (
    _spot("BTC/USDT", amount_step=0.00001, price_tick=0.01, min_cost=5, max_amount=9000, max_price=1_000_000),
    _spot("ETH/USDT", amount_step=0.0001, price_tick=0.01, min_cost=5, max_amount=9000, max_price=1_000_000),
    _spot("SOL/USDT", amount_step=0.001, price_tick=0.01, min_cost=5, max_amount=9_000_000, max_price=10_000),
    _spot("BNB/USDT", amount_step=0.001, price_tick=0.01, min_cost=5, max_amount=900_000, max_price=100_000),
    _spot("XRP/USDT", amount_step=0.1, price_tick=0.0001, min_cost=5, max_amount=9_222_449, max_price=10_000),
    _spot("DOGE/USDT", amount_step=1, price_tick=0.00001, min_cost=5, max_amount=9_000_000, max_price=1_000),
    _spot("ADA/USDT", amount_step=0.1, price_tick=0.0001, min_cost=5, max_amount=900_000, max_price=1_000),
    _spot("LTC/USDT", amount_step=0.001, price_tick=0.01, min_cost=5, max_amount=900_000, max_price=100_000),
    _spot("BTC/USDC", amount_step=0.00001, price_tick=0.01, min_cost=5, max_amount=9000, max_price=1_000_000),
    _spot("ETH/USDC", amount_step=0.0001, price_tick=0.01, min_cost=5, max_amount=9000, max_price=1_000_000),
    _spot(
        "ETH/BTC",
        amount_step=0.0001,
        price_tick=0.00001,
        min_cost=0.0001,
        max_amount=100_000,
        max_price=922_327,
    ),
    _spot(
        "ADA/BTC",
        amount_step=1,
        price_tick=0.00000001,
        min_cost=0.0001,
        max_amount=90_000_000,
        max_price=1000,
    ),
    _spot(
        "NEO/BTC",
        amount_step=0.01,
        price_tick=0.000001,
        min_cost=0.0001,
        max_amount=90_000_000,
        max_price=1000,
    ),
    _spot(
        "XRP/BTC",
        amount_step=1,
        price_tick=0.00000001,
        min_cost=0.0001,
        max_amount=90_000_000,
        max_price=1000,
    ),
    # Modelled on Binance too, so the hourly Bitfinex BTC/USD history has a market to replay into.
    _spot("BTC/USD", amount_step=0.00001, price_tick=0.01, min_cost=5, max_amount=9000, max_price=1_000_000),
)

# Mutually consistent (BTC at 65,000 USDT fixes the /BTC crosses), so an all-simulated demo adds up.
SIMULATED_START_PRICES: dict[str, float] = {
    "BTC/USDT": 65_000.0,
    "ETH/USDT": 3_400.0,
    "SOL/USDT": 150.0,
    "BNB/USDT": 580.0,
    "XRP/USDT": 0.52,
    "DOGE/USDT": 0.15,
    "ADA/USDT": 0.45,
    "LTC/USDT": 80.0,
    "BTC/USDC": 65_000.0,
    "ETH/USDC": 3_400.0,
    "ETH/BTC": 0.0523,
    "ADA/BTC": 0.0000069,
    "NEO/BTC": 0.000185,
    "XRP/BTC": 0.000008,
    "BTC/USD": 65_000.0,
}


def demo_markets() -> dict[str, Market]:
    """The demo markets by unified symbol."""
    return {market["symbol"]: Market.from_ccxt(market) for market in DEMO_MARKETS}
