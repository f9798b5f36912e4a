"""Fixtures of the end-to-end tests; a module that needs another exchange defines its own `fake`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.exchange import FakeExchange


@pytest.fixture
def fake() -> Iterator[FakeExchange]:
    """A fake Binance quoting BTC/USDT at 60,000, with 10,000 USDT on the account."""
    with FakeExchange("binance", prices={"BTC/USDT": "60000"}, balances={"USDT": "10000"}) as exchange:
        yield exchange
