"""1-second candles built from an exchange's public trades (pure: the stream lives in adapters/).

`SecondCandles` keeps a rolling buffer of closed 1 s candles for one symbol, with the taker buy and
sell volume of each (from each trade's `side`), in exact decimals. The rules:

- **Every second is a candle.** A second with no trade closes as a candle at the last close with zero
  volume (open = high = low = close = the last close, `trades` 0), so a 1 s strategy sees every second.
  Before the first trade (and after a gap, until the first trade after it) there is no last close,
  and no candle is made up.
- **A closed candle never changes.** A second closes when the clock passes its end (the caller
  passes `now` minus a grace for trades still on the wire) or when a trade of a later second
  arrives. A trade for a second already closed is **late**: it is counted (`late`) and left out,
  since a strategy may already have acted on that candle. (Before the first trade nothing closes:
  no candle was made for those seconds.)
- **Duplicates** (the same trade id again, e.g. replayed after a reconnect) are counted and ignored;
  the ids remembered are bounded (the most recent `ids_kept`).
- **Gaps.** When the stream broke, the trades missed are unknown: `gap()` drops the buffer and the
  candle being built, so nothing is evaluated across the gap; the second it happened in is closed
  (its later trades are late), and candles start again from the first trade after it. A reader
  gets candles only once as many as it asks for exist since the last gap: `closed(limit)` is None
  until `min(limit, capacity)` of them do (a strategy reads its `history`, 200 or more).
- **Bounded.** At most `capacity` closed candles are kept (the oldest go first).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import numpy as np

from tradewire.domain.candles import Candles

SECOND_MS = 1_000
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """One public trade: its exchange id, time (ms), price, base amount and taker side (None: unknown)."""

    id: str
    ts: int
    price: Decimal
    amount: Decimal
    side: str | None  # "buy" | "sell": the taker's side

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a trade needs its id")
        if not self.price.is_finite() or self.price <= 0:
            raise ValueError(f"trade {self.id}: price must be positive, got {self.price}")
        if not self.amount.is_finite() or self.amount < 0:
            raise ValueError(f"trade {self.id}: amount must not be negative, got {self.amount}")
        if self.side not in ("buy", "sell", None):
            raise ValueError(f"trade {self.id}: side must be buy, sell or unknown, got {self.side!r}")


@dataclass(frozen=True, slots=True)
class SecondCandle:
    """One closed second: OHLCV and the taker buy/sell volume, exact; `trades` 0: no trade in it."""

    ts: int  # open time, ms, a multiple of 1000
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    buy_volume: Decimal
    sell_volume: Decimal
    trades: int

    @property
    def sides_known(self) -> bool:
        """Every trade in it had a side (buy + sell = volume)."""
        return self.buy_volume + self.sell_volume == self.volume


class Outcome(StrEnum):
    ADDED = "added"
    DUPLICATE = "duplicate"
    LATE = "late"


class _Building:
    """The second being built (exact sums)."""

    __slots__ = ("buy", "close", "high", "low", "open", "sell", "trades", "ts", "volume")

    def __init__(self, ts: int, trade: PublicTrade) -> None:
        self.ts = ts
        self.open = self.high = self.low = self.close = trade.price
        self.volume = self.buy = self.sell = _ZERO
        self.trades = 0
        self.add(trade)

    def add(self, trade: PublicTrade) -> None:
        self.high = max(self.high, trade.price)
        self.low = min(self.low, trade.price)
        self.close = trade.price
        self.volume += trade.amount
        if trade.side == "buy":
            self.buy += trade.amount
        elif trade.side == "sell":
            self.sell += trade.amount
        self.trades += 1

    def closed(self) -> SecondCandle:
        return SecondCandle(
            self.ts, self.open, self.high, self.low, self.close, self.volume, self.buy, self.sell, self.trades
        )


class SecondCandles:
    """The rolling buffer of one symbol's closed 1 s candles (see the module doc for the rules).

    Trades must be added in the order the stream gives them; within a second any order is fine.
    """

    def __init__(self, symbol: str, capacity: int = 2_000, ids_kept: int = 20_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if ids_kept < 1:
            raise ValueError("ids_kept must be at least 1")
        self.symbol = symbol
        self.capacity = capacity
        self._candles: deque[SecondCandle] = deque(maxlen=capacity)
        self._building: _Building | None = None
        self._last_close: Decimal | None = None
        self._closed_until = -1  # every second opening before this (ms) is closed
        self._ids: set[str] = set()
        self._id_order: deque[str] = deque()
        self._ids_kept = ids_kept
        self.added = 0
        self.duplicates = 0
        self.late = 0
        self.gaps = 0
        self._cache: tuple[int, int, Candles] | None = None  # (first ts, last ts, candles)

    # ------------------------------------------------------------------ input

    def add(self, trade: PublicTrade) -> Outcome:
        """Take one trade from the stream: added to its second, a duplicate, or late (counted, left out)."""
        if trade.id in self._ids:
            self.duplicates += 1
            return Outcome.DUPLICATE
        self._remember(trade.id)
        second = trade.ts - trade.ts % SECOND_MS
        if second < self._closed_until:
            self.late += 1
            return Outcome.LATE
        building = self._building
        if building is None or second > building.ts:
            # A later second's trade: the earlier seconds are complete (the stream is in order).
            self._close_through(second)
            self._building = _Building(second, trade)
        else:
            building.add(trade)
        self.added += 1
        return Outcome.ADDED

    def close_until(self, now_ms: int) -> None:
        """Close every second that ended at or before `now_ms` (seconds with no trade at the last close).

        Before the first trade (or the first after a gap) there is nothing to close: no candle is made,
        so a trade of those seconds arriving later is not late."""
        if self._building is None and self._last_close is None:
            return
        end = now_ms - now_ms % SECOND_MS  # seconds opening before this have ended
        if end > self._closed_until:
            self._close_through(end)

    def gap(self, now_ms: int) -> None:
        """The stream broke: trades were missed. Drop every candle and the one being built; the
        current second (`now_ms`'s, partly missed) counts as closed, so its trades are late."""
        self._closed_until = max(self._closed_until, now_ms - now_ms % SECOND_MS + SECOND_MS)
        self._candles.clear()
        self._building = None
        self._last_close = None
        self._cache = None
        self.gaps += 1

    # ------------------------------------------------------------------ output

    def __len__(self) -> int:
        return len(self._candles)

    def history(self) -> list[SecondCandle]:
        """The closed candles kept, oldest first (exact)."""
        return list(self._candles)

    def closed(self, limit: int) -> Candles | None:
        """The latest `limit` closed candles as `Candles` (timeframe 1s), with `buy_volume` when every
        trade in them had a side; None until `min(limit, capacity)` candles exist since the last gap."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        need = min(limit, self.capacity)
        if len(self._candles) < need:
            return None
        candles = self._as_candles()
        return candles.rows(len(candles) - need, None)

    # ------------------------------------------------------------------ inside

    def _remember(self, trade_id: str) -> None:
        self._ids.add(trade_id)
        self._id_order.append(trade_id)
        if len(self._id_order) > self._ids_kept:
            self._ids.discard(self._id_order.popleft())

    def _close_through(self, end: int) -> None:
        """Close every second opening before `end` (ms, a whole second)."""
        start = self._closed_until
        building = self._building
        if building is not None and building.ts < end:
            self._fill_empty(start, building.ts)
            candle = building.closed()
            self._candles.append(candle)
            self._last_close = candle.close
            self._building = None
            start = building.ts + SECOND_MS
        if self._last_close is not None:
            self._fill_empty(start, end)
        self._closed_until = end

    def _fill_empty(self, start: int, end: int) -> None:
        """Empty candles at the last close for the seconds in [start, end) (at most `capacity` of them:
        older ones would leave the buffer at once)."""
        close = self._last_close
        if close is None or start < 0:
            return
        start = max(start, end - self.capacity * SECOND_MS)
        for ts in range(start, end, SECOND_MS):
            self._candles.append(SecondCandle(ts, close, close, close, close, _ZERO, _ZERO, _ZERO, 0))

    def _as_candles(self) -> Candles:
        first, last = self._candles[0].ts, self._candles[-1].ts
        if self._cache is not None and self._cache[:2] == (first, last):
            return self._cache[2]
        rows = self._candles
        columns = np.array(
            [(c.open, c.high, c.low, c.close, c.volume, c.buy_volume) for c in rows], dtype=np.float64
        )
        candles = Candles(
            symbol=self.symbol,
            timeframe="1s",
            ts=np.fromiter((c.ts for c in rows), dtype=np.int64, count=len(rows)),
            open=columns[:, 0],
            high=columns[:, 1],
            low=columns[:, 2],
            close=columns[:, 3],
            volume=columns[:, 4],
            buy_volume=columns[:, 5] if all(c.sides_known for c in rows) else None,
        )
        self._cache = (first, last, candles)
        return candles
