"""A trading world without a database or a network, for the services' unit tests: the in-memory store
seeded with a webhook strategy and its subscribers, in-memory exchanges, the in-process bus and a
fixed clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.memory_exchange import Exchanges, FixedClock, MemoryExchange
from tests.fakes.memory_store import MemoryMembers, MemoryStore, Row
from tests.seeding import Seeded, seed_members
from tradewire.adapters.bus import InProcessBus
from tradewire.domain.records import NewSignal, Routing
from tradewire.domain.signals import SignalAction
from tradewire.services.execution import Executor


@dataclass
class World:
    """Everything a service is built from, and what the tests read back."""

    store: MemoryStore
    seeded: Seeded
    clock: FixedClock = field(default_factory=FixedClock)
    exchanges: Exchanges = field(default_factory=Exchanges)
    bus: InProcessBus = field(default_factory=InProcessBus)

    @property
    def exchange(self) -> MemoryExchange:
        return self.exchanges.default

    @property
    def members(self) -> MemoryMembers:
        return MemoryMembers(self.store.tables)

    def executor(self) -> Executor:
        return Executor(self.store, self.exchanges, self.bus, self.clock)

    def signal(
        self, action: SignalAction = SignalAction.BUY, key: str = "k1", routed: bool = True, **fields: Any
    ) -> int:
        """A stored signal of the strategy (as ingest stores it), and unless `routed` is False, routed
        to every active subscription (as SignalRouter does)."""
        values: dict[str, Any] = {
            "strategy_id": self.seeded.strategy_id,
            "dedup_key": key,
            "action": action,
            "ticker": "BTCUSDT",
            "symbol": "BTC/USDT",
            "contracts": None,
            "price": None,
            "signal_time": None,
            "details": {"ticker": "BTCUSDT"},
            "received_at": self.clock.now(),
        }
        signal_id, _ = self.store.insert_signal(NewSignal(**{**values, **fields}))
        if not routed:
            return signal_id
        targets = self.store.active_targets(self.seeded.strategy_id)
        self.store.create_intents(Routing(signal_id, targets), self.clock.now())
        return signal_id

    def rows(self, table: str, **equal: Any) -> list[Row]:
        return self.store.tables.where(table, **equal)

    def column(self, table: str, *columns: str) -> list[Any]:
        """One column's values of every row (a tuple per row for several columns), in id order."""
        rows = self.rows(table)
        if len(columns) == 1:
            return [r[columns[0]] for r in rows]
        return [tuple(r[c] for c in columns) for r in rows]

    def set_subscription(self, number: int, **values: Any) -> None:
        """Change the `number`th subscription (1-based), as the API would."""
        sid = self.seeded.subscription_ids[number - 1]
        self.members.update_subscription(self.seeded.subscriber_ids[number - 1], sid, values)


def world(subscribers: list[Mapping[str, Any]] | None = None, store: MemoryStore | None = None) -> World:
    """A webhook strategy with these subscribers (one with default settings if none are given), each
    trading a fixed 100 USDT on the paper venue unless an entry says otherwise."""
    store = store or MemoryStore()
    seeded = seed_members(MemoryMembers(store.tables), [dict(s) for s in subscribers or [{}]])
    return World(store, seeded)
