"""The twin's tables: one dict of rows per SQL table, keyed by id, with the schema's defaults and
unique keys (adapters/store/tables.py), and all-or-nothing writes."""

from __future__ import annotations

import copy
import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradewire.adapters.store.events import encoded
from tradewire.adapters.store.values import trading_state
from tradewire.domain.events import Event
from tradewire.domain.platform import Restrictions
from tradewire.domain.risk_alerts import Once, RiskAlert

Row = dict[str, Any]

# Columns a row gets when an insert leaves them out (the schema's defaults and nullable columns).
DEFAULTS: dict[str, Row] = {
    "users": {"role": "provider", "disabled_at": None},
    "exchange_accounts": {"sandbox": False, "api_urls": None},
    "strategies": {
        "description": "",
        "is_public": False,
        "track_index": Decimal(1),
        "track_peak": Decimal(1),
        "definition": None,
        "dedup_window_s": 60,
    },
    "subscriptions": {
        "pairs": None,
        "sizing_params": None,
        "risk_limits": None,
        "exit_rules": None,
        "trading_state": "ACTIVE",
        "state_reason": None,
        "pnl_total": Decimal(0),
        "pnl_peak": Decimal(0),
        "dca": None,
        "entry_order": None,
        "confirmation": "none",
        "confirmation_timeout_s": 300,
        "max_confirm_drift_pct": Decimal(1),
    },
    "signals": {"routed_at": None, "attempts": 0, "reason": None, "content_key": None},
    "execution_intents": {
        "reason": None,
        "attempts": 0,
        "proposal": None,
        "confirm_by": None,
        "confirmed_at": None,
    },
    "orders": {
        "intent_id": None,
        "subscription_id": None,
        "exchange_order_id": None,
        "price": None,
        "average": None,
        "fee_currency": None,
        "reason": None,
        "next_check_at": None,
        "sizing_note": None,
        "sizing_equity": None,
        "check_attempts": 0,
        "position_id": None,
        "close_reason": None,
        "exit_plan": None,
        "tranche": None,
        "late_checks": 0,
        "rejection": None,
    },
    "fills": {},
    "positions": {
        "subscription_id": None,
        "close_reason": None,
        "closed_at": None,
        "stop_loss": None,
        "take_profit": None,
        "trailing_pct": None,
        "trailing_activation_pct": None,
        "best_price": None,
        "deadline_at": None,
        "phase": "OPEN",
        "tranches": None,
    },
    "execution_log": {"intent_id": None, "signal_id": None, "order_id": None, "exchange_response": None},
}

# Unique keys, as the schema declares them (a None in a key never collides, as in SQL).
UNIQUE: dict[str, tuple[tuple[str, ...], ...]] = {
    "users": (("username",),),
    "exchange_accounts": (("user_id", "name"),),
    "strategies": (("slug",),),
    "subscriptions": (("strategy_id", "account_id"),),
    "signals": (("strategy_id", "dedup_key"),),
    "execution_intents": (("signal_id", "subscription_id"),),
    "orders": (("intent_id",), ("client_order_id",)),
    "fills": (("order_id", "trade_id"),),
    "positions": (),
    "execution_log": (),
}

# Partial unique indexes: (columns, which rows they cover).
PARTIAL_UNIQUE: dict[str, tuple[tuple[str, ...], Callable[[Row], bool]]] = {
    "positions": (("subscription_id", "symbol"), lambda row: row["status"] == "open"),
}


# What a failed transaction puts back as it was.
_TABLES = ("rows", "strategy_pairs", "account_daily_pnl", "events", "event_seq", "risk_notices")


class UniqueViolation(Exception):
    """A write that would break a unique key (the twin's IntegrityError); nothing was written."""


