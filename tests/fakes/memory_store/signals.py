"""The twin's signals, routing and the strategies' track records (SqlStore's ingest and routing half)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from tests.fakes.memory_store.tables import Row, Tables, read
from tradewire.adapters.store.intents import intent_row
from tradewire.adapters.store.signals import live_venue, signal_row
from tradewire.adapters.store.track import pair_record, pair_row, partial_exit, trade_return
from tradewire.adapters.store.values import bounded_reason
from tradewire.domain.events import (
    Event,
    NewIntent,
    SignalFacts,
    signal_failed,
    signal_received,
    signal_routed,
)
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.records import (
    LiveVenue,
    NewSignal,
    PlatformStrategy,
    Routing,
    SignalRoute,
    StoredSignal,
    StrategyVenues,
    SubscriptionTarget,
    WebhookStrategy,
)
from tradewire.domain.signals import SignalAction
from tradewire.domain.track_record import PairRecord, StrategyCurve

log = logging.getLogger("tradewire.store")

ACTIVE = SubscriptionStatus.ACTIVE.value


class SignalsTwin:
    """Signals stored once, routed once, and counted in their strategy's track record."""

    tables: Tables

    def _with_events(self, now: datetime) -> AbstractContextManager[list[Event]]:
        raise NotImplementedError  # EventsTwin's

    def _owner(self, strategy_id: int) -> int | None:
        strategy = self.tables["strategies"].get(strategy_id)
        return strategy["owner_id"] if strategy else None

    def webhook_strategy(self, slug: str) -> WebhookStrategy | None:
        found = self.tables.where("strategies", slug=slug, source="tradingview")
        if not found:
            return None
        owner = self.tables["users"].get(found[0]["owner_id"])
        disabled = owner is not None and owner["disabled_at"] is not None
        return WebhookStrategy(found[0]["id"], found[0]["passphrase_hash"], disabled)

    def find_signal(self, strategy_id: int, dedup_keys: Sequence[str]) -> int | None:
        keys = set(dedup_keys)
        found = [
            s["id"] for s in self.tables.where("signals", strategy_id=strategy_id) if s["dedup_key"] in keys
        ]
        return found[0] if found else None

    def insert_signal(self, signal: NewSignal) -> StoredSignal:
        existing = self.find_signal(signal.strategy_id, [signal.dedup_key])
        if existing is not None:
            return StoredSignal(existing, False)
        with self._with_events(signal.received_at) as made:
            signal_id = self.tables.insert_new("signals", signal_row(signal))
            owner_id = self._owner(signal.strategy_id)
            if owner_id is not None:
                made += signal_received(owner_id, SignalFacts.of(signal_id, signal))
        return StoredSignal(signal_id, True)

    def insert_signal_in_window(self, signal: NewSignal, content_key: str) -> StoredSignal:
        with self._with_events(signal.received_at) as made:
            window_s = self.tables["strategies"][signal.strategy_id]["dedup_window_s"]
            since = signal.received_at - timedelta(seconds=window_s)
            earlier = [
                s
                for s in self.tables.where("signals", strategy_id=signal.strategy_id, content_key=content_key)
                if s["received_at"] >= since
            ]
            if earlier:
                return StoredSignal(max(earlier, key=lambda s: s["received_at"])["id"], False)
            row = {**signal_row(signal), "content_key": content_key}
            signal_id = self.tables.insert_new("signals", row)
            made += signal_received(
                self.tables["strategies"][signal.strategy_id]["owner_id"], SignalFacts.of(signal_id, signal)
            )
            return StoredSignal(signal_id, True)

    def signal_route_info(self, signal_id: int) -> SignalRoute | None:
        s = self.tables["signals"].get(signal_id)
        return (
            SignalRoute(s["strategy_id"], s["symbol"], s["status"], s.get("price") is not None) if s else None
        )

    def strategy_venues(self, strategy_id: int) -> StrategyVenues:
        accounts = [
            self.tables["exchange_accounts"][sub["account_id"]]
            for sub in self.tables.where("subscriptions", strategy_id=strategy_id, status=ACTIVE)
        ]
        live = sorted((a for a in accounts if a["mode"] == "live"), key=lambda a: a["id"])
        paper = any(a["mode"] == "paper" for a in accounts)
        return StrategyVenues(paper, tuple(_venue(a) for a in live))

    def live_venues_in_use(self) -> list[LiveVenue]:
        used = {s["account_id"] for s in self.tables.where("subscriptions", status=ACTIVE)}
        return [_venue(a) for a in self.tables.where("exchange_accounts", mode="live") if a["id"] in used]

    def signal_ticker(self, signal_id: int) -> str | None:
        s = self.tables["signals"].get(signal_id)
        return s["ticker"] if s else None

    def resolve_signal(self, signal_id: int, symbol: str) -> None:
        s = self.tables["signals"].get(signal_id)
        if s is not None and s["symbol"] == "" and s["status"] == "received":
            s["symbol"] = symbol

    def active_targets(self, strategy_id: int) -> list[SubscriptionTarget]:
        return [
            SubscriptionTarget(s["id"], s["user_id"], s["account_id"], read(s["pairs"]))
            for s in self.tables.where("subscriptions", strategy_id=strategy_id, status=ACTIVE)
        ]

    def create_intents(self, routing: Routing, now: datetime) -> None:
        signal_id, status = routing.signal_id, routing.status
        with self._with_events(now) as made:
            new: list[NewIntent] = []
            for t in routing.targets:
                intent_id = self.tables.insert(
                    "execution_intents",
                    intent_row(signal_id, t, now),
                    ignore_conflicts_on=("signal_id", "subscription_id"),
                )
                if intent_id is not None:
                    new.append(NewIntent(intent_id, t))
            signal = self.tables["signals"].get(signal_id)
            routed = signal is not None and signal["status"] == "received"
            if signal is not None and routed:
                signal.update(status=status, routed_at=now)
                if status == "routed":
                    try:
                        with self.tables.transaction():
                            self._track(signal, routing.market_price, now)
                    except Exception:
                        log.exception("signal %s: not counted in the track record", signal_id)
            made += self._routing_events(signal, new, status if routed else None)

    def _routing_events(self, signal: Row | None, new: list[NewIntent], status: str | None) -> list[Event]:
        if signal is None or (not new and status is None):
            return []
        owner_id = self._owner(signal["strategy_id"])
        if owner_id is None:
            return []
        facts = SignalFacts(
            signal["id"],
            signal["strategy_id"],
            signal["action"],
            signal["ticker"],
            signal["symbol"],
            signal["contracts"],
            signal["price"],
            signal["received_at"],
        )
        return signal_routed(owner_id, facts, status, new)

    def _track(self, signal: Row, market_price: Decimal | None, now: datetime) -> None:
        """As SqlStore: the strategy's virtual position on the pair, and its curve when a trade closes."""
        price = signal["price"] or market_price
        if price is None:
            return
        key = (signal["strategy_id"], signal["symbol"])
        found = self.tables.strategy_pairs.get(key)
        before = pair_record(found) if found else PairRecord(signal["symbol"])
        record = before.reviewed(now)
        action = SignalAction(signal["action"])
        details = signal["details"] or {}
        if action is SignalAction.BUY and details.get("market_position") not in ("short", "flat"):
            record = record.after_entry(price)
        elif action is not SignalAction.BUY and not partial_exit(details, action):
            record = record.after_exit(price, now)
        if record == before:
            return
        self.tables.strategy_pairs[key] = pair_row(key[0], record, now)
        if record.trades > before.trades:
            strategy = self.tables["strategies"][key[0]]
            curve = StrategyCurve(strategy["track_index"], strategy["track_peak"])
            curve = curve.after_trade(trade_return(before, price))
            strategy.update(track_index=curve.index, track_peak=curve.peak)

    def strategy_definitions(self) -> list[PlatformStrategy]:
        return [
            PlatformStrategy(s["id"], read(s["definition"]))
            for s in self.tables.where("strategies")
            if s["definition"] and self.tables["users"].get(s["owner_id"], {}).get("disabled_at") is None
        ]

    def last_signal_at(self, strategy_id: int, symbol: str) -> datetime | None:
        found = self.tables.where("signals", strategy_id=strategy_id, symbol=symbol)
        return found[-1]["received_at"] if found else None

    def unrouted_signal_ids(self, received_before: datetime | None = None) -> list[int]:
        return [
            s["id"]
            for s in self.tables.where("signals", status="received")
            if received_before is None or s["received_at"] <= received_before
        ]

    def routing_failed(self, signal_id: int, reason: str, attempts_allowed: int, now: datetime) -> bool:
        with self._with_events(now) as made:
            signal = self.tables["signals"].get(signal_id)
            if signal is None or signal["status"] != "received":
                return False
            signal.update(attempts=signal["attempts"] + 1, reason=bounded_reason(reason))
            if signal["attempts"] < attempts_allowed:
                return False
            why = bounded_reason(f"routing failed {signal['attempts']} times; last: {reason}")
            signal.update(status="failed", reason=why)
            owner_id = self._owner(signal["strategy_id"])
            if owner_id is not None:
                made += signal_failed(owner_id, signal_id, signal["strategy_id"], why)
            return True


def _venue(account: Row) -> LiveVenue:
    return live_venue(SimpleNamespace(**account))
