"""Partition leases on PostgreSQL advisory locks (TRADEWIRE_WORKER_PARTITIONS, services/ownership.py).

Each active worker holds, on one connection of its own:
- the server key in *shared* mode (adapters/store/server_lock.py): workers exclude an all-in-one
  server, which takes it exclusively, and are counted as its shared holders in `pg_locks`;
- one exclusive key per partition it owns.
PostgreSQL frees them all when the connection ends, a killed process's included, so the partitions
of a dead worker are free for the others at their next round.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import Connection, Engine, func, select, text

from tradewire.adapters.store.server_lock import LOCK_KEY, ServerRunning

# The two-int advisory keys (classid, objid) of the partitions: one class of our own, "twpt".
PARTITION_CLASS = int.from_bytes(b"twpt", "big") & (2**31 - 1)
_WORKERS = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock' AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"
)


class PartitionLeases:
    """The Leases port on one PostgreSQL connection (blocking calls)."""

    def __init__(self, engine: Engine, count: int) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("several active workers (TRADEWIRE_WORKER_PARTITIONS) need PostgreSQL")
        if not 1 <= count <= 4096:
            raise ValueError("TRADEWIRE_WORKER_PARTITIONS must be between 1 and 4096")
        self._engine = engine
        self.count = count
        self._conn: Connection | None = None
        self._held: set[int] = set()

    def join(self) -> None:
        self.leave()
        conn = self._engine.connect()
        try:
            got = bool(conn.execute(select(func.pg_try_advisory_lock_shared(LOCK_KEY))).scalar())
            conn.commit()  # session-level locks: no transaction stays open
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            raise ServerRunning(
                "an all-in-one tradewire server holds this database: workers cannot trade beside it"
            )
        self._conn = conn

    def workers(self) -> int:
        conn = self._connection()
        high, low = LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF
        found = int(conn.execute(_WORKERS, {"high": high, "low": low}).scalar() or 0)
        conn.commit()
        return max(1, found)

    def try_take(self, partition: int) -> bool:
        if partition in self._held:
            return True
        conn = self._connection()
        got = bool(conn.execute(select(func.pg_try_advisory_lock(PARTITION_CLASS, partition))).scalar())
        conn.commit()
        if got:
            self._held.add(partition)
        return got

    def give_back(self, partition: int) -> None:
        if partition not in self._held:
            return
        conn = self._connection()
        conn.execute(select(func.pg_advisory_unlock(PARTITION_CLASS, partition)))
        conn.commit()
        self._held.discard(partition)

    def leave(self) -> None:
        """Give back everything: closing the connection frees every lock it holds."""
        self._held.clear()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                # Closed for good, not returned to the pool: a pooled session would keep the locks.
                self._conn.invalidate()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _connection(self) -> Connection:
        if self._conn is None:
            raise ConnectionError("the partition leases' connection is not open")
        return self._conn
