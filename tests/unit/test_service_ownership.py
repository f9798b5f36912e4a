"""SharedOwnership against in-memory leases: workers share the partitions fairly, the leader keeps
partition 0, a partition is given back only when no work holds it (after its books are saved), and a
worker that leaves or dies has its partitions taken by the others."""

from __future__ import annotations

import asyncio

import pytest

from tradewire.domain.partitions import Partitions, fair_share
from tradewire.services.ownership import OwnershipHooks, SharedOwnership


class Board:
    """The database's advisory locks: who holds each partition, and who counts as a worker."""

    def __init__(self) -> None:
        self.holders: dict[int, object] = {}
        self.workers: set[object] = set()


class MemoryLeases:
    def __init__(self, board: Board, count: int) -> None:
        self.board = board
        self.count = count

    def join(self) -> None:
        self.board.workers.add(self)

    def workers(self) -> int:
        return len(self.board.workers)

    def try_take(self, partition: int) -> bool:
        return self.board.holders.setdefault(partition, self) is self

    def give_back(self, partition: int) -> None:
        if self.board.holders.get(partition) is self:
            del self.board.holders[partition]

    def leave(self) -> None:  # also what the database does for a dead worker
        self.board.workers.discard(self)
        for partition in [p for p, who in self.board.holders.items() if who is self]:
            del self.board.holders[partition]


class Recorded:
    """Hooks that record what happened, in order."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def hooks(self) -> OwnershipHooks:
        async def taken(p: Partitions) -> None:
            self.log.append(f"{self.name} loads {sorted(p.owned)}")

        async def giving(p: Partitions) -> None:
            self.log.append(f"{self.name} saves {sorted(p.owned)}")

        async def after(p: Partitions) -> None:
            self.log.append(f"{self.name} catches up {sorted(p.owned)}")

        return OwnershipHooks(taken, giving, after)


async def _worker(board: Board, name: str, log: list[str], count: int = 8) -> SharedOwnership:
    ownership = SharedOwnership(MemoryLeases(board, count), Recorded(name, log).hooks())
    await ownership.join()
    await ownership.rebalance()
    await asyncio.sleep(0)  # the catch-up task runs
    return ownership


def test_the_fair_share_covers_every_partition() -> None:
    assert [fair_share(8, n) for n in (1, 2, 3, 4, 8, 9)] == [8, 4, 3, 2, 1, 1]
    assert Partitions(8, frozenset({1, 3})).owns(11) and not Partitions(8, frozenset({1, 3})).owns(12)
    with pytest.raises(ValueError):
        Partitions(8, frozenset({8}))


async def test_a_second_worker_gets_half_and_the_first_keeps_partition_0_and_leads() -> None:
    board, log = Board(), []
    a = await _worker(board, "a", log)
    assert a.owned.owned == frozenset(range(8)) and a.leader
    b = await _worker(board, "b", log)
    assert b.owned.owned == frozenset()  # all taken: nothing yet
    await a.rebalance()  # a counts two workers and gives back above its share
    await b.rebalance()
    assert a.owned.owned == {0, 1, 2, 3} and b.owned.owned == {4, 5, 6, 7}
    assert a.leader and not b.leader
    await asyncio.sleep(0)
    assert log[-3:] == ["a saves [4, 5, 6, 7]", "b loads [4, 5, 6, 7]", "b catches up [4, 5, 6, 7]"]


async def test_a_partition_is_given_back_only_after_the_work_holding_it_ends() -> None:
    board, log = Board(), []
    a = await _worker(board, "a", log)
    await _worker(board, "b", log)
    released = asyncio.Event()

    async def work() -> None:
        async with a.hold() as partitions:
            assert partitions is not None and partitions.owned == frozenset(range(8))
            log.append("work starts")
            await released.wait()
            log.append("work ends")

    running = asyncio.create_task(work())
    await asyncio.sleep(0)
    rebalancing = asyncio.create_task(a.rebalance())
    await asyncio.sleep(0.01)
    assert not rebalancing.done() and "a saves [4, 5, 6, 7]" not in log

    late: list[Partitions | None] = []

    async def later_work() -> None:  # starts while the change waits: after it, with the new share
        async with a.hold() as partitions:
            late.append(partitions)

    waiting = asyncio.create_task(later_work())
    await asyncio.sleep(0.01)
    assert late == []
    released.set()
    await asyncio.gather(running, rebalancing, waiting)
    assert log[-2:] == ["work ends", "a saves [4, 5, 6, 7]"]
    assert late == [Partitions(8, frozenset({0, 1, 2, 3}))]
    assert set(board.holders) == {0, 1, 2, 3}  # 4-7 are free for b


async def test_a_dead_workers_partitions_are_taken_by_the_others_and_leadership_moves() -> None:
    board, log = Board(), []
    a = await _worker(board, "a", log)
    b = await _worker(board, "b", log)
    c = await _worker(board, "c", log)
    for _ in range(2):
        for worker in (a, b, c):
            await worker.rebalance()
    shares = [w.owned.owned for w in (a, b, c)]
    assert sorted(len(s) for s in shares) == [2, 3, 3] and frozenset().union(*shares) == frozenset(range(8))
    [a_leases] = [w for w in board.workers if board.holders.get(0) is w]
    a_leases.leave()  # a is killed: the database frees its locks
    for worker in (b, c):
        await worker.rebalance()
    assert b.owned.owned | c.owned.owned == frozenset(range(8))
    assert not b.owned.owned & c.owned.owned
    assert b.leader != c.leader  # exactly one of them holds partition 0 now


async def test_a_worker_leaving_saves_and_gives_back_everything() -> None:
    board, log = Board(), []
    a = await _worker(board, "a", log)
    await a.leave()
    assert a.owned.owned == frozenset() and board.holders == {} and board.workers == set()
    assert log[-1] == "a saves [0, 1, 2, 3, 4, 5, 6, 7]"


async def test_partitions_whose_books_cannot_be_loaded_are_given_back() -> None:
    board = Board()

    async def fails(_p: Partitions) -> None:
        raise OSError("database down")

    async def nothing(_p: Partitions) -> None:
        return None

    ownership = SharedOwnership(MemoryLeases(board, 4), OwnershipHooks(fails, nothing, nothing))
    await ownership.join()
    with pytest.raises(OSError):
        await ownership.rebalance()
    assert ownership.owned.owned == frozenset() and board.holders == {}
