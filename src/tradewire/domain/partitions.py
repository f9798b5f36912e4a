"""Which accounts a worker owns when several workers trade at once (TRADEWIRE_WORKER_PARTITIONS).

Accounts are spread over a fixed number of partitions by `account_id % count`; each active worker
owns some of them at a time, and only the owner of an account sends its orders, looks them up,
watches its exits and keeps its paper books, so no work is repeated and a dead worker's partitions
are taken over by the others.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Partitions:
    """The partitions one worker owns now, out of `count`."""

    count: int
    owned: frozenset[int]

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("partitions: the count must be at least 1")
        if any(p < 0 or p >= self.count for p in self.owned):
            raise ValueError("partitions: an owned partition is out of range")

    @staticmethod
    def of(account_id: int, count: int) -> int:
        """The partition an account belongs to."""
        return account_id % count

    def owns(self, account_id: int) -> bool:
        return account_id % self.count in self.owned

    @property
    def everything(self) -> bool:
        return len(self.owned) == self.count


def owns(partitions: Partitions | None, account_id: int) -> bool:
    """Whether `partitions` (None: every account, one worker owns everything) include the account."""
    return partitions is None or partitions.owns(account_id)


def fair_share(count: int, workers: int) -> int:
    """How many partitions each of `workers` workers should own: all of them spread evenly, the
    first `count % workers` workers owning one more (every worker aims at the larger share, and
    gives back only above it, so the total settles without partitions moving back and forth)."""
    return -(-count // max(1, workers))
