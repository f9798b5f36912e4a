"""`tradewire.ports.exports.ExportReads` in memory, for the export service's tests.

It keeps the SQL store's rules (adapters/store/exports.py): a record belongs to the users who may see
it; an account narrows to its records (signals: those that reached it), a strategy to its
subscriptions' records; pages run in id order, the tax report's fills in (time, id) order. It also
counts the reads, so tests can see that a long export is read a page at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tradewire.domain.tax import TaxFill
from tradewire.ports.exports import COLUMNS, ExportKind, ExportScope, Row


@dataclass(frozen=True, slots=True)
class Record:
    """A row and what scopes it: who may see it, the accounts it belongs to, its strategy, its time."""

    row: Row
    users: frozenset[int]
    accounts: frozenset[int]
    strategy_id: int | None
    time: datetime


@dataclass
class MemoryExports:
    accounts: dict[int, int] = field(default_factory=dict)  # account id -> owner id
    strategies: dict[int, tuple[int, bool]] = field(default_factory=dict)  # id -> (owner id, public)
    records: dict[ExportKind, list[Record]] = field(default_factory=dict)
    fills: dict[int, list[TaxFill]] = field(default_factory=dict)  # account id -> its fills
    reads: list[tuple[str, int]] = field(default_factory=list)  # (what, rows returned) per read

    def add(
        self,
        kind: ExportKind,
        row: Row,
        users: set[int],
        accounts: set[int],
        strategy_id: int | None,
        time: datetime,
    ) -> None:
        assert set(row) == set(COLUMNS[kind]), f"a {kind} row has exactly COLUMNS[{kind}]"
        record = Record(row, frozenset(users), frozenset(accounts), strategy_id, time)
        self.records.setdefault(kind, []).append(record)

    def owns_account(self, user_id: int, account_id: int) -> bool:
        return self.accounts.get(account_id) == user_id

    def sees_strategy(self, user_id: int, strategy_id: int) -> bool:
        owner, public = self.strategies.get(strategy_id, (None, False))
        return owner == user_id or (owner is not None and public)

    def page(self, kind: ExportKind, scope: ExportScope, after_id: int | None, limit: int) -> list[Row]:
        found = sorted(
            (r for r in self.records.get(kind, []) if _in_scope(r, scope, after_id)),
            key=lambda r: r.row["id"],
        )
        rows = [dict(r.row) for r in found[:limit]]
        self.reads.append((kind.value, len(rows)))
        return rows

    def fills_in_time_order(
        self, account_id: int, before: datetime, after: tuple[datetime, int] | None, limit: int
    ) -> list[TaxFill]:
        ordered = sorted(self.fills.get(account_id, []), key=lambda f: (f.executed_at, f.fill_id))
        found = [
            f
            for f in ordered
            if f.executed_at < before and (after is None or (f.executed_at, f.fill_id) > after)
        ][:limit]
        self.reads.append(("tax fills", len(found)))
        return found


def _in_scope(record: Record, scope: ExportScope, after_id: int | None) -> bool:
    return (
        scope.user_id in record.users
        and (scope.account_id is None or scope.account_id in record.accounts)
        and (scope.strategy_id is None or scope.strategy_id == record.strategy_id)
        and (scope.start is None or record.time >= scope.start)
        and (scope.end is None or record.time < scope.end)
        and (after_id is None or record.row["id"] > after_id)
    )