@dataclass
class Tables:
    """Every table's rows by id, the strategies' pair records, the accounts' daily results, and the
    outbox: each user's events (as rows of `events`) and their last numbers (`event_seq`)."""

    rows: dict[str, dict[int, Row]] = field(default_factory=lambda: {name: {} for name in DEFAULTS})
    strategy_pairs: dict[tuple[int, str], Row] = field(default_factory=dict)
    account_daily_pnl: dict[tuple[int, str], Decimal] = field(default_factory=dict)
    events: list[Row] = field(default_factory=list)
    event_seq: dict[int, int] = field(default_factory=dict)
    risk_notices: dict[Once, Row] = field(default_factory=dict)  # alerts told once, as risk_notices
    platform_state: str = "ACTIVE"  # platform_trading's one row
    _ids: dict[str, Iterator[int]] = field(default_factory=dict)

    def restrictions(self) -> Restrictions:
        """As adapters/store/platform.restrictions: the platform's state and the disabled users."""
        disabled = frozenset(u["id"] for u in self.rows["users"].values() if u["disabled_at"] is not None)
        return Restrictions(trading_state(self.platform_state), disabled)

    def save_events(self, made: Sequence[Event], now: datetime) -> dict[int, int]:
        """As adapters/store/events.save_events: number each user's events on from their last one."""
        counts = Counter(e.user_id for e in made)
        for user_id, n in counts.items():
            self.event_seq[user_id] = self.event_seq.get(user_id, 0) + n
        number = {user_id: self.event_seq[user_id] - n for user_id, n in counts.items()}
        for e in made:
            number[e.user_id] += 1
            data = encoded(e.data)  # as the SQL store encodes
            self.events.append(
                {"user_id": e.user_id, "id": number[e.user_id], "topic": e.topic.value, "type": e.type}
                | {"ts": now, "data": data}
            )
        return {user_id: self.event_seq[user_id] for user_id in counts}

    def alert_events(self, alerts: Sequence[RiskAlert], now: datetime) -> list[Event]:
        """As adapters/store/risk_alerts.alert_events: a told-once alert only the first time."""
        made = [a.event for a in alerts if a.once is None]
        claims: dict[Once, Event] = {}
        for alert in alerts:
            if alert.once is not None and alert.once not in self.risk_notices:
                claims.setdefault(alert.once, alert.event)
        for once, event in claims.items():
            self.risk_notices[once] = {"user_id": event.user_id, "created_at": now}
        return made + list(claims.values())

    def __getitem__(self, table: str) -> dict[int, Row]:
        return self.rows[table]

    def insert(
        self, table: str, values: Row, ignore_conflicts_on: tuple[str, ...] | None = None
    ) -> int | None:
        """Insert one row (JSON values copied, as a database keeps its own) and return its id. A row
        colliding on `ignore_conflicts_on` is skipped (None), as ON CONFLICT (...) DO NOTHING does;
        one colliding on any other unique key raises UniqueViolation."""
        row = {**DEFAULTS[table], **copy.deepcopy(values)}
        collisions = self.collisions(table, row)
        if ignore_conflicts_on is not None and ignore_conflicts_on in collisions:
            return None
        if collisions:
            raise UniqueViolation(f"{table}: a row with the same {', '.join(collisions[0])} exists")
        row_id = next(self._ids.setdefault(table, itertools.count(1)))
        row["id"] = row_id
        self.rows[table][row_id] = row
        return row_id

    def insert_new(self, table: str, values: Row) -> int:
        """Insert one row; raises UniqueViolation if it collides."""
        row_id = self.insert(table, values)
        assert row_id is not None
        return row_id

    def collisions(self, table: str, row: Row) -> list[tuple[str, ...]]:
        """The unique keys on which `row` collides with another row."""
        keys: list[tuple[tuple[str, ...], Callable[[Row], bool] | None]] = [(k, None) for k in UNIQUE[table]]
        if table in PARTIAL_UNIQUE:
            keys.append(PARTIAL_UNIQUE[table])
        found: list[tuple[str, ...]] = []
        for key, covers in keys:
            wanted = tuple(row.get(c) for c in key)
            if None in wanted or (covers is not None and not covers(row)):
                continue
            for other in self.rows[table].values():
                if other.get("id") == row.get("id") or (covers is not None and not covers(other)):
                    continue
                if tuple(other.get(c) for c in key) == wanted:
                    found.append(key)
                    break
        return found

    def where(self, table: str, **equal: Any) -> list[Row]:
        """Rows whose columns equal these values, in id order."""
        return [r for _, r in sorted(self.rows[table].items()) if all(r[k] == v for k, v in equal.items())]

    def with_owner(
        self, table: str, condition: Callable[[Row], bool], *subscription_columns: str
    ) -> list[Row]:
        """Rows of `table` (orders, positions) meeting `condition`, in id order, with their account's
        exchange and these columns of their subscription (None for a row without one): the rows
        adapters/store/values.with_owner selects."""
        found = []
        for row in self.where(table):
            account = self.rows["exchange_accounts"].get(row["account_id"])
            if account is None or not condition(row):
                continue
            sub = self.rows["subscriptions"].get(row["subscription_id"] or 0)
            owner = {c: sub[c] if sub else None for c in subscription_columns}
            found.append(row | {"exchange": account["exchange"], **owner})
        return found

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: on an exception every table is put back as it was."""
        saved = copy.deepcopy({name: getattr(self, name) for name in _TABLES})
        try:
            yield
        except BaseException:
            for name, value in saved.items():
                setattr(self, name, value)
            raise


def read(value: Any) -> Any:
    """A stored JSON value as a caller gets it: its own copy."""
    return copy.deepcopy(value)
