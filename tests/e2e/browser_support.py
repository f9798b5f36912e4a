"""The dashboard's browser tests' shared parts: a served platform that sends TradingView alerts, and
pages of fresh chromium contexts (tests/e2e/browser.py launches chromium) that record the console
errors they log."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tests.conftest import free_port
from tests.seeding import Seeded
from tests.support import PASSWORD, ServedRuntime, pin_prices, seed_marketplace, send_alert

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

    from tradewire.runtime import Runtime

TIMEOUT_MS = 10_000


class Platform:
    """A served runtime with a seeded marketplace; `alert` sends its strategy a TradingView alert."""

    def __init__(self, served: ServedRuntime, seeded: Seeded) -> None:
        self.served = served
        self.seeded = seeded
        self.url = served.url
        self.sent = 0

    def alert(self, action: str) -> None:
        self.sent += 1
        send_alert(self.url, action, self.sent)


P = TypeVar("P", bound=Platform)


@contextlib.contextmanager
def served_platform(runtime: Runtime, subscriptions: list[dict[str, Any]], kind: type[P]) -> Iterator[P]:
    """`runtime` with BTC/USDT pinned at 60,000 and a marketplace seeded with one subscriber per entry
    (seed_marketplace), served on a free port while the block runs, as a `kind` of Platform."""
    pin_prices(runtime, {"BTC/USDT": "60000"})
    seeded = seed_marketplace(runtime.engine, subscriptions)
    with ServedRuntime(runtime, free_port()) as served:
        yield kind(served, seeded)


class Session:
    """A page of a fresh browser context, with the console errors it logged."""

    def __init__(self, page: Page, shots: Path) -> None:
        self.page = page
        self.shots = shots
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def sign_in(self, url: str, username: str, password: str = PASSWORD) -> None:
        page = self.page
        page.goto(url + "/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("navigation", name="Pages").wait_for()


@contextlib.contextmanager
def browser_page(chromium: Browser, shots: Path, **options: Any) -> Iterator[Session]:
    """A page of a fresh browser context (`options`: the context's), screenshots into `shots`; the
    context is closed when the block ends, so a block inside a served runtime's closes it before the
    server stops (no reconnect attempts to a closed port). The caller checks the page's errors."""
    context = chromium.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield Session(context.new_page(), shots)
    finally:
        context.close()


@contextlib.contextmanager
def browser_session(
    chromium: Browser, tmp_path: Path, width: int = 1280, height: int = 900, **options: Any
) -> Iterator[Session]:
    """A page of a fresh browser context, closed when the block ends (so before a module's server
    stops); the test fails on any console error the page logged. `options`: more context options."""
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with browser_page(chromium, shots, viewport={"width": width, "height": height}, **options) as session:
        yield session
    print(f"screenshots: {shots}")
    assert session.errors == [], session.errors
