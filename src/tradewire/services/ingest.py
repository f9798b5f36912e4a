"""Signal ingest: authenticate, parse, resolve the market, store once, then hand over to routing."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import InitVar, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradewire import failpoints
from tradewire.domain.alerts.tradingview import AlertError, ParsedAlert, parse_alert
from tradewire.domain.money import fmt
from tradewire.domain.records import NewSignal, StoredSignal, StrategyVenues
from tradewire.domain.signals import SignalAction, SignalIntent
from tradewire.ports import Bus, Clock, SecretCheck, SignalStore, SymbolResolver
from tradewire.services.passphrases import PassphraseChecks, Throttled

log = logging.getLogger("tradewire.ingest")

SIGNAL_RECEIVED = "signal.received"


class IngestRejected(Exception):
    """A request that creates nothing; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after_s = retry_after_s  # with 429: when to try again


@dataclass(frozen=True, slots=True)
class Ingested:
    signal_id: int
    duplicate: bool
    symbol: str | None  # None: resolved when routed (a venue's market list was not loaded yet)
    action: str


# A strategy nobody subscribes to (yet) keeps its record on the paper market's list.
PAPER_ONLY = StrategyVenues(paper=True)


@dataclass(slots=True, eq=False)
class SignalIngest:
    """Turns one webhook request into at most one stored signal; `verify` checks a passphrase against
    its stored hash (scrypt, behind PassphraseChecks' bounds)."""

    store: SignalStore
    symbols: SymbolResolver
    bus: Bus
    clock: Clock
    verify: InitVar[SecretCheck]
    _passphrases: PassphraseChecks = field(init=False)

    def __post_init__(self, verify: SecretCheck) -> None:
        self._passphrases = PassphraseChecks(verify)

    async def receive_tradingview(
        self,
        slug: str,
        body: bytes,
        content_type: str | None,
        url_passphrase: str | None,
        client: str | None = None,
        blocked_s: int | None = None,
    ) -> Ingested:
        """Store the alert as a signal (or find its first delivery); raises IngestRejected.

        Everything before the passphrase check is bounded by the body's size (parse_alert), and the
        check itself by PassphraseChecks, per `client` address and overall. `blocked_s`: the client
        spent its wrong guesses for this strategy, so a wrong passphrase answers 429 (retry after that)
        instead of 401; the right one is still accepted, so guesses sent through a shared address
        (TradingView's) never hold back the owner's real alerts."""
        strategy = await asyncio.to_thread(self.store.webhook_strategy, slug)
        if strategy is None:
            raise self._reject(404, f"no strategy with webhook slug {slug!r}", slug)
        strategy_id, passphrase_hash = strategy.strategy_id, strategy.passphrase_hash
        try:
            alert = parse_alert(body, content_type)
        except AlertError as exc:
            if url_passphrase is not None and not await self._verify(
                strategy_id, client, url_passphrase, passphrase_hash, slug, blocked_s
            ):
                raise self._reject(401, "wrong passphrase", slug) from exc
            raise self._reject(400, str(exc), slug) from exc
        passphrase = url_passphrase if url_passphrase is not None else alert.passphrase
        if not passphrase:
            raise self._reject(
                401, 'missing passphrase: put "passphrase" in the alert body or ?passphrase= in the URL', slug
            )
        if not await self._verify(strategy_id, client, passphrase, passphrase_hash, slug, blocked_s):
            raise self._reject(401, "wrong passphrase", slug)
        if strategy.owner_disabled:
            raise self._reject(403, "the strategy's owner is disabled: its alerts are not accepted", slug)
        intent = alert.intent
        symbol = await self._resolve(strategy_id, intent.ticker, slug)
        now = self.clock.now()
        signal = NewSignal(
            strategy_id=strategy_id,
            dedup_key=_dedup_key(alert.dedup_material, alert.has_timestamp, now),
            action=intent.action,
            ticker=intent.ticker,
            symbol=symbol,
            contracts=intent.contracts,
            price=intent.price,
            signal_time=intent.signal_time,
            details=_details(alert.intent),
            received_at=now,
        )
        signal_id, created = await asyncio.to_thread(self._store_once, signal, alert)
        failpoints.hit("after_signal_stored")
        if created:
            await self.bus.publish(SIGNAL_RECEIVED, {"signal_id": signal_id})
            log.info(
                "signal %s stored: %s %s (strategy %s)",
                signal_id,
                intent.action.value,
                symbol or f"{intent.ticker!r} (resolved when routed)",
                slug,
            )
        else:
            log.info("signal %s delivered again (strategy %s): ignored", signal_id, slug)
        return Ingested(signal_id, not created, symbol or None, intent.action.value)

    async def _resolve(self, strategy_id: int, ticker: str, slug: str) -> str:
        """The unified symbol of `ticker` on a venue the strategy's subscribers trade on; "" when no
        loaded list has it but a venue's list is not loaded yet (the signal is kept and routing decides
        per subscriber, once the list is there); raises 422 when every list is known and none has it."""
        if not ticker.strip():
            raise self._reject(422, "ticker is empty", slug)
        venues = await asyncio.to_thread(self.store.strategy_venues, strategy_id)
        resolution = self.symbols.resolve(PAPER_ONLY if venues.empty else venues, ticker)
        if resolution.refused:
            raise self._reject(422, resolution.explain(ticker), slug)
        return resolution.symbol or ""

    async def receive_strategy_signal(
        self,
        strategy_id: int,
        action: SignalAction,
        symbol: str,
        price: Decimal,
        signal_time: datetime,
        details: dict[str, Any],
        dedup_material: str,
    ) -> Ingested:
        """Store a signal of one of the platform's own strategies (an indicator strategy or a bot) and
        route it like a webhook's: once per `dedup_material` (the strategy, pair, timeframe and candle),
        so a restart that evaluates the same candle again changes nothing."""
        signal = NewSignal(
            strategy_id=strategy_id,
            dedup_key=_sha(dedup_material),
            action=action,
            ticker=symbol,
            symbol=symbol,
            contracts=None,
            price=price,
            signal_time=signal_time,
            details=details,
            received_at=self.clock.now(),
        )
        signal_id, created = await asyncio.to_thread(self.store.insert_signal, signal)
        if created:
            await self.bus.publish(SIGNAL_RECEIVED, {"signal_id": signal_id})
            log.info("signal %s from strategy %s: %s %s", signal_id, strategy_id, action.value, symbol)
        return Ingested(signal_id, not created, symbol, action.value)

    def _store_once(self, signal: NewSignal, alert: ParsedAlert) -> StoredSignal:
        """Alerts with a time of their own are duplicates forever; alerts without one, within the
        strategy's duplicate window after an identical stored alert."""
        if alert.has_timestamp:
            return self.store.insert_signal(signal)
        return self.store.insert_signal_in_window(signal, _sha(alert.dedup_material))

    async def _verify(
        self,
        strategy_id: int,
        client: str | None,
        passphrase: str,
        stored: str,
        slug: str,
        blocked_s: int | None = None,
    ) -> bool:
        try:
            matched = await self._passphrases.check(strategy_id, client, passphrase, stored)
        except Throttled as exc:
            raise self._reject(429, str(exc), slug, exc.retry_after_s) from exc
        if not matched and blocked_s is not None:
            raise self._reject(
                429, "too many wrong passphrases for this strategy from this address", slug, blocked_s
            )
        return matched

    @staticmethod
    def _reject(status: int, message: str, slug: str, retry_after_s: int | None = None) -> IngestRejected:
        log.warning("webhook for %r rejected (%s): %s", slug, status, message)
        return IngestRejected(status, message, retry_after_s)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _dedup_key(material: str, has_timestamp: bool, now: datetime) -> str:
    """The unique key: the content for alerts with a time; for the others, also the moment it was
    stored (their window is checked on the content key)."""
    return _sha(material if has_timestamp else f"{material}|{now.isoformat()}")


def _details(intent: SignalIntent) -> dict[str, Any]:
    fields = {
        "ticker": intent.ticker,
        "exchange": intent.exchange,
        "interval": intent.interval,
        "order_id": intent.order_id,
        "comment": intent.comment,
        "market_position": intent.market_position.value if intent.market_position else None,
        "prev_market_position": intent.prev_market_position.value if intent.prev_market_position else None,
        "market_position_size": fmt(intent.market_position_size),
        "prev_market_position_size": fmt(intent.prev_market_position_size),
        "stop_loss": fmt(intent.stop_loss),
        "take_profit": fmt(intent.take_profit),
        "order_type": intent.order_type.value if intent.order_type else None,
    }
    return {k: v for k, v in fields.items() if v is not None}
