"""The other processes of a split deployment, as a cache sees them (services/caches.py,
adapters/cache_peers.py): told which kept values a write of ours made stale."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol


class CachePeers(Protocol):
    """Tells every other process to forget what this one forgot after a write. A hint: one that is
    lost (Redis down) waits for the value's TTL. Called from any thread, after the write committed;
    never raises into the writer and never waits on the network."""

    def forget(self, cache: str, key: Hashable) -> None:
        """Others forget `key` of the cache named `cache`."""

    def forget_all(self, cache: str) -> None:
        """Others forget everything the cache named `cache` keeps."""
