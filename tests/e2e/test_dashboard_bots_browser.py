"""The dashboard's Bots and Provider pages in a real browser (chromium through Playwright) against a
real server. Bots: create one from the page and see it listed, stop and start it and see its state
change live (also when another client changes it), edit its configuration, and see the API's 422
message next to the field it names. Provider: the webhook URL shown takes an alert (posted with httpx)
whose signal appears on the page live, the Copy button puts the URL on the clipboard, and a passphrase
rotation shows the new passphrase once; the old one is refused afterwards, the new one accepted.
Screenshots of each page (light, dark, phone width) go under the test's temporary directory."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.e2e import browser_support
from tests.e2e.browser_support import TIMEOUT_MS, Session, browser_session, served_platform
from tests.support import PASSPHRASE, PASSWORD, make_runtime
from tradewire.domain.records import NewSignal
from tradewire.domain.signals import SignalAction

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route


class Platform(browser_support.Platform):
    def token(self, username: str) -> str:
        response = httpx.post(
            f"{self.url}/api/v1/auth/token", data={"username": username, "password": PASSWORD}, timeout=10
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


REFUSED = "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"


def refused_once(session: Session) -> None:
    """The browser logs the 422 a test asked for as an error: that one, and nothing else, is expected."""
    assert session.errors == [REFUSED], session.errors
    session.errors.clear()


def _dark_and_phone_shots(session: Session, name: str) -> None:
    """Screenshots of the page in the dark theme (`name`-dark), then at a phone's width (`name`-phone);
    the light theme again after."""
    page = session.page
    page.locator("#theme").click()
    session.shot(f"{name}-dark")
    page.set_viewport_size({"width": 390, "height": 844})
    session.shot(f"{name}-phone")
    page.locator("#theme").click()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    runtime = make_runtime(tmp_path_factory.mktemp("dashbots"))
    with served_platform(runtime, [{}], Platform) as platform:
        yield platform


def test_a_bot_is_created_stopped_started_and_retuned_from_the_page(
    platform: Platform, session: Session
) -> None:
    page = session.page
    session.sign_in(platform.url, "tv-test-sub1")
    page.locator("#live.on").wait_for()
    page.get_by_role("link", name="Bots").click()
    page.get_by_role("heading", name="Bots", exact=True).wait_for()
    page.get_by_text("No bots yet").wait_for()

    # A bad value: the API's own message, next to the field it is about; nothing is created.
    form = page.get_by_role("form", name="New bot")
    form.get_by_label("Name").fill("Trend bot")
    form.get_by_label("Pairs").fill("BTC/USDT")
    form.get_by_label("Minimum temperature (0–100)").fill("150")
    form.get_by_role("button", name="Create bot").click()
    note = page.locator("#bot-new-temperature-error")
    note.wait_for()
    assert "less than or equal to 100" in note.inner_text()
    assert page.get_by_label("Minimum temperature (0–100)").get_attribute("aria-invalid") == "true"
    refused_once(session)
    session.shot("bots-bad-value")
    token = platform.token("tv-test-sub1")
    bots = httpx.get(f"{platform.url}/api/v1/bots", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert bots.json() == []

    form.get_by_label("Minimum temperature (0–100)").fill("40")
    form.get_by_label("Cooldown (minutes)").fill("30")
    form.get_by_role("button", name="Create bot").click()
    panel = page.locator("article[data-bot]").filter(has_text="Trend bot")
    panel.wait_for(timeout=30_000)  # a loaded CI machine once took over the default 10 s
    assert note.count() == 0
    assert panel.locator("[data-field=state]").inner_text() == "running"
    assert "needs 40" in panel.locator("dd[data-field=temperature]").inner_text()
    assert panel.locator("dd[data-field=cooldown]").inner_text().startswith("30 min, ready")
    assert panel.locator("dd[data-field=status]").inner_text() == "active"

    # The bot signals (as the strategy runner stores one): it shows live with its temperature, and
    # the cooldown now holds its pair.
    bot_id = int(panel.get_attribute("data-bot") or 0)
    platform.served.runtime.store.insert_signal(
        NewSignal(
            strategy_id=bot_id,
            dedup_key="page-bot-1",
            action=SignalAction.BUY,
            ticker="BTC/USDT",
            symbol="BTC/USDT",
            contracts=None,
            price=Decimal(60000),
            signal_time=None,
            details={"source": "strategy", "temperature": 72},
            received_at=datetime.now(UTC),
        )
    )
    panel.locator("td[data-label=Temperature]", has_text="72").wait_for()
    assert "needs 40, last 72" in panel.locator("dd[data-field=temperature]").inner_text()
    assert re.match(
        r"30 min, cooling down: BTC/USDT until ", panel.locator("dd[data-field=cooldown]").inner_text()
    )
    session.shot("bots-created")

    # Stop and start from the page: the state changes at once, and the focus stays on the button.
    panel.get_by_role("button", name="Stop Trend bot").click()
    panel.locator("[data-field=state]", has_text="stopped").wait_for()
    panel.locator("dd[data-field=status]", has_text="paused").wait_for()
    assert page.evaluate("document.activeElement.textContent") == "Start Trend bot"
    page.keyboard.press("Enter")  # keyboard: start it again
    panel.locator("[data-field=state]", has_text="running").wait_for()

    # Another client stops it: the page hears it on the live channel (no reload, no polling).
    stopped = httpx.post(
        f"{platform.url}/api/v1/bots/{bot_id}/stop", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert stopped.status_code == 200
    panel.locator("[data-field=state]", has_text="stopped").wait_for()
    panel.locator("dd[data-field=status]", has_text="paused").wait_for()

    # Edit a setting live; a bad one shows the API's message next to its field.
    panel.get_by_role("button", name="Edit configuration").click()
    edit = page.get_by_role("form", name="Configuration of Trend bot")
    edit.get_by_label("Cooldown (minutes)").fill("-5")
    edit.get_by_role("button", name="Save configuration").click()
    bad = page.locator(f"#bot-{bot_id}-cooldown-error")
    bad.wait_for()
    assert "greater than or equal to 0" in bad.inner_text()
    refused_once(session)
    edit.get_by_label("Cooldown (minutes)").fill("45")
    edit.get_by_label("Minimum temperature (0–100)").fill("70")
    edit.get_by_role("button", name="Save configuration").click()
    panel.locator("dd[data-field=cooldown]", has_text=re.compile(r"^45 min")).wait_for()
    assert "needs 70" in panel.locator("dd[data-field=temperature]").inner_text()
    saved = httpx.get(
        f"{platform.url}/api/v1/bots/{bot_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()
    assert saved["definition"]["bot"] == {
        "min_temperature": 70,
        "confirmation_minutes": 5,
        "cooldown_minutes": 45,
    }
    assert saved["running"] is False  # a retune keeps it stopped
    session.shot("bots-edited")

    _dark_and_phone_shots(session, "bots")


def test_what_is_typed_in_the_new_bot_form_stays_when_the_accounts_arrive(
    platform: Platform, session: Session
) -> None:
    """The accounts load after the page opened (a slow answer): the form's account choices grow, and
    what the user has typed meanwhile stays (the form used to be rebuilt empty)."""
    page = session.page
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route("**/api/v1/accounts", hold)
    session.sign_in(platform.url, "tv-test-sub1")
    page.get_by_role("link", name="Bots").click()
    form = page.get_by_role("form", name="New bot")
    form.get_by_label("Name").fill("Typed before the accounts")
    form.get_by_label("Pairs").fill("ETH/USDT")
    form.get_by_label("Cooldown (minutes)").fill("45")
    account = form.get_by_label("Account")
    assert account.locator("option").count() == 1  # only "My paper account" so far
    # The route handler runs when Playwright next dispatches events: wait for it, bounded.
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "the page asked for the accounts"
    for route in held:
        route.continue_()
    page.unroute("**/api/v1/accounts", hold)
    page.wait_for_function(
        "() => document.querySelectorAll('#bot-new-account option').length === 2", timeout=TIMEOUT_MS
    )
    assert form.get_by_label("Name").input_value() == "Typed before the accounts"
    assert form.get_by_label("Pairs").input_value() == "ETH/USDT"
    assert form.get_by_label("Cooldown (minutes)").input_value() == "45"


def test_the_provider_page_s_webhook_takes_alerts_and_its_passphrase_rotates(
    platform: Platform, chromium: Browser, tmp_path: Path
) -> None:
    with browser_session(chromium, tmp_path) as session:  # closed before the server stops
        session.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=platform.url)
        _provider(platform, session)


def _provider(platform: Platform, session: Session) -> None:
    page = session.page
    session.sign_in(platform.url, "provider-tv-test")
    page.locator("#live.on").wait_for()
    page.get_by_role("link", name="Provider").click()
    panel = page.locator("article[data-strategy=tv-test]")
    panel.wait_for()
    assert panel.locator("[data-field=subscribers]").inner_text() == "1 active subscriber"
    # A subscriber pauses and resumes elsewhere: the counts follow live (provider topic), nothing else.
    token = platform.token("tv-test-sub1")
    sub_id = platform.seeded.subscription_ids[0]
    for status, shown in (("PAUSED", "0 active subscribers"), ("ACTIVE", "1 active subscriber")):
        changed = httpx.patch(
            f"{platform.url}/api/v1/subscriptions/{sub_id}",
            json={"status": status},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert changed.status_code == 200, changed.text
        panel.locator("[data-field=subscribers]", has_text=shown).wait_for()
    url = panel.get_by_label("Webhook URL").input_value()
    assert url == f"{platform.url}/api/v1/webhooks/tradingview/tv-test"

    panel.get_by_role("button", name="Copy webhook URL").click()
    page.get_by_text("Copied to the clipboard.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == url

    # The URL shown takes an alert: its signal appears on the page live, with the subscriptions it reached.
    alert = {"passphrase": PASSPHRASE, "ticker": "BINANCE:BTCUSDT", "action": "buy", "id": "page-1"}
    accepted = httpx.post(url, json=alert, timeout=10)
    assert accepted.status_code == 202, accepted.text
    signal_id = accepted.json()["signal_id"]
    row = panel.locator(f"tr[data-signal='{signal_id}']")
    row.wait_for()
    row.locator("td[data-label='Subscriptions reached']", has_text="1").wait_for()
    assert "BTC/USDT" in row.inner_text()
    session.shot("provider-signal")

    # Rotation: asked twice, then shown once; the old passphrase is refused, the new one works.
    panel.get_by_role("button", name="Rotate passphrase").click()
    panel.get_by_role("button", name=re.compile("^Rotate now")).click()
    shown = panel.get_by_role("textbox", name=re.compile("^New passphrase"))
    shown.wait_for()
    new = shown.input_value()
    assert len(new) >= 16 and new != PASSPHRASE
    session.shot("provider-rotated")
    refused = httpx.post(url, json={**alert, "id": "page-2"}, timeout=10)
    assert refused.status_code == 401, refused.text
    taken = httpx.post(url, json={**alert, "passphrase": new, "id": "page-3"}, timeout=10)
    assert taken.status_code == 202, taken.text
    panel.locator(f"tr[data-signal='{taken.json()['signal_id']}']").wait_for()
    panel.get_by_role("button", name="Done, hide it").click()
    assert panel.get_by_role("textbox", name=re.compile("^New passphrase")).count() == 0
    assert new not in page.content()  # shown once: gone from the page

    # A blacklist override from the page, and the API's message for a bad pair next to its field.
    overrides = page.get_by_role("form", name="Override a pair of Strategy tv-test")
    overrides.get_by_label("Pair").fill("not a pair")
    overrides.get_by_role("button", name="Set override").click()
    page.locator("[id$=-new-symbol-error]").wait_for()
    refused_once(session)
    overrides.get_by_label("Pair").fill("ETH/USDT")
    overrides.get_by_label("Status").select_option("BLACKLISTED")
    overrides.get_by_role("button", name="Set override").click()
    pair = panel.locator("tr[data-pair='ETH/USDT']")
    pair.wait_for()
    assert "blacklisted" in pair.inner_text()
    session.shot("provider")
    _dark_and_phone_shots(session, "provider")
