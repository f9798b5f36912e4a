"""Webhook passphrase checks whose cost an unauthenticated sender cannot drive up.

A passphrase is stored as scrypt (16 MiB, tens of milliseconds of CPU per check) so a stolen database
does not give it away; that cost is what a flood of wrong passphrases would spend. Once a strategy's
right passphrase has been seen, checks compare a SHA-256 in memory and cost nothing, and wrong ones
still spend the client's failure budget below (online guessing stays slow). Until then:

- identical checks running at once share one scrypt (a burst of TradingView alerts after a restart
  costs one check, not one per alert);
- each (strategy, client address) may fail a few scrypt checks, then one more every few seconds:
  further attempts are answered 429 with Retry-After, without any hashing;
- at most `concurrent` scrypt checks run at once, and at most `queued` wait; past that the answer is
  429 too, so the event loop and the thread pool stay free for everything else.

A right passphrase is never refused once known, whatever a client's record, so a sender sharing an
address with TradingView (another TradingView user's alerts) can delay only a strategy's first alert.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from tradewire.ports.secrets import SecretCheck


class Throttled(Exception):
    """A check refused without hashing; `retry_after_s` says when to try again."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class PassphrasePolicy:
    """How much scrypt work failed checks may cause."""

    failures_allowed: int = 5  # scrypt checks a (strategy, address) may fail in a burst...
    refill_s: float = 12.0  # ...and then one more per this many seconds (5 a minute)
    concurrent: int = 2  # scrypt checks running at once (the machine's other work keeps its cores)
    queued: int = 16  # checks admitted (running or waiting); past that: 429
    max_clients: int = 10_000  # failure records kept in memory, least recently used dropped first


class VerifiedSecrets:
    """Remembers (stored hash, secret digest) pairs already verified, so hot paths skip scrypt.

    Only a SHA-256 of the secret is kept in memory, keyed by the stored hash: changing the stored hash
    (a new passphrase) invalidates the entry.
    """

    def __init__(self, check: SecretCheck, max_entries: int = 4096) -> None:
        self._check = check
        self._verified: dict[str, bytes] = {}
        self._max = max_entries

    def verify(self, secret: str, stored: str) -> bool:
        known = self.lookup(secret, stored)
        if known is not None:
            return known
        if not self._check(secret, stored):
            return False
        self.remember(secret, stored)
        return True

    def lookup(self, secret: str, stored: str) -> bool | None:
        """True or False when `stored` has a verified secret in memory (no scrypt); None otherwise."""
        known = self._verified.get(stored)
        if known is None:
            return None
        return hmac.compare_digest(known, hashlib.sha256(secret.encode()).digest())

    def remember(self, secret: str, stored: str) -> None:
        """Keep `secret` as verified for `stored` (call only after the check said it matches)."""
        if stored not in self._verified and len(self._verified) >= self._max:
            self._verified.pop(next(iter(self._verified)))
        self._verified[stored] = hashlib.sha256(secret.encode()).digest()


class PassphraseChecks:
    """Verifies passphrases against stored scrypt hashes with bounded work per client and overall."""

    def __init__(
        self,
        verify: SecretCheck,
        policy: PassphrasePolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy or PassphrasePolicy()
        self._now = monotonic
        self._verify = verify
        self._known = VerifiedSecrets(verify)
        self._in_flight: dict[tuple[str, bytes], asyncio.Future[bool]] = {}
        self._tokens: OrderedDict[tuple[int, str], tuple[float, float]] = OrderedDict()
        self._admitted = 0
        self._slots: asyncio.Semaphore | None = None

    async def check(self, strategy_id: int, client: str | None, secret: str, stored: str) -> bool:
        """True if `secret` matches `stored`; raises Throttled instead of hashing past the bounds."""
        known = self._known.lookup(secret, stored)
        if known is True:
            return True
        key = (strategy_id, client or "?")
        if known is False:
            # No hashing to bound here, but online guessing is: wrong guesses still spend the
            # address's tokens, while the right passphrase (above) is never refused.
            self._take(key)
            return False
        digest = hashlib.sha256(secret.encode()).digest()
        running = self._in_flight.get((stored, digest))
        if running is not None:
            return await asyncio.shield(running)
        self._take(key)
        if self._admitted >= self._policy.queued:
            self._give_back(key)
            raise Throttled("too many passphrase checks in progress; try again shortly", 1)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)
        self._in_flight[(stored, digest)] = future
        self._admitted += 1
        try:
            async with self._semaphore():
                matched = await asyncio.to_thread(self._verify, secret, stored)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            self._admitted -= 1
            del self._in_flight[(stored, digest)]
        if matched:
            self._known.remember(secret, stored)
            self._give_back(key)
        future.set_result(matched)
        return matched

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:  # made on first use, inside the loop that serves requests
            self._slots = asyncio.Semaphore(self._policy.concurrent)
        return self._slots

    def _take(self, key: tuple[int, str]) -> None:
        tokens = self._tokens_now(key)
        if tokens < 1:
            wait = math.ceil((1 - tokens) * self._policy.refill_s)
            raise Throttled(f"too many wrong passphrases from this address; retry in {wait} s", wait)
        self._store(key, tokens - 1)

    def _give_back(self, key: tuple[int, str]) -> None:
        self._store(key, min(self._tokens_now(key) + 1, float(self._policy.failures_allowed)))

    def _tokens_now(self, key: tuple[int, str]) -> float:
        allowed = float(self._policy.failures_allowed)
        record = self._tokens.get(key)
        if record is None:
            return allowed
        tokens, at = record
        return min(allowed, tokens + (self._now() - at) / self._policy.refill_s)

    def _store(self, key: tuple[int, str], tokens: float) -> None:
        self._tokens[key] = (tokens, self._now())
        self._tokens.move_to_end(key)
        while len(self._tokens) > self._policy.max_clients:
            self._tokens.popitem(last=False)


def _consume(future: asyncio.Future[bool]) -> None:
    # A failure nobody else waited for is the leader's to raise; don't report it a second time.
    if not future.cancelled():
        future.exception()
