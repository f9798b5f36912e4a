"""Confirm before trade on the dashboard, in a real browser (chromium through Playwright) against a
real server: a webhook's entry on a subscription with `confirmation: dashboard` appears live in
"Waiting for you" (no reload), on every page, with its order, levels, risk verdicts and countdown;
Confirm gives one filled order, Decline nothing; an unanswered one expires off the list; one answered
through the API while the page is open updates the page. The Marketplace sets the settings when
subscribing and changes them later. No script error or console complaint on the way."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import update

from tests.conftest import free_port
from tests.e2e.browser_support import Session, browser_session
from tests.e2e.test_confirm_http import ShiftedClock
from tests.seeding import Seeded
from tests.support import ServedRuntime, make_runtime, pin_prices, seed_marketplace, send_alert
from tradewire.adapters.store.tables import execution_intents

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator

TRADER = "tv-test-sub1"  # confirms on the dashboard, 120 s to answer
OTHER = "tv-test-sub2"  # no confirmation
LINGER_MS = 8_000  # an answered row shows its outcome 8 s, then leaves (store.js)


class Platform:
    def __init__(self, served: ServedRuntime, seeded: Seeded, clock: ShiftedClock) -> None:
        self.served = served
        self.seeded = seeded
        self.clock = clock
        self.url = served.url
        self.http = httpx.Client(base_url=served.url, timeout=10)
        self.sent = 0

    def alert(self, action: str = "buy") -> None:
        """A TradingView alert, handled by the trading loop (its intents made) when this returns: the
        webhook answers 202 before that."""
        self.sent += 1
        send_alert(self.url, action, self.sent)
        self.served.settle()

    def get(self, path: str, user: str = TRADER, **params: Any) -> Any:
        response = self.http.get(path, headers=self.served.token(user), params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def waiting(self) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/intents", status="awaiting_confirmation"))

    def orders(self, user: str = TRADER) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/orders", user))


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    clock = ShiftedClock()
    runtime = make_runtime(tmp_path, clock=clock)
    pin_prices(runtime, {"BTC/USDT": "60000"})
    seeded = seed_marketplace(
        runtime.engine, [{"confirmation": "dashboard", "confirmation_timeout_s": 120}, {}]
    )
    with ServedRuntime(runtime, free_port()) as served:
        yield Platform(served, seeded, clock)


@pytest.fixture
def session(platform: Platform, chromium: Browser, tmp_path: Path) -> Iterator[Session]:
    """A page, on a clock of Playwright's (time flows as usual until a test moves it on: _leaves); closed
    before the server stops (after `platform`)."""
    with browser_session(chromium, tmp_path) as session:
        session.page.clock.install()
        yield session


def _signed_in(session: Session, platform: Platform, user: str = TRADER) -> None:
    session.sign_in(platform.url, user)
    session.page.locator("#live.on").wait_for()  # subscribed: what follows arrives live


def _leaves(session: Session, row: Locator) -> None:
    """The answered `row` leaves the list once it has shown its outcome for LINGER_MS: the page's clock
    is moved on by that much (its timers due by then fire) instead of the test waiting it out."""
    session.page.clock.fast_forward(LINGER_MS)
    row.wait_for(state="detached", timeout=5_000)


def _proposal(session: Session, platform: Platform) -> tuple[dict[str, Any], Locator]:
    """A buy alert, and the waiting row it brings to the open page (no reload)."""
    platform.alert()
    row = session.page.locator("#waiting li.proposal")
    row.wait_for()
    [intent] = platform.waiting()
    return intent, session.page.locator(f"#waiting li[data-intent='{intent['id']}']")


def test_a_proposal_appears_live_on_every_page_and_confirm_gives_one_filled_order(
    platform: Platform, session: Session
) -> None:
    page = session.page
    _signed_in(session, platform)
    assert page.locator("#waiting").is_hidden()  # nothing waits: no panel
    assert page.locator("#waiting-count").is_hidden()

    intent, row = _proposal(session, platform)

    p = intent["proposal"]
    assert platform.orders() == []  # it waits: nothing ordered yet
    title = row.get_by_role("heading", name=f"Buy {p['amount']} BTC/USDT · intent #{intent['id']}")
    title.wait_for()
    terms = row.locator("dl.terms")
    assert terms.locator("div").filter(has_text="Price").locator("dd").inner_text() == "60000 USDT"
    assert terms.locator("div").filter(has_text="Notional").locator("dd").inner_text() == (
        f"about {p['notional']} USDT"
    )
    assert terms.locator("div").filter(has_text="Order type").locator("dd").inner_text() == "market"
    assert "asked on the dashboard" in row.inner_text()
    verdicts = [v for v in p["risk"] if isinstance(v, dict)]
    assert verdicts  # every rule's verdict travels with the proposal
    row.get_by_text(f"Risk: {len(verdicts)} of {len(verdicts)} rules passed").click()  # opens the list
    assert row.locator(".risk li").count() == len(verdicts)
    assert row.locator(".risk .chip.passed").count() == len(verdicts)
    countdown = row.locator(".countdown time")
    countdown.filter(has_text=re.compile(r"^[12]:\d\d left$")).wait_for()  # 120 s to answer
    page.locator("#waiting-count").filter(has_text="1 waiting").wait_for()
    page.wait_for_function("document.title === '(1) Portfolio · tradewire'")
    session.shot("waiting-portfolio")

    page.get_by_role("link", name="Marketplace").click()  # on every page
    page.get_by_role("heading", name="Marketplace").wait_for()
    row.get_by_role("button", name=f"Confirm intent #{intent['id']}: buy {p['amount']} BTC/USDT").wait_for()
    page.get_by_role("link", name="Portfolio").click()

    row.get_by_role("button", name=re.compile(r"^Confirm intent #")).click()

    row.locator(".outcome").filter(
        has_text=re.compile(r"Ordered: order #\d+, filled 0\.\d+ at 60000$")
    ).wait_for()
    session.shot("waiting-ordered")
    [order] = platform.orders()
    assert (order["state"], order["intent_id"]) == ("filled", intent["id"])
    assert f"order #{order['id']}" in row.locator(".outcome").inner_text()
    assert row.get_by_role("button").count() == 0  # answered: no second yes
    page.locator("table.positions tbody tr").filter(has_text="BTC/USDT").wait_for()
    _leaves(session, row)  # then it leaves the list
    assert page.locator("#waiting").is_hidden()
    page.wait_for_function("document.title === 'Portfolio · tradewire'")
    assert len(platform.orders()) == 1


def test_decline_trades_nothing(platform: Platform, session: Session) -> None:
    page = session.page
    _signed_in(session, platform)
    page.get_by_role("link", name="Activity").click()
    page.get_by_role("heading", name="Activity").wait_for()

    intent, row = _proposal(session, platform)
    row.get_by_role("button", name=re.compile(rf"^Decline intent #{intent['id']}: buy ")).click()

    row.locator(".outcome").filter(has_text=f"Declined: declined by {TRADER}: nothing traded").wait_for()
    session.shot("waiting-declined")
    _leaves(session, row)
    assert platform.orders() == [] and platform.waiting() == []
    [declined] = platform.get("/api/v1/intents")
    assert declined["status"] == "rejected"
    assert len(platform.orders(OTHER)) == 1  # the same alert traded at once where nobody is asked


def test_an_unanswered_proposal_expires_off_the_list(platform: Platform, session: Session) -> None:
    _signed_in(session, platform)
    intent, row = _proposal(session, platform)

    platform.clock.offset += timedelta(seconds=121)  # the server's clock only

    row.locator(".outcome").filter(has_text="Expired: not confirmed within 120 s: nothing traded").wait_for()
    assert row.get_by_role("button").count() == 0
    _leaves(session, row)
    assert platform.orders() == []
    assert intent["id"] not in [i["id"] for i in platform.waiting()]


def test_a_confirm_through_the_api_updates_the_open_page(platform: Platform, session: Session) -> None:
    page = session.page
    _signed_in(session, platform)
    intent, row = _proposal(session, platform)
    page.locator("#waiting-count").filter(has_text="1 waiting").wait_for()

    answer = platform.http.post(
        f"/api/v1/intents/{intent['id']}/confirm", headers=platform.served.token(TRADER)
    )
    assert answer.status_code == 200, answer.text

    row.locator(".outcome").filter(has_text=re.compile(r"Ordered: order #\d+")).wait_for()
    assert row.get_by_role("button").count() == 0
    assert page.locator("#waiting-count").is_hidden()  # nothing waits for an answer any more
    _leaves(session, row)
    assert [o["state"] for o in platform.orders()] == ["filled"]


def test_a_proposal_made_before_the_page_opened_is_listed_and_two_wait_together(
    platform: Platform, session: Session
) -> None:
    page = session.page
    platform.alert()  # before sign-in: loaded over REST
    [first] = platform.waiting()
    _signed_in(session, platform)
    page.locator(f"#waiting li[data-intent='{first['id']}']").wait_for()

    page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    session.shot("waiting-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    platform.alert()  # a second while the first waits
    second = page.locator("#waiting li.proposal").nth(1)
    second.wait_for()
    page.locator("#waiting-count").filter(has_text="2 waiting").wait_for()
    page.get_by_role("heading", name="Waiting for you (2)").wait_for()

    page.locator(f"#waiting li[data-intent='{first['id']}']").get_by_role(
        "button", name=re.compile("^Decline")
    ).click()
    page.locator("#waiting-count").filter(has_text="1 waiting").wait_for()
    assert page.locator("#waiting li.proposal").count() == 2  # the declined one shows its outcome a while
    session.shot("waiting-two")


def test_the_marketplace_sets_and_changes_the_confirmation(platform: Platform, session: Session) -> None:
    page = session.page
    headers = platform.served.token(OTHER)
    made = platform.http.post("/api/v1/accounts", headers=headers, json={"name": "Second"})
    assert made.status_code == 201, made.text
    _signed_in(session, platform, OTHER)
    page.get_by_role("link", name="Marketplace").click()

    form = page.get_by_role("form", name="Subscribe to Strategy tv-test")
    form.get_by_label("Account").select_option(label="Second (paper)")
    assert form.get_by_label("Answer within (seconds)").is_disabled()  # none: nothing waits
    form.get_by_label("Confirm before trade").select_option("api")
    form.get_by_label("Answer within (seconds)").fill("5")  # below the 10 s minimum
    form.get_by_role("button", name="Subscribe to Strategy tv-test").click()
    assert form.evaluate("f => f.checkValidity()") is False  # the browser refused to send it
    assert len(platform.get("/api/v1/subscriptions", OTHER)) == 1
    form.get_by_label("Answer within (seconds)").fill("600")
    form.get_by_label("Price drift allowed (%)").fill("0.5")
    form.get_by_role("button", name="Subscribe to Strategy tv-test").click()

    row = page.locator("tr[data-subscription]").filter(has_text="Second")
    row.filter(has_text="on api, 600 s, drift 0.5 %").wait_for()
    created = [
        s for s in platform.get("/api/v1/subscriptions", OTHER) if s["account_id"] == made.json()["id"]
    ]
    assert [
        (s["confirmation"], s["confirmation_timeout_s"], s["max_confirm_drift_pct"]) for s in created
    ] == [("api", 600, "0.5")]

    first = page.locator(f"tr[data-subscription='{platform.seeded.subscription_ids[1]}']")
    first.get_by_role("button", name=re.compile(r"^Confirmation settings of tv-test on ")).click()
    editor = page.get_by_role("form", name=re.compile(r"^Confirmation settings of tv-test on "))
    editor.get_by_label("Confirm before trade").select_option("dashboard")
    editor.get_by_label("Answer within (seconds)").fill("60")
    editor.get_by_label("Price drift allowed (%)").fill("2")
    editor.get_by_role("button", name="Save").click()
    page.get_by_text(re.compile(r"^Saved the confirmation settings of tv-test on ")).wait_for()
    session.shot("marketplace-confirmation")
    changed = [
        s for s in platform.get("/api/v1/subscriptions", OTHER) if s["account_id"] != made.json()["id"]
    ]
    assert [
        (s["confirmation"], s["confirmation_timeout_s"], s["max_confirm_drift_pct"]) for s in changed
    ] == [("dashboard", 60, "2")]

    platform.alert()  # the change applies to the next entry: it now waits on the page
    page.locator("#waiting li.proposal").filter(has_text="asked on the dashboard").wait_for()
    assert platform.orders(OTHER) == []


HOSTILE = '<img src=x onerror="window.owned=1">'


def test_what_a_proposal_holds_is_shown_as_text_never_as_markup(platform: Platform, session: Session) -> None:
    platform.alert()
    [intent] = platform.waiting()
    proposal = {
        **intent["proposal"],
        "symbol": f"BTC/USDT{HOSTILE}",
        "sizing_note": f"sized {HOSTILE}",
        "risk": [{"rule": f"rule{HOSTILE}", "passed": False, "detail": f"detail {HOSTILE}"}],
    }
    with platform.served.runtime.engine.begin() as conn:  # as a hand (or an older version) wrote it
        conn.execute(
            update(execution_intents).where(execution_intents.c.id == intent["id"]).values(proposal=proposal)
        )
    page = session.page
    _signed_in(session, platform)

    row = page.locator(f"#waiting li[data-intent='{intent['id']}']")
    row.get_by_text(f"sized {HOSTILE}").wait_for()  # the words, not an element
    row.get_by_text(f"detail {HOSTILE}").wait_for()  # a failed rule opens the list
    assert row.locator(".risk .chip.failed").count() == 1
    assert HOSTILE in row.get_by_role("heading").inner_text()
    assert page.locator("#waiting img").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.owned") is None
