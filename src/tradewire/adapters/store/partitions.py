"""Partition leases on PostgreSQL advisory locks (TRADEWIRE_WORKER_PARTITIONS, services/ownership.py).

Each active worker holds, on one connection of its own:
- the server key in *shared* mode (adapters/store/server_lock.py): workers exclude an all-in-one
  server, which takes it exclusively, and are counted as its shared holders in `pg_locks`;
- one exclusive key per partition it owns.
PostgreSQL frees them all when the connection ends, a killed process's included, so the partitions
of a dead worker are free for the others at their next round.

The paper books, which each worker keeps in memory for its accounts and writes back whole, are also
fenced in the database (`PaperFence`): a write of a worker's books checks, in its own transaction,
that the worker's lease connection still holds those accounts' partitions, under a shared transaction
lock per partition; a worker loading a partition's books takes that lock exclusively first. So a
worker whose leases were lost (its lease connection ended while the process lives on) cannot
overwrite the books of the worker that took its partitions: its next write fails and is reloaded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from sqlalchemy import Connection, Engine, func, select, text

from tradewire.adapters.store.server_lock import LOCK_KEY, ServerRunning, session_lock
from tradewire.domain.partitions import Partitions

# The two-int advisory keys (classid, objid) of the partitions: one class of our own, "twpt"; and the
# paper books' write fence per partition, "twpw" (transaction locks).
PARTITION_CLASS = int.from_bytes(b"twpt", "big") & (2**31 - 1)
WRITE_CLASS = int.from_bytes(b"twpw", "big") & (2**31 - 1)
# Every active worker holds (COUNT_CLASS, its number of partitions) shared, so a worker started with
# another number sees it and waits: two numbers would map an account to two partitions, and two
# workers would trade for it. Workers join one at a time ("twpj", a transaction lock).
COUNT_CLASS = int.from_bytes(b"twpc", "big") & (2**31 - 1)
JOIN_CLASS = int.from_bytes(b"twpj", "big") & (2**31 - 1)
_COUNTS = text(
    "SELECT DISTINCT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND classid::bigint = :class AND objsubid = 2"
)
_HELD_BY = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = :pid "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND classid::bigint = :class AND objsubid = 2 AND objid::bigint = ANY(:partitions)"
)


class LeaseLost(RuntimeError):
    """This worker no longer holds a partition whose books it was about to write."""


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
        self._pid: int | None = None  # the lease connection's backend, for the write fence

    def join(self) -> None:
        self.leave()
        conn = session_lock(self._engine, func.pg_try_advisory_lock_shared(LOCK_KEY))
        if conn is None:
            raise ServerRunning(
                "an all-in-one tradewire server holds this database: workers cannot trade beside it"
            )
        self._pid = int(conn.execute(select(func.pg_backend_pid())).scalar_one())
        conn.commit()
        self._conn = conn
        conn.execute(select(func.pg_advisory_xact_lock(JOIN_CLASS, 0)))
        conn.execute(select(func.pg_advisory_lock_shared(COUNT_CLASS, self.count)))
        others = sorted(n for (n,) in conn.execute(_COUNTS, {"class": COUNT_CLASS}) if n != self.count)
        conn.commit()
        if others:
            self.leave()
            raise ServerRunning(
                f"workers with TRADEWIRE_WORKER_PARTITIONS={others[0]} trade on this database; this one "
                f"has {self.count}: every worker needs the same number (it joins once they have stopped)"
            )

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

    def before_write(self, conn: Connection, account_ids: Iterable[int]) -> None:
        """In the transaction writing these accounts' paper books: LeaseLost unless this worker's
        lease connection still holds their partitions (a taker loading them waits for this commit)."""
        partitions = sorted({account_id % self.count for account_id in account_ids})
        if not partitions:
            return
        for partition in partitions:
            conn.execute(select(func.pg_advisory_xact_lock_shared(WRITE_CLASS, partition)))
        held = conn.execute(
            _HELD_BY, {"pid": self._pid or 0, "class": PARTITION_CLASS, "partitions": partitions}
        ).scalar_one()
        if held != len(partitions):
            raise LeaseLost(f"partitions {partitions}: this worker's lease on them was lost")

    def before_load(self, conn: Connection, partitions: Partitions) -> None:
        """In the transaction reading these partitions' books: wait for every write of their last
        owner under way (its next one then finds its lease gone)."""
        for partition in sorted(partitions.owned):
            conn.execute(select(func.pg_advisory_xact_lock(WRITE_CLASS, partition)))

    def leave(self) -> None:
        """Give back everything: closing the connection frees every lock it holds."""
        self._held.clear()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                # Given back at once: a closed connection's backend may hold them a moment longer.
                self._conn.rollback()
                self._conn.execute(select(func.pg_advisory_unlock_all()))
                self._conn.commit()
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
