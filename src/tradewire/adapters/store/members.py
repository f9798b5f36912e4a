"""The marketplace's own records: users, exchange accounts, strategies, subscriptions and bots.

`SqlMembers` implements `tradewire.ports.Members` (typed records in, typed records out) and keeps the
column-level inserts that seeding, the demo and tests use.
"""

from __future__ import annotations

from tradewire.adapters.store.accounts import SqlAccounts
from tradewire.adapters.store.strategies import SqlStrategies
from tradewire.adapters.store.subscriptions import SqlSubscriptions


class SqlMembers(SqlAccounts, SqlStrategies, SqlSubscriptions):
    """CRUD for the marketplace; every query that reads private data is scoped to its owner."""
