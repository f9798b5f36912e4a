"""Short-lived caches of hot reads (cachetools' TTLCache), counting their hits and misses for /metrics.

Each process keeps its own: a value is read again at most `ttl_s` seconds after it was loaded, and at
once after a write of ours that changes it (`invalidate`, `clear`). A load that began before an
invalidation is returned to its caller but not kept, so a write is never hidden by a read that raced
it. Cache only what every reader may see, or key by the reader.

Split processes (TRADEWIRE_ROLE api and workers) share their caches' invalidations: a cache given
`CachePeers` tells the other processes what a write here forgot, and forgets here what they tell it
(`invalidate_here`, `clear_here`), so a write in one process shows in all of them at once, not
after the TTL. A lost message only waits for the TTL, as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

from tradewire.ports.caches import CachePeers

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values kept for `ttl_s` seconds (0: not kept, every read loads), at most `maxsize` of them."""

    def __init__(
        self, name: str, ttl_s: float, maxsize: int = 1024, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.ttl_s = ttl_s
        self.hits = 0
        self.misses = 0
        self._values: TTLCache[K, V] | None = TTLCache(maxsize, ttl_s, timer) if ttl_s > 0 else None
        self._lock = threading.Lock()  # loads run in worker threads as well as on the event loop
        self._generation = 0  # bumped by every invalidation
        self._peers: CachePeers | None = None  # split processes: told what a write here forgot

    def share_with(self, peers: CachePeers) -> None:
        """Tell `peers` (the other processes) what `invalidate` and `clear` forget from now on."""
        self._peers = peers

    @property
    def keeps(self) -> bool:
        """Whether values are kept at all (a TTL above 0)."""
        return self._values is not None

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The value kept for `key`, or `load()`'s (kept unless invalidated meanwhile)."""
        found, value, generation = self._lookup(key)
        if found:
            return value  # type: ignore[return-value]  # found: `value` is a V
        loaded = load()
        self._keep(key, loaded, generation)
        return loaded

    async def get_async(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """As `get`, with a coroutine loading the value."""
        found, value, generation = self._lookup(key)
        if found:
            return value  # type: ignore[return-value]
        loaded = await load()
        self._keep(key, loaded, generation)
        return loaded

    def invalidate(self, key: K) -> None:
        """Forget `key` after a write that changed it: its next read loads again, here and (told
        through the peers) in every other process."""
        self.invalidate_here(key)
        if self._peers is not None:
            self._peers.forget(self.name, key)

    def clear(self) -> None:
        """Forget everything after a write, here and in every other process."""
        self.clear_here()
        if self._peers is not None:
            self._peers.forget_all(self.name)

    def invalidate_here(self, key: K) -> None:
        """Forget `key` in this process only (another process told us it wrote it)."""
        with self._lock:
            self._generation += 1
            if self._values is not None:
                self._values.pop(key, None)

    def clear_here(self) -> None:
        """Forget everything in this process only."""
        with self._lock:
            self._generation += 1
            if self._values is not None:
                self._values.clear()

    def _lookup(self, key: K) -> tuple[bool, V | None, int]:
        with self._lock:
            if self._values is not None and key in self._values:
                self.hits += 1
                return True, self._values[key], self._generation
            self.misses += 1
            return False, None, self._generation

    def _keep(self, key: K, value: V, generation: int) -> None:
        with self._lock:
            if self._values is not None and generation == self._generation:
                self._values[key] = value
