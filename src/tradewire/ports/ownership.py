"""Which accounts this process trades for, when several workers trade at once (services/ownership.py)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from tradewire.domain.partitions import Partitions


class Ownership(Protocol):
    """The accounts this process owns now, and a hold that keeps them owned while work for them is
    under way (a partition is given to another worker only when no work holds it)."""

    @property
    def leader(self) -> bool:
        """Whether this process runs the work only one process may run (the paper market, backtests,
        notifications, strategies, routing recovery)."""
        ...

    def hold(self) -> AbstractAsyncContextManager[Partitions | None]:
        """Keep the owned partitions (None: every account) owned until the block ends."""
        ...


class Leases(Protocol):
    """Partition leases shared by the workers of one database (adapters/store/partitions.py); every
    call is blocking (run it in a thread)."""

    count: int  # how many partitions there are

    def join(self) -> None:
        """Count this process among the active workers (ServerRunning-like error when an all-in-one
        server holds the database)."""
        ...

    def workers(self) -> int:
        """How many workers are active now (this one included)."""
        ...

    def try_take(self, partition: int) -> bool:
        """Take a partition if no worker holds it; whether this process holds it now."""
        ...

    def give_back(self, partition: int) -> None: ...

    def leave(self) -> None:
        """Give back every partition and stop counting as a worker."""
        ...
