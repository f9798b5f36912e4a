"""Fixtures of the end-to-end tests; a module that needs another exchange defines its own `fake`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine

from tests.e2e.browser import launched_chromium
from tests.e2e.browser_support import Session, browser_session
from tests.e2e.cluster import Cluster
from tests.fakes.exchange import FakeExchange

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture
def fake() -> Iterator[FakeExchange]:
    """A fake Binance quoting BTC/USDT at 60,000, with 10,000 USDT on the account."""
    with FakeExchange("binance", prices={"BTC/USDT": "60000"}, balances={"USDT": "10000"}) as exchange:
        yield exchange


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless, driven by Playwright: one browser per module, a context per test."""
    yield from launched_chromium()


@pytest.fixture
def session(chromium: Browser, tmp_path: Path) -> Iterator[Session]:
    """A page of a fresh browser context (1280 x 900), closed after the test, which fails on any
    console error the page logged; a module that needs other context options defines its own."""
    with browser_session(chromium, tmp_path) as session:
        yield session


@pytest.fixture
def cluster(tmp_path: Path, postgres_engine: Engine, redis_prefix: str) -> Iterator[Cluster]:
    """An installation's processes, started by the test, stopped (SIGTERM, then SIGKILL) after it."""
    running = Cluster(tmp_path, postgres_engine, redis_prefix)
    try:
        yield running
    finally:
        running.stop_all()
