"""The dashboard's health and risk views in a real browser (chromium through Playwright) against a
real server: the Portfolio page's risk usage (a bar per limit with its numbers, moving live when a
webhook opens a position, never another user's subscriptions); open positions' marks and unrealised
PnL following the price live (pushed marks, no reload, no polling); the Health page (database, bus,
monitor lag, WebSocket clients, exchanges; the last errors for admins only) and the Accounts page's
exchange health. Screenshots under the test's tmp
dir."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.browser_support import Platform, Session, browser_session, served_platform
from tests.support import (
    PASSWORD,
    ServedRuntime,
    add_paper_subscriptions,
    make_runtime,
    now,
    pin_prices,
    quick_hash,
    seed_marketplace,
)
from tradewire.domain.members import Role

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    runtime = make_runtime(tmp_path_factory.mktemp("dashboard-health"), ws_marks_s=0.3)
    # sub1 trades with 3 positions per strategy at most; sub2 is someone else, limits of their own.
    subscriptions = [
        {"risk_limits": {"cooldown_s": 0, "max_positions_per_strategy": 3}},
        {"risk_limits": {"max_positions_total": 9}},
    ]
    with served_platform(runtime, subscriptions, Platform) as platform:
        runtime.members.create_user("root", quick_hash(PASSWORD), now(), Role.ADMIN)
        yield platform


def test_risk_usage_shows_each_limit_and_moves_live(platform: Platform, session: Session) -> None:
    page = session.page
    session.sign_in(platform.url, "tv-test-sub1")
    page.locator("#live.on").wait_for()
    panel = page.get_by_role("region", name="Risk usage")
    [mine] = platform.seeded.subscription_ids[:1]
    card = panel.locator(f"article[data-subscription='{mine}']")
    card.wait_for()
    assert (card.get_attribute("aria-label") or "").startswith("Risk of tv-test on ")
    per = card.locator("[data-rule=positions_per_strategy]")
    per.filter(has_text="0 of 3").wait_for()
    assert card.locator("[data-rule=positions_total]").inner_text().endswith("0 of 50")
    assert "0.00 USDT of" in card.locator("[data-rule=daily_loss]").inner_text()
    assert card.locator("[data-rule=drawdown]").inner_text().startswith("Drawdown\n0.0 % of 25.0 %")
    # Only this user's subscription: the other subscriber's is not on the page.
    assert panel.locator("article").count() == 1
    assert panel.locator(f"article[data-subscription='{platform.seeded.subscription_ids[1]}']").count() == 0
    session.shot("portfolio-risk-empty")

    platform.alert("buy")
    per.filter(has_text="1 of 3").wait_for()  # no reload: the live channel said a position opened
    bar = per.locator("meter")
    assert bar.get_attribute("value") == "1" and bar.get_attribute("max") == "3"
    assert (bar.get_attribute("aria-label") or "").endswith(": 1 of 3")
    assert card.locator("[data-rule=positions_total]").inner_text().endswith("1 of 50")
    session.shot("portfolio-risk-one-position")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the bars stack, still readable
    per.filter(has_text="1 of 3").wait_for()
    session.shot("portfolio-risk-phone")


def test_risk_usage_shows_every_subscription_beyond_one_page(platform: Platform, session: Session) -> None:
    # 120 subscriptions on 120 accounts: the API answers 100 a page, the panel asks for the rest.
    runtime = platform.served.runtime
    user = runtime.members.create_user("many", quick_hash(PASSWORD), now(), Role.SUBSCRIBER)
    add_paper_subscriptions(runtime, user, platform.seeded.strategy_id, 120)
    page = session.page
    pages: list[str] = []
    page.on("request", lambda r: pages.append(r.url) if "/api/v1/risk" in r.url else None)
    session.sign_in(platform.url, "many")
    panel = page.get_by_role("region", name="Risk usage")
    panel.locator("article[aria-label='Risk of tv-test on paper0']").wait_for()  # the oldest: page 2
    assert panel.locator("article").count() == 120
    assert any("before_id=" in url for url in pages)


def test_open_positions_follow_the_price_live(platform: Platform, session: Session) -> None:
    page = session.page
    session.sign_in(platform.url, "tv-test-sub1")
    page.locator("#live.on").wait_for()
    platform.alert("buy")
    row = page.locator("table.positions tbody tr").filter(has_text="BTC/USDT").first
    row.locator("td[data-label=Mark]").filter(has_text="60000").wait_for()
    pnl = row.locator("td[data-label='Unrealised PnL']")
    assert pnl.inner_text() in ("0.00", "+0.00", "-0.00")
    page.wait_for_timeout(1000)  # the reloads the trade's events asked for are over
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    pin_prices(platform.served.runtime, {"BTC/USDT": "61000"})
    row.locator("td[data-label=Mark]").filter(has_text="61000").wait_for()  # pushed: no reload
    assert pnl.inner_text().startswith("+") and "up" in (pnl.get_attribute("class") or "")
    assert not any("/api/v1/positions" in url for url in requests)  # not asked again: pushed
    session.shot("portfolio-live-mark-up")

    # The Close button keeps the keyboard focus while marks re-render the table.
    close = row.get_by_role("button", name=re.compile(r"^Close BTC.USDT on "))
    close.focus()
    pin_prices(platform.served.runtime, {"BTC/USDT": "59000"})
    row.locator("td[data-label=Mark]").filter(has_text="59000").wait_for()
    assert pnl.inner_text().startswith("-") and "down" in (pnl.get_attribute("class") or "")
    assert page.evaluate("document.activeElement.getAttribute('aria-label') || ''").startswith(
        "Close BTC/USDT on "
    )
    session.shot("portfolio-live-mark-down")


def test_the_health_page_shows_the_platform_and_each_account(platform: Platform, session: Session) -> None:
    page = session.page
    session.sign_in(platform.url, "tv-test-sub1")
    page.locator("#live.on").wait_for()
    page.get_by_role("link", name="Health").click()
    page.get_by_role("heading", name="Health", level=1).wait_for()
    assert page.title() == "Health · tradewire"
    cards = page.get_by_role("region", name="Platform")
    cards.locator(".card").filter(has_text="Database").filter(
        has_text=re.compile(r"ok \(\d+ ms\)")
    ).wait_for()
    assert "ok" in cards.locator(".card").filter(has_text="Bus").inner_text()
    clients = cards.locator(".card").filter(has_text="WebSocket clients").locator(".value")
    assert int(clients.inner_text()) >= 1  # this page's own connection at least
    lag = cards.locator(".card").filter(has_text="Exit monitor lag").locator(".value").inner_text()
    assert lag == "not run yet" or lag.endswith(" s")
    exchanges = page.get_by_role("region", name="Exchanges")
    [account_id] = platform.seeded.account_ids[:1]
    row = exchanges.locator(f"tr[data-account='{account_id}']")
    assert "paper: the simulated market" in row.inner_text()
    assert exchanges.locator("tbody tr").count() == 1  # only this user's account
    assert page.get_by_role("region", name="Last errors").count() == 0  # admins only
    assert (
        "null" not in page.locator("#view").inner_text()
        and "undefined" not in page.locator("#view").inner_text()
    )
    session.shot("health-user")

    page.get_by_role("link", name="Accounts").click()
    panel = page.locator(f"[data-account='{account_id}']")
    panel.locator(".exchange-health").filter(has_text="paper: the simulated market").wait_for()
    session.shot("accounts-exchange-health")

    # A phone-width screen: the exchanges table folds into labelled rows.
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Health").click()
    exchanges.locator("tbody tr").first.wait_for()
    session.shot("health-phone")


def test_an_admin_reads_the_last_errors_without_secrets(platform: Platform, session: Session) -> None:
    logging.getLogger("tradewire.test").warning("exchange hiccup password=%s", "hunter2-not-shown")
    page = session.page
    session.sign_in(platform.url, "root")
    page.get_by_role("link", name="Health").click()
    errors = page.get_by_role("list", name="Last errors, newest first")
    item = errors.locator("li").filter(has_text="exchange hiccup")
    item.wait_for()
    assert "password=***" in item.inner_text() and "hunter2" not in page.content()
    page.get_by_role("button", name="Refresh").click()
    item.wait_for()
    session.shot("health-admin")


def test_two_backtests_compare_side_by_side(chromium: Browser, tmp_path: Path, data_dir: Path) -> None:
    runtime = make_runtime(tmp_path, data_dir=data_dir)
    seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served, browser_session(chromium, tmp_path) as session:
        page = session.page
        session.sign_in(served.url, "tv-test-sub1")
        page.get_by_role("link", name="Backtests").click()
        for strategy in ("ema_cross", "macd"):
            page.get_by_label("Strategy").select_option(strategy)
            page.get_by_label("Timeframe").select_option("1h")
            page.get_by_role("button", name="Run backtest").click()
            page.locator("[data-backtest]").first.wait_for()
        runs = page.locator("[data-backtest]")
        runs.nth(1).wait_for()
        for i in range(2):
            runs.nth(i).filter(has_text="done").wait_for(timeout=60_000)
        second_id, first_id = (int(runs.nth(i).get_attribute("data-backtest") or 0) for i in range(2))
        compare = page.get_by_role("region", name=re.compile("Compare"))
        compare.get_by_text("Pick two finished runs").wait_for()

        page.get_by_role("checkbox", name=f"Compare backtest #{first_id}").check()
        compare.get_by_text(f"Run #{first_id} picked").wait_for()
        page.get_by_role("checkbox", name=f"Compare backtest #{second_id}").check()
        compare.get_by_role("heading", name=f"Compare #{first_id} and #{second_id}").wait_for()

        headers = served.token("tv-test-sub1")
        reports = [
            httpx.get(f"{served.url}/api/v1/backtests/{i}", headers=headers).json()["result"]["report"]
            for i in (first_id, second_id)
        ]
        trades = compare.locator("tr[data-metric=Trades] td")
        more = reports[1]["trades"] - reports[0]["trades"]
        assert trades.all_inner_texts() == [
            str(reports[0]["trades"]),
            str(reports[1]["trades"]),
            f"+{more}" if more > 0 else str(more),
        ]
        ret = compare.locator("tr[data-metric='Total return'] td").all_inner_texts()
        assert ret[:2] == [f"{r['total_return_pct']:.2f} %" for r in reports]
        assert compare.locator("tbody tr").count() == 10
        chart = page.get_by_role("img", name=f"Equity of runs #{first_id} and #{second_id}")
        chart.locator("canvas").first.wait_for()
        page.wait_for_timeout(300)  # the chart's first frame
        session.shot("backtests-compare")

        page.get_by_role("checkbox", name=f"Compare backtest #{first_id}").uncheck()
        compare.get_by_text(f"Run #{second_id} picked").wait_for()
