"""What the platform keeps of signals and of the strategies they come from (adapters/store/signals.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from tradewire.domain.records import (
    LiveVenue,
    NewSignal,
    PlatformStrategy,
    SignalRoute,
    StoredSignal,
    StrategyVenues,
    WebhookStrategy,
)


class SignalStore(Protocol):
    """Signals stored once (by dedup key or content window) and their routing status; the strategies
    they come from and the venues their subscribers trade on. Every method is one transaction."""

    def webhook_strategy(self, slug: str) -> WebhookStrategy | None:
        """The strategy of a webhook slug, with its passphrase hash and whether its owner is disabled."""

    def find_signal(self, strategy_id: int, dedup_keys: Sequence[str]) -> int | None: ...

    def insert_signal(self, signal: NewSignal) -> StoredSignal:
        """Store a signal; returns (id, True), or (first id, False) if the same signal came before."""

    def insert_signal_in_window(self, signal: NewSignal, content_key: str) -> StoredSignal:
        """Store a signal unless one with the same content was stored at most the strategy's
        `dedup_window_s` seconds before it; returns (id, True) or (that earlier id, False).

        The window slides exactly from each stored signal (not from clock buckets); two deliveries of
        one alert at the same moment cannot both pass the check."""

    def signal_route_info(self, signal_id: int) -> SignalRoute | None:
        """The strategy, symbol and status of a signal."""

    def signal_ticker(self, signal_id: int) -> str | None:
        """The ticker a signal arrived with."""

    def resolve_signal(self, signal_id: int, symbol: str) -> None:
        """Give a signal stored before its ticker could be resolved the symbol it resolved to."""

    def unrouted_signal_ids(self, received_before: datetime | None = None) -> list[int]: ...

    def routing_failed(self, signal_id: int, reason: str, attempts_allowed: int, now: datetime) -> bool:
        """Count a failed routing attempt; at `attempts_allowed` the signal is marked failed with the
        reason and no longer swept. Returns True when it was marked failed."""

    def strategy_venues(self, strategy_id: int) -> StrategyVenues:
        """Where the strategy's active subscribers trade: whether any is on paper (one row at most,
        however many), and each live account. Asked on every webhook."""

    def live_venues_in_use(self) -> list[LiveVenue]:
        """Every live account with an active subscription (their market lists are kept loaded)."""

    def strategy_definitions(self) -> list[PlatformStrategy]:
        """Every strategy the platform runs itself (indicator strategies, bots), with its definition."""

    def last_signal_at(self, strategy_id: int, symbol: str) -> datetime | None:
        """When the strategy last signalled on the pair (its cooldown starts there)."""
