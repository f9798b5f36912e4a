"""Passphrase checks before sign-in: scrypt work is bounded per client and overall, right ones pass."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading

import pytest

from tradewire.services.passphrases import PassphraseChecks, PassphrasePolicy, Throttled

RIGHT = "abcdefgh"
# A stored hash in hash_secret's format, at scrypt's lowest cost: the checks here count calls to a
# stand-in for the verification and never hash (hash_secret's real cost took 50 ms at import).
_SALT = b"sixteen byte sal"
_DIGEST = hashlib.scrypt(RIGHT.encode(), salt=_SALT, n=2, r=1, p=1, dklen=32)
STORED = f"scrypt$2$1$1${base64.b64encode(_SALT).decode()}${base64.b64encode(_DIGEST).decode()}"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingVerify:
    """The real comparison, counted; `gate` (when set) holds every check until released."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls = 0
        self.gate = gate

    def __call__(self, secret: str, stored: str) -> bool:
        self.calls += 1
        if self.gate is not None:
            assert self.gate.wait(5)
        return secret == RIGHT and stored == STORED


def _checks(verify: CountingVerify, clock: Clock, **policy: float) -> PassphraseChecks:
    return PassphraseChecks(verify, PassphrasePolicy(**policy), monotonic=clock)  # type: ignore[arg-type]


def test_a_client_that_keeps_failing_is_throttled_without_hashing() -> None:
    # Arrange
    verify, clock = CountingVerify(), Clock()
    checks = _checks(verify, clock, failures_allowed=3, refill_s=10)

    async def scenario() -> list[bool | int]:
        results: list[bool | int] = [
            await checks.check(1, "203.0.113.9", f"guess{n}", STORED) for n in range(3)
        ]
        try:
            await checks.check(1, "203.0.113.9", "guess3", STORED)
        except Throttled as exc:
            results.append(exc.retry_after_s)
        return results

    # Act
    results = asyncio.run(scenario())

    # Assert: three scrypt checks, then a refusal that says when to come back, with no fourth hash
    assert results == [False, False, False, 10]
    assert verify.calls == 3


def test_a_throttled_client_gets_one_more_check_per_refill_period() -> None:
    verify, clock = CountingVerify(), Clock()
    checks = _checks(verify, clock, failures_allowed=1, refill_s=10)

    async def scenario() -> None:
        assert await checks.check(1, "a", "wrong", STORED) is False
        with pytest.raises(Throttled):
            await checks.check(1, "a", "wrong", STORED)
        clock.now += 10
        assert await checks.check(1, "a", "wrong again", STORED) is False

    asyncio.run(scenario())

    assert verify.calls == 2


def test_other_clients_and_other_strategies_keep_their_own_allowance() -> None:
    verify, clock = CountingVerify(), Clock()
    checks = _checks(verify, clock, failures_allowed=1)

    async def scenario() -> tuple[bool, bool]:
        await checks.check(1, "attacker", "wrong", STORED)
        return (
            await checks.check(1, "tradingview", RIGHT, STORED),
            await checks.check(2, "attacker", RIGHT, STORED),
        )

    assert asyncio.run(scenario()) == (True, True)


def test_a_known_right_passphrase_always_passes_and_wrong_ones_are_still_throttled_without_hashing() -> None:
    # Arrange: the right passphrase has been seen once; then someone guesses from the same address
    verify, clock = CountingVerify(), Clock()
    checks = _checks(verify, clock, failures_allowed=2, refill_s=10)

    async def scenario() -> list[bool | str]:
        outcome: list[bool | str] = [await checks.check(1, "shared", RIGHT, STORED)]
        for n in range(3):
            try:
                outcome.append(await checks.check(1, "shared", f"guess{n}", STORED))
            except Throttled:
                outcome.append("throttled")
        outcome.append(await checks.check(1, "shared", RIGHT, STORED))
        return outcome

    # Act
    outcome = asyncio.run(scenario())

    # Assert: two wrong guesses answered, the third throttled, the right one still passes; one hash
    assert outcome == [True, False, False, "throttled", True]
    assert verify.calls == 1


def test_a_burst_of_the_same_right_passphrase_costs_one_hash() -> None:
    # Arrange: TradingView delivering many alerts at once right after a restart
    gate = threading.Event()
    verify, clock = CountingVerify(gate), Clock()
    checks = _checks(verify, clock, failures_allowed=1, queued=2)

    async def scenario() -> list[bool]:
        burst = [asyncio.create_task(checks.check(1, "tradingview", RIGHT, STORED)) for _ in range(30)]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(*burst)

    # Act
    results = asyncio.run(scenario())

    # Assert
    assert results == [True] * 30
    assert verify.calls == 1


def test_checks_beyond_the_queue_are_refused_without_hashing() -> None:
    # Arrange: many addresses, each with a different wrong passphrase, all at once
    gate = threading.Event()
    verify, clock = CountingVerify(gate), Clock()
    checks = _checks(verify, clock, concurrent=2, queued=4)

    async def one(n: int) -> bool | str:
        try:
            return await checks.check(1, f"198.51.100.{n}", f"guess{n}", STORED)
        except Throttled as exc:
            return f"429 after {exc.retry_after_s} s"

    async def scenario() -> list[bool | str]:
        tasks = [asyncio.create_task(one(n)) for n in range(10)]
        await asyncio.sleep(0.05)
        running = verify.calls
        gate.set()
        results = await asyncio.gather(*tasks)
        assert running == 2  # never more than `concurrent` hashing at once
        return results

    # Act
    results = asyncio.run(scenario())

    # Assert: four admitted (and hashed), six refused at once
    assert results.count(False) == 4
    assert results.count("429 after 1 s") == 6
    assert verify.calls == 4


def test_client_records_are_bounded() -> None:
    verify, clock = CountingVerify(), Clock()
    checks = _checks(verify, clock, failures_allowed=1, max_clients=3)

    async def scenario() -> bool:
        await checks.check(1, "first", "wrong", STORED)
        for n in range(3):
            await checks.check(1, f"other{n}", "wrong", STORED)
        # the oldest record was dropped: "first" has its allowance again
        return await checks.check(1, "first", "wrong", STORED)

    assert asyncio.run(scenario()) is False
    assert verify.calls == 5
