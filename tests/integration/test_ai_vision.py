"""The vision client (adapters/ai/vision.py) through the real openai SDK against the local fake
OpenAI-compatible server: the chart goes as a PNG image part, a good answer parses, a malformed one
is asked once more, refusals, 401, 429 with retry-after, 5xx and timeouts fail the analysis, and
the circuit breaker stops calling an endpoint that keeps failing."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from tests.fakes.openai_api import KEY, FakeOpenAI
from tradewire.adapters.ai.vision import OpenAIVision
from tradewire.domain.ai.proposal import Recommendation
from tradewire.ports.ai import EndpointAccess

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BUY = {
    "recommendation": "BUY",
    "entry": "100.5",
    "stop_loss": "97",
    "take_profit": "110",
    "setup_quality": 0.8,
    "risk_reward_ratio": 0.9,
    "market_environment": 0.7,
    "reasoning": "breakout retest",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _access(fake_openai: FakeOpenAI, key: str = KEY) -> EndpointAccess:
    return EndpointAccess(1, fake_openai.base_url, "gpt-4o-mini", key)


async def test_a_good_answer_parses_and_the_chart_goes_as_a_png_image_part(fake_openai: FakeOpenAI) -> None:
    fake_openai.answer(BUY)
    answer = await OpenAIVision(allow_private=True).analyse(
        _access(fake_openai), "BTC/USDT 1h, last close 100", PNG
    )

    assert answer.failure is None and answer.proposal is not None
    assert answer.proposal.recommendation is Recommendation.BUY
    assert answer.proposal.confidence == Decimal("0.790")
    assert answer.tokens == 970 and answer.attempts == 1
    assert json.loads(answer.raw or "") == BUY
    (seen,) = fake_openai.completions
    assert seen.body["model"] == "gpt-4o-mini"
    assert seen.images == [PNG]
    assert "BTC/USDT 1h" in seen.text and "recommendation" in seen.text
    assert seen.headers["authorization"] == f"Bearer {KEY}"


async def test_a_malformed_answer_is_asked_again_once_then_fails(fake_openai: FakeOpenAI) -> None:
    fake_openai.malformed()
    fake_openai.answer(BUY)
    recovered = await OpenAIVision(allow_private=True).analyse(_access(fake_openai), "p", PNG)
    assert recovered.proposal is not None and recovered.attempts == 2 and recovered.tokens == 2 * 970

    fake_openai.malformed()
    fake_openai.malformed("Sure! BUY at 100, stop 97.")
    failed = await OpenAIVision(allow_private=True).analyse(_access(fake_openai), "p", PNG)
    assert failed.proposal is None and failed.attempts == 2 and failed.tokens == 2 * 970
    assert failed.failure is not None and failed.failure.startswith("malformed answer twice")
    assert failed.raw == "Sure! BUY at 100, stop 97."
    assert len(fake_openai.completions) == 4


async def test_a_refusal_fails_without_a_second_call(fake_openai: FakeOpenAI) -> None:
    fake_openai.refusal()
    answer = await OpenAIVision(allow_private=True).analyse(_access(fake_openai), "p", PNG)
    assert answer.proposal is None and answer.failure is not None
    assert answer.failure.startswith("the model refused: I'm sorry")
    assert len(fake_openai.completions) == 1


async def test_a_wrong_key_fails_and_the_reason_holds_no_key(fake_openai: FakeOpenAI) -> None:
    answer = await OpenAIVision(allow_private=True).analyse(
        _access(fake_openai, "sk-wrong-secret-key"), "p", PNG
    )
    assert answer.failure == "the endpoint refused the API key (401)"
    assert "sk-" not in answer.failure


async def test_a_429_holds_calls_back_for_its_retry_after(fake_openai: FakeOpenAI) -> None:
    clock = Clock()
    vision = OpenAIVision(clock=clock, allow_private=True)
    fake_openai.error(429, retry_after=20)
    answer = await vision.analyse(_access(fake_openai), "p", PNG)
    assert answer.failure == "rate limited (429); calls held back 20 s"
    assert vision.ready_in(1) == 20

    held = await vision.analyse(_access(fake_openai), "p", PNG)  # not sent
    assert held.failure is not None and "paused" in held.failure and held.attempts == 0
    assert len(fake_openai.completions) == 1
    clock.now += 20
    assert vision.ready_in(1) == 0
    assert (await vision.analyse(_access(fake_openai), "p", PNG)).failure is None


async def test_a_slow_answer_times_out(fake_openai: FakeOpenAI) -> None:
    fake_openai.slow(1.5)
    answer = await OpenAIVision(timeout_s=0.3, allow_private=True).analyse(_access(fake_openai), "p", PNG)
    assert answer.failure == "no answer within 0.3 s" and answer.proposal is None


async def test_the_breaker_opens_after_failures_in_a_row_and_lets_one_trial_through(
    fake_openai: FakeOpenAI,
) -> None:
    clock = Clock()
    vision = OpenAIVision(breaker_threshold=3, breaker_cooldown_s=60, clock=clock, allow_private=True)
    fake_openai.error(500)
    fake_openai.error(503)
    fake_openai.error(500)
    for _ in range(3):
        failed = await vision.analyse(_access(fake_openai), "p", PNG)
        assert failed.failure is not None and failed.failure.startswith("the endpoint answered 5")
    assert vision.ready_in(1) == 60

    paused = await vision.analyse(_access(fake_openai), "p", PNG)
    assert paused.failure is not None and "paused" in paused.failure
    assert len(fake_openai.completions) == 3  # nothing sent while open

    clock.now += 60  # half open: one trial, which succeeds and closes it
    fake_openai.answer(BUY)
    assert (await vision.analyse(_access(fake_openai), "p", PNG)).proposal is not None
    assert vision.ready_in(1) == 0
    other = EndpointAccess(2, fake_openai.base_url, "m", KEY)  # each endpoint has its own breaker
    assert vision.ready_in(other.endpoint_id) == 0


async def test_the_key_never_reaches_the_logs(
    fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the SDK's and httpx's debug logs included
    fake_openai.malformed()
    fake_openai.error(429, retry_after=1)
    vision = OpenAIVision(allow_private=True)
    await vision.analyse(_access(fake_openai), "p", PNG)
    await vision.analyse(_access(fake_openai, "sk-wrong-secret-key"), "p", PNG)
    assert caplog.records  # something was logged
    assert KEY not in caplog.text and "sk-wrong-secret-key" not in caplog.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_an_endpoint_now_at_a_private_address_is_not_called(fake_openai: FakeOpenAI, host: str) -> None:
    # Its address was public when it was stored; its name now leads to this machine (a DNS answer
    # changed): every connection is checked again, so nothing is sent there.
    fake_openai.answer(BUY)
    access = EndpointAccess(1, fake_openai.base_url.replace("127.0.0.1", host), "gpt-4o-mini", KEY)

    answer = await OpenAIVision().analyse(access, "p", PNG)

    assert answer.proposal is None and answer.failure is not None
    assert answer.failure.startswith("the endpoint's address is refused")
    assert fake_openai.requests == []
