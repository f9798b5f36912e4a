"""The dashboard's Settings page in a real browser (chromium through Playwright) against a real server.
Telegram (the fake Bot API): a link code got on the page is sent by the fake user as `/start CODE`, the
page shows the chat linked after "Check again", a notification turned off is off in GET /telegram, the
daily summary is saved with the browser's zone (an unknown zone refused next to its field) and removed,
and the chat is unlinked. A server without a bot says so and the link button is disabled. Outgoing
webhooks (a local receiver, private addresses allowed): a refused address is named next to the URL
field, a webhook made on the page shows its secret once (gone after a reload), its test message arrives
signed with that secret and the page says "Delivered", it is disabled, then deleted after a confirmation.
Its Edit form changes its address, kind and notifications; a refused address is named next to the URL
field until the URL is edited. Screenshots (light, dark, phone width) go under the test's temporary
directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.browser_support import Session, browser_session
from tests.fakes.telegram_api import BOT_USERNAME, FakeTelegram
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.support import ServedRuntime, make_runtime, seed_marketplace
from tradewire.adapters.secrets_box import generate_key

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHAT = 626262
REFUSED = "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"


class Platform:
    def __init__(self, served: ServedRuntime) -> None:
        self.served = served
        self.url = served.url
        self.headers = served.token("tv-test-sub1")

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=self.headers, timeout=10, **kw)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, fake: FakeTelegram) -> Iterator[Platform]:
    """A server with a Telegram bot (the fake Bot API) and outgoing webhooks to local addresses."""
    runtime = make_runtime(
        tmp_path_factory.mktemp("dashsettings"),
        telegram_token=fake.token,
        telegram_api_url=fake.url,
        telegram_poll_timeout_s=1,
        telegram_notify_interval_s=0.1,
        encryption_key=generate_key(),
        webhooks_allow_private=True,
        webhooks_interval_s=0.1,
        webhooks_timeout_s=5.0,
    )
    seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served:
        fake.wait_until(lambda: runtime.telegram.bot is not None and runtime.telegram.bot.username)
        yield Platform(served)


@pytest.fixture(scope="module")
def botless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    runtime = make_runtime(tmp_path_factory.mktemp("dashsettings-nobot"))
    seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served:
        yield Platform(served)


@pytest.fixture
def session(chromium: Browser, tmp_path: Path) -> Iterator[Session]:
    with browser_session(chromium, tmp_path, timezone_id="Europe/Berlin") as session:
        yield session


def refused_once(session: Session) -> None:
    """The browser logs the 422 a test asked for as an error: that one, and nothing else, is expected."""
    assert session.errors == [REFUSED], session.errors
    session.errors.clear()


def open_settings(session: Session, url: str) -> None:
    page = session.page
    session.sign_in(url, "tv-test-sub1")
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("heading", name="Settings", exact=True).wait_for()
    page.get_by_role("heading", name="Telegram").wait_for()
    page.locator("[data-field=telegram-state]").wait_for()


def test_a_chat_is_linked_from_the_page_its_notices_and_summary_set_then_unlinked(
    platform: Platform, fake: FakeTelegram, session: Session
) -> None:
    page = session.page
    open_settings(session, platform.url)
    state = page.locator("[data-field=telegram-state]")
    assert state.inner_text() == "No chat is linked."

    page.get_by_role("button", name="Get a link code").click()
    code = page.get_by_label("One-time link code").input_value()
    assert len(code) >= 6
    instruction = page.locator("[data-field=instruction]").inner_text()
    assert f"Send /start {code} to @{BOT_USERNAME}" in instruction and "It works once, until" in instruction
    assert page.locator("#tg-open").get_attribute("href") == f"https://t.me/{BOT_USERNAME}?start={code}"
    assert page.evaluate("document.activeElement.id") == "tg-code"
    session.shot("settings-link-code")

    # The user sends the code in Telegram; the page learns of it when asked again.
    before = len(fake.sent(CHAT))
    fake.user_says(CHAT, f"/start {code}")
    assert "Linked to tv-test-sub1" in fake.wait_for(CHAT, before + 1)[-1].text
    page.get_by_role("button", name="Check again").click()
    state.filter(has_text="A chat is linked").wait_for()
    assert page.get_by_label("One-time link code").count() == 0
    assert platform.api("GET", "/telegram").json()["linked"] is True

    # A notification turned off on the page is off for the API; the others stay on.
    box = page.get_by_label("Signal received")
    assert box.is_checked()
    box.uncheck()
    page.get_by_role("status").filter(has_text="Signal received: off.").wait_for()
    assert not page.get_by_label("Signal received").is_checked()
    assert page.evaluate("document.activeElement.id") == "tg-notice-signal_received"
    notices = platform.api("GET", "/telegram").json()["notifications"]
    assert notices["signal_received"] is False
    assert all(on for name, on in notices.items() if name != "signal_received")
    assert page.locator("fieldset.notices input[type=checkbox]").count() == len(notices)

    # The daily summary: the browser's zone is proposed; an unknown one is refused next to its field.
    summary = page.get_by_role("form", name="Daily summary")
    zone = summary.get_by_label("Time zone")
    assert zone.input_value() == "Europe/Berlin"
    zone.fill("Mars/Olympus_Mons")
    summary.get_by_role("button", name="Send a daily summary").click()
    note = page.locator("#tg-zone-error")
    note.wait_for()
    assert "unknown time zone" in note.inner_text()
    assert zone.get_attribute("aria-invalid") == "true"
    refused_once(session)
    assert platform.api("GET", "/telegram").json()["daily_summary"] is None
    zone.fill("Europe/Berlin")
    summary.get_by_label("Hour").select_option("7")
    summary.get_by_role("button", name="Send a daily summary").click()
    page.locator("[data-field=summary]", has_text="from 07:00 Europe/Berlin").wait_for()
    assert platform.api("GET", "/telegram").json()["daily_summary"]["hour"] == 7
    session.shot("settings-telegram-linked")
    page.get_by_role("button", name="Stop the summary").click()
    page.locator("[data-field=summary]", has_text="None").wait_for()
    assert platform.api("GET", "/telegram").json()["daily_summary"] is None

    page.get_by_role("button", name="Unlink the chat").click()
    state.filter(has_text="No chat is linked.").wait_for()
    assert platform.api("GET", "/telegram").json()["linked"] is False
    assert page.evaluate("document.activeElement.id") == "tg-get-code"


def test_a_server_without_a_bot_says_so_and_offers_no_code(botless: Platform, session: Session) -> None:
    page = session.page
    open_settings(session, botless.url)
    assert "runs no Telegram bot" in page.locator("[data-field=telegram-state]").inner_text()
    assert page.get_by_role("button", name="Get a link code").is_disabled()
    # Without an encryption key the server keeps no webhooks: its 403 is shown on the form.
    form = page.get_by_role("form", name="New webhook")
    form.get_by_label("Webhook URL").fill("https://example.com/hook")
    form.get_by_role("button", name="Add webhook").click()
    form.get_by_role("alert").filter(has_text="TRADEWIRE_ENCRYPTION_KEY").wait_for()
    assert session.errors == [
        "Failed to load resource: the server responded with a status of 403 (Forbidden)"
    ], session.errors
    session.errors.clear()
    session.shot("settings-no-bot")


def test_a_webhook_is_made_tested_disabled_and_deleted_from_the_page(
    platform: Platform, receiver: WebhookReceiver, session: Session
) -> None:
    page = session.page
    open_settings(session, platform.url)
    page.get_by_text("No webhooks yet.").wait_for()
    form = page.get_by_role("form", name="New webhook")

    # An address the server will not call: its reason next to the URL field, nothing made.
    form.get_by_label("Webhook URL").fill("ftp://example.com/hook")
    form.get_by_role("button", name="Add webhook").click()
    note = page.locator("#wh-url-error")
    note.wait_for()
    assert "must be an http:// or https:// URL" in note.inner_text()
    refused_once(session)
    assert platform.api("GET", "/webhooks/outgoing").json() == []

    url = f"{receiver.url}/page"
    form.get_by_label("Webhook URL").fill(url)
    form.get_by_label("Kind").select_option("discord")
    form.get_by_role("button", name="Add webhook").click()
    secret_box = page.get_by_label(f"Signing secret of {url}")
    secret_box.wait_for()
    secret = secret_box.input_value()
    assert secret.startswith("whsec_")
    assert "will not be shown again" in page.locator("[data-field=secret-warning]").inner_text()
    assert page.evaluate("document.activeElement.id") == "wh-secret"
    row = page.locator("tr[data-hook]").filter(has_text=url)
    assert row.locator("td[data-label=Kind]").inner_text() == "discord"
    assert row.locator("[data-field=state]").inner_text() == "enabled"
    session.shot("settings-webhook-secret")

    # The secret is this page's memory only: gone after a reload, and never in the API's list.
    page.reload()
    page.get_by_role("link", name="Settings").wait_for()
    page.locator("tr[data-hook]").filter(has_text=url).wait_for()
    assert page.locator("#wh-secret").count() == 0
    assert secret not in page.content()
    listed = platform.api("GET", "/webhooks/outgoing").json()
    assert len(listed) == 1 and "secret" not in listed[0]

    row.get_by_role("button", name="Send a test").click()
    outcome = row.locator("[data-field=outcome]")
    outcome.wait_for()
    assert outcome.inner_text().startswith("Delivered (HTTP 204)")
    assert page.evaluate("document.activeElement.textContent") == "Send a test"
    (test_message,) = receiver.wait_for(1, "/page")
    assert test_message.signed_by(secret) and "content" in test_message.json
    # An endpoint that fails: what it answered, once (a test is never tried again).
    receiver.error(500, "/page", message="receiver down")
    row.get_by_role("button", name="Send a test").click()
    outcome.filter(has_text="Not delivered (HTTP 500): answered 500:").wait_for()
    assert "receiver down" in outcome.inner_text()
    assert len(receiver.wait_for(2, "/page")) == 2

    row.get_by_role("button", name="Disable").click()
    row.locator("[data-field=state]", has_text="disabled").wait_for()
    assert platform.api("GET", "/webhooks/outgoing").json()[0]["enabled"] is False
    assert page.evaluate("document.activeElement.textContent") == "Enable"

    # Phone width and dark mode keep the page usable.
    page.set_viewport_size({"width": 390, "height": 844})
    session.shot("settings-phone")
    page.get_by_role("button", name="Dark mode").click()
    session.shot("settings-phone-dark")
    page.set_viewport_size({"width": 1280, "height": 900})

    row.get_by_role("button", name="Delete").click()
    assert platform.api("GET", "/webhooks/outgoing").json() != []  # asked first, nothing deleted yet
    page.get_by_role("button", name="Delete it: nothing more is sent there").click()
    page.get_by_text("No webhooks yet.").wait_for()
    assert platform.api("GET", "/webhooks/outgoing").json() == []


def test_a_webhooks_address_kind_and_notifications_are_changed_from_the_page(
    platform: Platform, receiver: WebhookReceiver, session: Session
) -> None:
    made = platform.api("POST", "/webhooks/outgoing", json={"url": f"{receiver.url}/before", "kind": "json"})
    assert made.status_code == 201, made.text
    hook_id = made.json()["id"]
    page = session.page
    open_settings(session, platform.url)
    row = page.locator(f"tr[data-hook='{hook_id}']")
    edit = row.get_by_role("button", name=f"Edit {receiver.url}/before")
    assert edit.get_attribute("aria-expanded") == "false"

    # Opened with the keyboard: the form holds what the webhook has, the focus on its URL; Escape
    # closes it and gives the focus back.
    edit.focus()
    page.keyboard.press("Enter")
    form = page.get_by_role("form", name=f"Edit webhook {receiver.url}/before")
    url = form.get_by_label("URL")
    assert url.input_value() == f"{receiver.url}/before"
    assert form.get_by_label("Kind").input_value() == "json"
    assert page.evaluate("document.activeElement.id") == "wh-edit-url"
    assert edit.get_attribute("aria-expanded") == "true"
    boxes = form.locator("fieldset.notices input[type=checkbox]")
    assert boxes.count() == len(made.json()["notices"]) and all(
        boxes.nth(n).is_checked() for n in range(boxes.count())
    )
    page.keyboard.press("Escape")
    form.wait_for(state="detached")
    assert page.evaluate("document.activeElement.id") == f"wh-{hook_id}-edit"

    # What the API refuses is said next to the field it names, and nothing changes.
    edit.click()
    url.fill("ftp://example.com/hook")
    form.get_by_role("button", name="Save changes").click()
    note = page.locator("#wh-edit-url-error")
    note.wait_for()
    assert "must be an http:// or https:// URL" in note.inner_text()
    assert url.get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "wh-edit-url"
    refused_once(session)
    url.fill("http:/")  # shorter than any address: the schema's own 422, on the same field
    form.get_by_role("button", name="Save changes").click()
    note.filter(has_text="at least 8 characters").wait_for()
    refused_once(session)
    [unchanged] = platform.api("GET", "/webhooks/outgoing").json()
    assert unchanged["url"] == f"{receiver.url}/before" and unchanged["kind"] == "json"

    session.shot("settings-webhook-edit-refused")

    # A new address, kind and a notification off. Editing the other fields leaves the URL's message;
    # correcting the URL takes it away at once, before any save (it spoke of a value no longer there).
    form.get_by_label("Kind").select_option("slack")
    form.get_by_label("Signal received").uncheck()
    assert note.count() == 1 and url.get_attribute("aria-invalid") == "true"
    url.fill(f"{receiver.url}/after")
    note.wait_for(state="detached", timeout=5000)
    assert url.get_attribute("aria-invalid") is None and url.get_attribute("aria-describedby") is None
    assert form.locator(".field-error").count() == 0
    session.shot("settings-webhook-edit")
    page.get_by_role("button", name="Dark mode").click()
    session.shot("settings-webhook-edit-dark")
    form.get_by_role("button", name="Save changes").click()
    page.get_by_role("status").filter(has_text=f"Webhook {receiver.url}/after changed.").wait_for()
    assert form.count() == 0
    [changed] = platform.api("GET", "/webhooks/outgoing").json()
    assert (changed["url"], changed["kind"], changed["enabled"]) == (f"{receiver.url}/after", "slack", True)
    assert changed["notices"]["signal_received"] is False
    assert all(on for name, on in changed["notices"].items() if name != "signal_received")
    assert row.locator("td[data-label=Kind]").inner_text() == "slack"
    assert row.locator("td[data-label=Notifications]").inner_text() == "all but Signal received"
    assert page.evaluate("document.activeElement.id") == f"wh-{hook_id}-edit"
    row.get_by_role("button", name="Send a test").click()
    row.locator("[data-field=outcome]").filter(has_text="Delivered").wait_for()
    (sent,) = receiver.wait_for(1, "/after")
    assert "text" in sent.json

    # Nothing changed: nothing is sent. (The form opens again without any message.)
    row.get_by_role("button", name=f"Edit {receiver.url}/after").click()
    page.locator("#wh-edit").wait_for()
    assert page.locator("#wh-edit .field-error, #wh-edit [aria-invalid]").count() == 0
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("status").filter(has_text="Nothing changed.").wait_for()
    assert platform.api("GET", "/webhooks/outgoing").json() == [changed]
    platform.api("DELETE", f"/webhooks/outgoing/{hook_id}")
