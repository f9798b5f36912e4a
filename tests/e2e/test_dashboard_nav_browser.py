"""The dashboard's top bar in a real browser (chromium through Playwright) against a real server: at
1280x800 every page link, the status, the theme toggle and "Sign out" sit on one row (measured by
their bounding boxes) with no link clipped; at phone width (390 px) nothing overflows the page, the
page links scroll sideways in a row of their own, and a link scrolled out of sight is reached and
followed with the keyboard. Screenshots (light and dark) go under the test's temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import free_port
from tests.e2e.browser_support import Platform, Session, browser_session
from tests.support import ServedRuntime, make_runtime, seed_marketplace

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator

BAR_ITEMS = ["#nav", "#live", "#theme", "#who", "#signout"]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    runtime = make_runtime(tmp_path_factory.mktemp("dashboard-nav"))
    seeded = seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served:
        yield Platform(served, seeded)


@pytest.fixture
def session(chromium: Browser, tmp_path: Path) -> Iterator[Session]:
    with browser_session(chromium, tmp_path, 1280, 800) as session:
        yield session


def box(locator: Locator) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not displayed"
    return found


def scroll_sizes(locator: Locator) -> Any:
    return locator.evaluate("el => ({scroll: el.scrollWidth, client: el.clientWidth})")


def test_the_bar_is_one_row_at_1280(platform: Platform, session: Session) -> None:
    page = session.page
    session.sign_in(platform.url, "tv-test-sub1")
    nav = page.get_by_role("navigation", name="Pages")
    links = nav.get_by_role("link")
    assert links.count() >= 9
    link = box(links.first)
    # The navigation is one row of links: as high as one link, every link on the same line.
    assert box(nav)["height"] <= link["height"] + 1
    assert {round(box(links.nth(n))["y"]) for n in range(links.count())} == {round(link["y"])}
    sizes = scroll_sizes(nav)
    assert sizes["scroll"] <= sizes["client"], sizes  # no link clipped or scrolled away
    # Sign out, the theme toggle, the status and the user's name share that row, inside the window.
    row_top, row_bottom = link["y"], link["y"] + link["height"]
    for selector in BAR_ITEMS:
        item = box(page.locator(selector))
        middle = item["y"] + item["height"] / 2
        assert row_top <= middle <= row_bottom, (selector, item, link)
        assert item["x"] + item["width"] <= 1280, (selector, item)
    bar = box(page.locator("header.bar"))
    assert bar["height"] < 2 * link["height"] + 8  # one row and its padding, not two
    session.shot("bar-1280")
    page.get_by_role("button", name="Dark mode").click()
    session.shot("bar-1280-dark")


def test_at_phone_width_the_links_scroll_and_each_is_reached_by_keyboard(
    platform: Platform, session: Session
) -> None:
    page = session.page
    page.set_viewport_size({"width": 390, "height": 844})
    session.sign_in(platform.url, "tv-test-sub1")
    nav = page.get_by_role("navigation", name="Pages")
    links = nav.get_by_role("link")
    # Nothing makes the page wider than the phone; the top row's controls stay inside it.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for selector in ["#live", "#theme", "#signout"]:
        item = box(page.locator(selector))
        assert item["x"] >= 0 and item["x"] + item["width"] <= 390, (selector, item)
    # The links: one row of their own, scrolling sideways.
    first = box(links.first)
    assert box(nav)["height"] <= first["height"] + 12  # one row (and room for a scrollbar)
    assert {round(box(links.nth(n))["y"]) for n in range(links.count())} == {round(first["y"])}
    sizes = scroll_sizes(nav)
    assert sizes["scroll"] > sizes["client"]  # more links than fit: they scroll
    last = links.last
    assert box(last)["x"] >= 390  # out of sight until reached
    session.shot("bar-390")

    # The keyboard reaches the last link (it scrolls into view) and follows it.
    links.first.focus()
    for _ in range(links.count() - 1):
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == last.inner_text()
    seen = box(last)
    assert seen["x"] >= 0 and seen["x"] + seen["width"] <= 390, seen
    page.keyboard.press("Enter")
    page.wait_for_function("location.hash === '#/health'")
    assert last.get_attribute("aria-current") == "page"
    page.get_by_role("button", name="Dark mode").click()
    session.shot("bar-390-dark")
