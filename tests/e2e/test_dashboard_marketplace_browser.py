"""The Marketplace's subscribe forms in a real browser (chromium through Playwright) against a real
server: an account made elsewhere while the user fills a form in (in another tab: an account, and a
bot on it) joins the form's account choices, and what the user typed stays."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.browser_support import TIMEOUT_MS, Session, browser_session
from tests.support import EMA_CROSS_BOT, ServedRuntime, make_runtime, seed_marketplace

if TYPE_CHECKING:
    from playwright.sync_api import Browser

TRADER = "tv-test-sub1"
BOT = {**EMA_CROSS_BOT, "name": "Made in another tab"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedRuntime]:
    # The strategies' loop waits an hour: the bot only needs to exist.
    runtime = make_runtime(tmp_path, feed_interval_s=3600, strategy_interval_s=3600)
    seed_marketplace(runtime.engine, [{}])  # one subscriber, TRADER: one account, subscribed
    with ServedRuntime(runtime, free_port()) as served:
        yield served


@pytest.fixture
def session(served: ServedRuntime, chromium: Browser, tmp_path: Path) -> Iterator[Session]:
    with browser_session(chromium, tmp_path) as session:
        yield session


def test_an_account_made_elsewhere_joins_the_subscribe_form_and_what_is_typed_stays(
    served: ServedRuntime, session: Session
) -> None:
    """The forms used to be rebuilt empty when the number of accounts changed."""
    page = session.page
    session.sign_in(served.url, TRADER)
    page.get_by_role("link", name="Marketplace").click()
    form = page.get_by_role("form", name="Subscribe to Strategy tv-test")
    account = form.get_by_label("Account")
    account.wait_for()
    assert account.locator("option").count() == 1
    form.get_by_label("Pairs (blank: all)").fill("eth/usdt")
    form.get_by_label("Size", exact=True).fill("75")
    form.get_by_label("Confirm before trade").select_option("api")
    form.get_by_label("Answer within (seconds)").fill("600")

    headers = served.token(TRADER)  # another tab: a new account (no event), then a bot on it (an event)
    new = httpx.post(f"{served.url}/api/v1/accounts", headers=headers, json={"name": "Second"}, timeout=30)
    assert new.status_code == 201, new.text
    bot = {**BOT, "account_id": new.json()["id"]}
    made = httpx.post(f"{served.url}/api/v1/bots", headers=headers, json=bot, timeout=30)
    assert made.status_code == 201, made.text

    page.wait_for_function(
        '() => document.querySelectorAll(\'form[aria-label="Subscribe to Strategy tv-test"] '
        "select[name=account] option').length === 2",
        timeout=TIMEOUT_MS,
    )
    assert form.get_by_label("Pairs (blank: all)").input_value() == "eth/usdt"
    assert form.get_by_label("Size", exact=True).input_value() == "75"
    assert form.get_by_label("Confirm before trade").input_value() == "api"
    assert form.get_by_label("Answer within (seconds)").input_value() == "600"
    session.shot("marketplace-account-added")

    account.select_option(label="Second (paper)")
    form.get_by_role("button", name="Subscribe to Strategy tv-test").click()
    page.get_by_role("status").filter(has_text="Subscribed to Strategy tv-test.").wait_for()
    subscriptions = httpx.get(f"{served.url}/api/v1/subscriptions", headers=headers, timeout=10).json()
    made_here = [
        (s["pairs"], s["sizing_value"], s["confirmation"], s["confirmation_timeout_s"])
        for s in subscriptions
        if s["strategy_slug"] == "tv-test" and s["account_id"] == new.json()["id"]
    ]
    assert made_here == [(["ETH/USDT"], "75", "api", 600)]
    fresh = page.get_by_role("form", name="Subscribe to Strategy tv-test")
    assert fresh.get_by_label("Pairs (blank: all)").input_value() == ""  # a new form after subscribing
    page.locator("article[data-strategy=tv-test]").filter(has_text="2 active subscribers").wait_for()
