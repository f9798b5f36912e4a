"""The vision model client: any OpenAI-compatible chat-completions endpoint, through the openai SDK.

The SDK's own retries are off (max_retries=0): what is retried is decided here. A malformed answer
is asked for once more, then the analysis fails. A refusal, a timeout, a 401/403, a 429 or a 5xx
fails the analysis at once (nothing is traded on it) and counts against the endpoint's circuit
breaker: after `breaker_threshold` failures in a row no call goes to it for `breaker_cooldown_s`,
then one trial call. A 429's retry-after holds every call to that endpoint back that long.
Failure reasons never contain the API key or the endpoint's error text for a refused key.

An endpoint's base URL is its user's input: its host was checked public when it was stored, and every
connection checks it again as it is made (adapters/public_http.py), so a DNS answer that changed since
cannot lead the server to a private address (unless TRADEWIRE_ALLOW_PRIVATE_AI_URLS).
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from typing import Any

import httpcore2
import httpx2
import openai
from openai import AsyncOpenAI

from tradewire.adapters.live.addresses import AddressRefused
from tradewire.adapters.live.guards import CircuitBreaker
from tradewire.adapters.public_http import guard
from tradewire.domain.ai.proposal import MAX_ANSWER_CHARS, MalformedAnswer, parse_answer
from tradewire.ports.ai import EndpointAccess, VisionAnswer

log = logging.getLogger("tradewire.ai")

MAX_RETRY_AFTER_S = 3_600.0  # a longer retry-after is read as an hour
DEFAULT_RETRY_AFTER_S = 30.0  # a 429 without retry-after
ANSWER_TOKENS = 1_000  # max_tokens asked for: the JSON answer is a few hundred

SYSTEM = (
    "You analyse candlestick charts for a spot crypto trading system. Answer with one JSON object "
    "and nothing else, with exactly these keys: recommendation (BUY, SELL or HOLD), entry, "
    "stop_loss, take_profit (prices; null for HOLD), setup_quality, risk_reward_ratio, "
    "market_environment (each a number from 0 to 1), reasoning (a short text)."
)


class _Failed(Exception):
    """An attempt that produced no answer (the reason is safe to store and show)."""


class OpenAIVision:
    """Calls endpoints with a timeout, one breaker and one retry-after hold per endpoint."""

    def __init__(
        self,
        timeout_s: float = 60.0,
        breaker_threshold: int = 3,
        breaker_cooldown_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        allow_private: bool = False,
    ) -> None:
        self._allow_private = allow_private
        self._timeout = timeout_s
        self._threshold = breaker_threshold
        self._cooldown = breaker_cooldown_s
        self._clock = clock
        self._breakers: dict[int, CircuitBreaker] = {}
        self._held_until: dict[int, float] = {}

    def ready_in(self, endpoint_id: int) -> float:
        held = max(0.0, self._held_until.get(endpoint_id, 0.0) - self._clock())
        breaker = self._breakers.get(endpoint_id)
        return max(held, breaker.retry_in() if breaker is not None else 0.0)

    async def analyse(self, access: EndpointAccess, prompt: str, image_png: bytes) -> VisionAnswer:
        tokens = 0
        raw: str | None = None
        malformed = ""
        breaker = self._breaker(access.endpoint_id)
        async with self._client(access) as client:
            for attempt in (1, 2):
                held = self._held_until.get(access.endpoint_id, 0.0) > self._clock()
                if held or not breaker.allow():
                    return VisionAnswer(None, raw, tokens, attempt - 1, self._paused(access.endpoint_id))
                try:
                    text, used = await self._ask(client, access, prompt, image_png)
                except _Failed as exc:
                    breaker.failure()
                    log.warning("ai endpoint %s: %s", access.endpoint_id, exc)
                    return VisionAnswer(None, raw, tokens, attempt, str(exc))
                breaker.success()
                tokens += used
                raw = text[:MAX_ANSWER_CHARS]
                try:
                    return VisionAnswer(parse_answer(text), raw, tokens, attempt)
                except MalformedAnswer as exc:
                    malformed = str(exc)
                    log.info(
                        "ai endpoint %s: malformed answer (attempt %s): %s", access.endpoint_id, attempt, exc
                    )
        return VisionAnswer(None, raw, tokens, 2, f"malformed answer twice: {malformed}")

    def _breaker(self, endpoint_id: int) -> CircuitBreaker:
        if endpoint_id not in self._breakers:
            self._breakers[endpoint_id] = CircuitBreaker(self._threshold, self._cooldown, self._clock)
        return self._breakers[endpoint_id]

    def _paused(self, endpoint_id: int) -> str:
        return f"the endpoint is paused for {self.ready_in(endpoint_id):.0f} s after failures or a 429"

    def _client(self, access: EndpointAccess) -> AsyncOpenAI:
        """A client for one analysis (closed with it), connecting to public addresses only."""
        transport = httpx2.AsyncHTTPTransport(trust_env=False, limits=httpx2.Limits(max_connections=4))
        if not self._allow_private:
            guard(transport, httpcore2)
        http = httpx2.AsyncClient(
            transport=transport, timeout=self._timeout, follow_redirects=False, trust_env=False
        )
        return AsyncOpenAI(
            api_key=access.api_key,
            base_url=access.base_url,
            timeout=self._timeout,
            max_retries=0,
            http_client=http,
        )

    async def _ask(
        self, client: AsyncOpenAI, access: EndpointAccess, prompt: str, image_png: bytes
    ) -> tuple[str, int]:
        """The answer's text and the tokens it cost; _Failed with a safe reason otherwise."""
        image = "data:image/png;base64," + base64.b64encode(image_png).decode()
        messages: Any = [
            {"role": "system", "content": SYSTEM},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": prompt},
                    {"type": "image_url", "image_url": {"url": image}},
                ],
            },
        ]
        try:
            completion = await client.chat.completions.create(
                model=access.model, messages=messages, max_tokens=ANSWER_TOKENS, temperature=0
            )
        except openai.RateLimitError as exc:
            wait = _retry_after(exc.response.headers.get("retry-after"))
            self._held_until[access.endpoint_id] = self._clock() + wait
            raise _Failed(f"rate limited (429); calls held back {wait:.0f} s") from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise _Failed(f"the endpoint refused the API key ({exc.status_code})") from None
        except openai.APITimeoutError:
            raise _Failed(f"no answer within {self._timeout:g} s") from None
        except AddressRefused as exc:  # checked as the connection is made (adapters/public_http.py)
            raise _Failed(f"the endpoint's address is refused: {exc}") from None
        except openai.APIConnectionError as exc:
            if isinstance(exc.__cause__, AddressRefused):
                raise _Failed(f"the endpoint's address is refused: {exc.__cause__}") from None
            raise _Failed("could not connect to the endpoint") from None
        except openai.APIStatusError as exc:
            raise _Failed(f"the endpoint answered {exc.status_code}: {_message(exc)}") from None
        except openai.APIError as exc:  # an answer the SDK could not read
            raise _Failed(f"unreadable answer: {type(exc).__name__}") from None
        used = completion.usage.total_tokens if completion.usage is not None else 0
        if not completion.choices:
            raise _Failed("the answer has no choices")
        choice = completion.choices[0]
        if choice.message.refusal:
            raise _Failed(f"the model refused: {choice.message.refusal[:300]}")
        if choice.finish_reason == "content_filter":
            raise _Failed("the answer was withheld by the endpoint's content filter")
        return choice.message.content or "", max(0, int(used))


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value is not None else DEFAULT_RETRY_AFTER_S
    except ValueError:
        seconds = DEFAULT_RETRY_AFTER_S  # an HTTP date: wait the default
    if seconds != seconds or seconds < 0:
        seconds = DEFAULT_RETRY_AFTER_S
    return min(seconds, MAX_RETRY_AFTER_S)


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        text = body.get("message") or (body.get("error") or {}).get("message")
        if isinstance(text, str):
            return text[:200]
    return exc.response.reason_phrase[:200]
