"""Partition leases on PostgreSQL: every active worker must split accounts the same way. Two numbers
of partitions would put one account in two partitions, owned by two workers that would both trade
for it; a worker started with another number waits until the others have stopped."""

from __future__ import annotations

import contextlib
import threading

import pytest
from sqlalchemy import Engine

from tradewire.adapters.store.partitions import PartitionLeases
from tradewire.adapters.store.server_lock import ServerRunning

pytestmark = pytest.mark.postgres


def test_a_worker_with_another_number_of_partitions_waits_for_the_others_to_stop(
    postgres_engine: Engine,
) -> None:
    first, second, other = (PartitionLeases(postgres_engine, n) for n in (4, 4, 8))
    first.join()
    second.join()  # the same number: welcome
    assert first.workers() == 2 and first.try_take(0) and second.try_take(1)

    with pytest.raises(ServerRunning, match="TRADEWIRE_WORKER_PARTITIONS=4 trade on this database"):
        other.join()
    assert first.workers() == 2  # it is not counted, and holds nothing

    first.leave()
    with pytest.raises(ServerRunning):
        other.join()  # one with 4 still trades
    second.leave()
    other.join()  # none left: it joins, and workers with 4 now wait for it
    assert other.workers() == 1 and other.try_take(0)
    with pytest.raises(ServerRunning, match="=8"):
        first.join()
    other.leave()


def _join_together(leases: list[PartitionLeases]) -> list[int]:
    """Every lease joins at the same moment, each from a thread; the numbers of those that got in."""
    joined: list[int] = []
    start = threading.Barrier(len(leases))

    def join(lease: PartitionLeases) -> None:
        start.wait()
        with contextlib.suppress(ServerRunning):
            lease.join()
            joined.append(lease.count)

    threads = [threading.Thread(target=join, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return joined


def test_workers_with_different_numbers_joining_at_once_never_both_get_in(postgres_engine: Engine) -> None:
    for _ in range(5):
        leases = [PartitionLeases(postgres_engine, n) for n in (4, 8, 4, 8)]
        joined = _join_together(leases)
        assert joined and len(set(joined)) == 1  # one number got in, the other waits
        for lease in leases:
            lease.leave()
