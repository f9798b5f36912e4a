"""The dashboard in a real browser (chromium through Playwright) against a real server: sign in, a
webhook's order and position appearing live (no reload), closing the position from the page, the
activity feed and its filters, dark mode remembered across a reload that stays signed in, and no
Content-Security-Policy violation or script error on the way. Screenshots of each page are saved
under the test's temporary directory."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pyotp
import pytest

from tests.conftest import free_port
from tests.e2e.browser_support import Platform, Session, browser_page, browser_session, served_platform
from tests.e2e.test_signin_http import ManualClock
from tests.support import (
    PASSWORD,
    ServedRuntime,
    make_runtime,
    pin_prices,
    seed_marketplace,
)
from tradewire.adapters.secrets_box import generate_key

if TYPE_CHECKING:
    from playwright.sync_api import Browser, WebSocket


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    runtime = make_runtime(tmp_path_factory.mktemp("dashboard"))
    # sub1 trades, sub2 subscribes from the page
    with served_platform(runtime, [{}, {}], Platform) as platform:
        yield platform


def test_a_webhook_becomes_a_live_position_that_closes_from_the_page(
    platform: Platform, session: Session
) -> None:
    page = session.page
    session.sign_in(platform.url, "tv-test-sub1")
    page.get_by_text("No open positions.").wait_for()
    page.locator("#live.on").wait_for()  # subscribed to the live channel
    session.shot("portfolio-empty")

    platform.alert("buy")

    row = page.locator("table.positions tbody tr").filter(has_text="BTC/USDT")
    row.wait_for()  # no reload: the position came over the WebSocket
    row.locator("td[data-label=Mark]").filter(has_text=re.compile(r"\d")).wait_for()
    session.shot("portfolio-open-position")

    page.get_by_role("link", name="Skip to content").focus()  # first in the page; then the pages
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Activity"
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Activity").wait_for()
    page.get_by_role("link", name="Skip to content").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main" and page.url.endswith("#/activity")
    feed = page.get_by_role("list", name="Activity, newest first")
    feed.locator("li[data-kind=order]").filter(has_text="filled").first.wait_for()
    feed.locator("li[data-kind=intent]").first.wait_for()
    feed.locator("li[data-kind=fill]").first.wait_for()
    page.get_by_label("Status").select_option("filled")
    assert feed.locator("li[data-kind=intent]").count() == 0  # only what is filled
    session.shot("activity")
    page.get_by_label("Status").select_option("")

    page.get_by_role("link", name="Portfolio").click()
    close = page.get_by_role("button", name=re.compile(r"^Close BTC.USDT on "))
    close.click()
    page.get_by_role("button", name=re.compile(r"^Close BTC.USDT on ")).filter(
        has_text="Confirm close"
    ).click()
    page.get_by_text("No open positions.").wait_for()
    page.locator(".card").filter(has_text="Closed / open").filter(has_text="1 / 0").wait_for()
    page.locator(".chart canvas").first.wait_for()
    session.shot("portfolio-closed")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    session.shot("portfolio-phone")
    page.get_by_role("link", name="Activity").click()
    page.locator("li[data-kind=order]").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    session.shot("activity-phone")


def test_an_account_is_added_and_subscribed_from_the_marketplace(
    platform: Platform, session: Session
) -> None:
    page = session.page
    session.sign_in(platform.url, "tv-test-sub2")
    page.get_by_role("link", name="Accounts").click()
    page.locator("[data-account]").filter(has_text="Equity:").wait_for()
    page.get_by_label("Account name").fill("Second")
    page.get_by_role("button", name="Add paper account").click()
    second = page.locator("[data-account]").filter(has_text="Second")
    second.filter(has_text="Equity: 10000.00 USDT").wait_for()
    session.shot("accounts")

    page.get_by_role("link", name="Marketplace").click()
    strategy = page.locator("article[data-strategy=tv-test]")
    strategy.get_by_role("button", name="Track record").click()
    strategy.get_by_text(re.compile(r"trades from its signals|No closed trades yet")).wait_for()
    form = strategy.get_by_role("form", name="Subscribe to Strategy tv-test")
    form.get_by_label("Account").select_option(label="Second (paper)")
    form.get_by_label("Pairs (blank: all)").fill("btc/usdt")
    form.get_by_label("Sizing").select_option("fixed_quote")
    form.get_by_label("Size", exact=True).fill("50")
    form.get_by_role("button", name="Subscribe to Strategy tv-test").click()

    row = page.locator("tr[data-subscription]").filter(has_text="Second")
    row.filter(has_text="BTC/USDT").filter(has_text="active").wait_for()
    session.shot("marketplace")
    row.get_by_role("button", name="Pause tv-test on Second").click()
    row.filter(has_text="paused").wait_for()
    row.get_by_role("button", name="Resume tv-test on Second").click()
    row.filter(has_text="active").wait_for()
    row.get_by_role("button", name="Cancel tv-test on Second").click()
    row.filter(has_text="cancelled").wait_for()
    assert row.get_by_role("button").count() == 0  # a cancelled subscription is final


def test_dark_mode_is_remembered_and_a_reload_stays_signed_in(platform: Platform, session: Session) -> None:
    page = session.page
    session.sign_in(platform.url, "tv-test-sub1")
    assert page.evaluate("document.documentElement.dataset.theme") is None  # follows the system

    page.get_by_role("button", name="Switch to dark mode").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()

    page.get_by_role("navigation", name="Pages").wait_for()  # signed in again from the cookie
    assert page.locator("#who").inner_text() == "tv-test-sub1"
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.get_by_role("button", name="Switch to light mode").wait_for()
    page.locator("#live.on").wait_for()
    session.shot("portfolio-dark")
    cookies = page.context.cookies()
    assert [c["name"] for c in cookies] == ["tradewire_refresh"]
    assert cookies[0]["httpOnly"] and cookies[0]["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # no token reachable from scripts

    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username").wait_for()
    page.reload()
    page.get_by_label("Username").wait_for()  # signed out stays signed out
    assert page.get_by_role("navigation", name="Pages").is_hidden()


def test_after_a_server_restart_the_page_resumes_with_since_and_misses_nothing(
    chromium: Browser,
    tmp_path: Path,
) -> None:
    port = free_port()
    first = make_runtime(tmp_path)  # the second one opens the same database (and token secret)
    pin_prices(first, {"BTC/USDT": "60000"})
    seeded = seed_marketplace(first.engine, [{}])
    subscribes: list[dict[str, object]] = []

    def watch(socket: WebSocket) -> None:
        def sent(payload: str | bytes) -> None:
            message = json.loads(payload)
            if message.get("op") == "subscribe":
                subscribes.append(message)

        socket.on("framesent", sent)

    with browser_page(chromium, tmp_path) as session:
        session.page.on("websocket", watch)
        with ServedRuntime(first, port) as served:
            platform = Platform(served, seeded)
            session.sign_in(platform.url, "tv-test-sub1")
            session.page.locator("#live.on").wait_for()
            platform.alert("buy")
            session.page.locator("table.positions tbody tr").filter(has_text="BTC/USDT").wait_for()
        session.page.locator("#live:not(.on)").wait_for()  # the server went away under it

        second = make_runtime(tmp_path)
        pin_prices(second, {"BTC/USDT": "60000"})
        with ServedRuntime(second, port) as served:
            platform = Platform(served, seeded)
            platform.sent = 100
            platform.alert("sell")  # maybe before the page is back: `since` brings it
            session.page.get_by_text("No open positions.").wait_for()
            session.page.locator("#live.on").wait_for()
            session.page.get_by_role("link", name="Activity").click()
            session.page.locator("li[data-kind=order]").filter(has_text="sell").first.wait_for()
            session.shot("activity-after-restart")
    assert subscribes[0]["since"] is None
    assert len(subscribes) >= 2
    resumed = subscribes[-1]["since"]
    assert isinstance(resumed, int) and resumed > 0  # the last event it had: nothing missed, nothing twice
    assert session.errors == [] or all(
        "WebSocket" in e or "ERR_CONNECTION_REFUSED" in e for e in session.errors
    )


def test_a_user_with_two_factor_sign_in_is_asked_for_the_code(
    chromium: Browser,
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    runtime = make_runtime(tmp_path, clock=clock, encryption_key=generate_key())
    seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served, browser_page(chromium, tmp_path) as session:
        auth = served.token("tv-test-sub1")
        secret = httpx.post(f"{served.url}/api/v1/auth/totp", headers=auth).json()["secret"]
        totp = pyotp.TOTP(secret)
        code = {"code": totp.at(clock.at)}
        assert (
            httpx.post(f"{served.url}/api/v1/auth/totp/confirm", headers=auth, json=code).status_code == 204
        )
        clock.advance(seconds=30)  # a code works once: the next one signs in
        page = session.page
        page.goto(served.url + "/")
        assert page.get_by_label("Two-factor code").is_hidden()
        page.get_by_label("Username").fill("tv-test-sub1")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

        page.get_by_label("Two-factor code").fill(totp.at(clock.at))  # shown once the server asks
        session.shot("signin-two-factor")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("navigation", name="Pages").wait_for()
    # The 401 that asked for the code is the browser's only complaint.
    assert session.errors == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]


def test_a_backtest_runs_with_progress_and_charts_its_trades(
    chromium: Browser,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    runtime = make_runtime(tmp_path, data_dir=data_dir)
    seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served, browser_session(chromium, tmp_path) as session:
        page = session.page
        session.sign_in(served.url, "tv-test-sub1")
        page.get_by_role("link", name="Backtests").click()
        page.get_by_label("Strategy").select_option("ema_cross")
        page.get_by_label("Symbol").fill("BTC/USDT")
        page.get_by_label("Timeframe").select_option("5m")
        page.get_by_role("button", name="Run backtest").click()

        run = page.locator("[data-backtest]").first
        run.get_by_role("progressbar", name=re.compile(r"Backtest #\d+ progress")).wait_for()
        run.filter(has_text="done").wait_for(timeout=60_000)  # the live channel said so
        page.get_by_role(
            "heading", name=re.compile(r"Backtest #\d+: ema_cross on BTC.USDT \(5m\)")
        ).wait_for()
        page.get_by_role("img", name="BTC/USDT candles with the backtest's entries and exits").locator(
            "canvas"
        ).first.wait_for()
        page.get_by_role("img", name="Equity of the backtest").locator("canvas").first.wait_for()
        page.get_by_role("heading", name="Per exit reason").wait_for()
        page.wait_for_timeout(300)  # the charts' first frame
        session.shot("backtest")


def test_a_session_ended_elsewhere_brings_the_page_back_to_sign_in(
    chromium: Browser,
    tmp_path: Path,
) -> None:
    runtime = make_runtime(tmp_path, ws_session_check_s=0.2)
    seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served, browser_page(chromium, tmp_path) as session:
        page = session.page
        session.sign_in(served.url, "tv-test-sub1")
        page.locator("#live.on").wait_for()
        change = {"current_password": PASSWORD, "new_password": "a much longer new passphrase 42"}
        changed = httpx.post(
            f"{served.url}/api/v1/auth/password", headers=served.token("tv-test-sub1"), json=change
        )
        assert changed.status_code == 200, changed.text  # every other session of the user ends

        page.get_by_role("alert").filter(has_text="Your session ended: sign in again.").wait_for()
        assert page.get_by_role("navigation", name="Pages").is_hidden()
        session.shot("session-ended")
    # The refused refresh (401) is the browser's only complaint.
    assert set(session.errors) <= {
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    }


def test_phone_width_sign_in_page(chromium: Browser, platform: Platform, tmp_path: Path) -> None:
    context = chromium.new_context(viewport={"width": 390, "height": 800}, color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(platform.url + "/")
        page.get_by_label("Username").wait_for()
        page.screenshot(path=str(tmp_path / "signin-phone-dark.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing wider than the screen
        page.get_by_label("Password").fill("wrong password!")
        page.get_by_label("Username").fill("tv-test-sub1")
        page.keyboard.press("Enter")  # keyboard only
        page.get_by_role("alert").filter(has_text="wrong username or password").wait_for()
    finally:
        context.close()
    print(f"screenshot: {tmp_path}")
