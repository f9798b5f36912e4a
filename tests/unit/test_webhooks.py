"""Outgoing webhooks without a database or the network: bodies, signatures and what answers mean (the
domain), and the setup's refusals (no encryption key, private and loopback addresses). The deliveries
and a new hook's trial post go over real HTTP to a local receiver:
tests/integration/test_webhook_deliveries.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.fakes.memory_members import FixedClock
from tests.fakes.memory_webhooks import CLOSED, FILL, MemoryHooks
from tradewire.adapters.secrets_box import SecretBox, decode_key, generate_key
from tradewire.adapters.webhooks import HttpPoster
from tradewire.domain.members import Forbidden, Invalid
from tradewire.domain.webhooks import (
    DISCORD_MAX,
    HookKind,
    Verdict,
    backoff_s,
    body_of,
    message_of,
    retry_after_s,
    signature,
    url_problem,
    verdict_of,
)
from tradewire.ports.webhooks import NewHook
from tradewire.services.webhooks.setup import HookSetup

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
USER = 7


# -- the domain ----------------------------------------------------------------------------------------


def test_each_kind_has_its_body_and_the_signature_is_the_hmac_of_the_raw_body() -> None:
    message = message_of("fills", "new", 42, "2026-01-05T12:00:00+00:00", FILL, {})
    assert message is not None
    text = message.text
    assert "0.00123 BTC/USDT @ 64000.5 USDT" in text

    assert json.loads(body_of(HookKind.DISCORD, message)) == {"content": text}
    assert json.loads(body_of(HookKind.SLACK, message)) == {"text": text}
    assert json.loads(body_of(HookKind.JSON, message)) == {
        "event": {"topic": "fills", "type": "new", "id": 42, "ts": "2026-01-05T12:00:00+00:00", "data": FILL},
        "text": text,
    }
    body = body_of(HookKind.JSON, message)
    # Known answer: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
    fox = b"The quick brown fox jumps over the lazy dog"
    assert signature("key", fox) == "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert signature("key", body) != signature("key", body + b" ")


def test_discord_bodies_are_cut_to_discords_limit() -> None:
    data = {**CLOSED, "close_reason": "x" * 5000}
    message = message_of("positions", "closed", 1, "t", data, {})
    assert message is not None
    content = json.loads(body_of(HookKind.DISCORD, message))["content"]
    assert len(content) == DISCORD_MAX and content.endswith("…")


def test_events_that_are_not_notifications_or_are_turned_off_make_no_message() -> None:
    assert message_of("orders", "updated", 1, "t", {"state": "open"}, {}) is None
    assert message_of("fills", "new", 1, "t", FILL, {"entry_filled": False}) is None
    assert message_of("fills", "new", 1, "t", FILL, {"exit_filled": False}) is not None


@pytest.mark.parametrize(
    ("url", "allow_http", "problem"),
    [
        ("https://hooks.example.com/x?y=1", False, None),
        ("http://hooks.example.com/x", False, "must be an https:// URL"),
        ("http://hooks.example.com/x", True, None),
        ("ftp://hooks.example.com/x", True, "must be an http:// or https:// URL"),
        ("https://user:pw@hooks.example.com/", False, "must not carry credentials"),
        ("https:///nohost", False, "has no host"),
        ("https://example.com:99999/", False, "not a valid URL"),
        ("https://example.com/a b", False, "no spaces or control characters"),
        ("https://example.com/" + "a" * 2048, False, "at most 2048 characters"),
    ],
)
def test_a_url_is_refused_for_its_form(url: str, allow_http: bool, problem: str | None) -> None:
    assert url_problem(url, allow_http) == problem


def test_answers_mean_done_retry_or_refused_and_waits_grow() -> None:
    assert [verdict_of(s) for s in (200, 204, 500, 503, 429, 408, 400, 404, 410, 301)] == [
        Verdict.DONE, Verdict.DONE, Verdict.RETRY, Verdict.RETRY, Verdict.RETRY, Verdict.RETRY,
        Verdict.REFUSED, Verdict.REFUSED, Verdict.REFUSED, Verdict.REFUSED,
    ]  # fmt: skip
    assert [backoff_s(n, 20.0) for n in range(1, 6)] == [20.0, 40.0, 80.0, 160.0, 320.0]  # ~10 min
    assert retry_after_s("7") == 7.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 30.0
    assert retry_after_s(None) == 30.0 and retry_after_s("-1") == 30.0 and retry_after_s("nan") == 30.0
    assert retry_after_s("99999") == 600.0


# -- the setup -----------------------------------------------------------------------------------------


def _box() -> SecretBox:
    return SecretBox(decode_key(generate_key()))


async def test_without_an_encryption_key_there_are_no_hooks() -> None:
    setup = HookSetup(MemoryHooks(), None, HttpPoster(), FixedClock(NOW))
    with pytest.raises(Forbidden, match="TRADEWIRE_ENCRYPTION_KEY"):
        await setup.add(USER, NewHook("https://hooks.example.com/x", HookKind.DISCORD))


@pytest.fixture(scope="module")
def posters() -> dict[bool, HttpPoster]:
    """A poster that refuses private addresses (False) and one that allows them (True), made once: each
    loads the CA bundle for its TLS context (~40 ms). Checking an address does not use the client."""
    return {allow: HttpPoster(allow_private=allow) for allow in (False, True)}


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[::ffff:192.168.0.1]/x",
        "https://localhost/x",
        "http://hooks.example.com/x",  # plain http
    ],
)
async def test_private_and_loopback_addresses_are_refused_unless_allowed(
    posters: dict[bool, HttpPoster], url: str
) -> None:
    store = MemoryHooks()
    setup = HookSetup(store, _box(), posters[False], FixedClock(NOW))
    with pytest.raises(Invalid, match=r"^url: "):
        await setup.add(USER, NewHook(url, HookKind.DISCORD))
    assert store.rows == {}
    allowed = HookSetup(store, _box(), posters[True], FixedClock(NOW), allow_http=True)
    assert (await allowed.add(USER, NewHook(url, HookKind.DISCORD))).hook.url == url
