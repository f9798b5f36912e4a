"""No secret reaches a log at any level: the real ccxt client signs real requests against the fake
exchange with TRADEWIRE_LOG_LEVEL=DEBUG, and the API keys, secrets, passphrases, signatures and
bearer tokens appear nowhere in what was logged."""

from __future__ import annotations

import logging
import re
import secrets
from decimal import Decimal

import pytest

from tests.fakes.exchange import FakeExchange
from tests.support import flatten_urls
from tradewire.adapters.live.ccxt_exchange import CcxtExchange, LiveAccount
from tradewire.domain.client_ids import intent_client_order_id
from tradewire.domain.orders import OrderRequest, OrderSide, OrderType
from tradewire.logs import configure, redact

FLAVORS = ["binance", "bybit", "okx", "mexc", "coinbase"]
SYMBOL = {"coinbase": "BTC/USDC"}


async def _trade(flavor: str) -> tuple[FakeExchange, list[str]]:
    """Signed calls (balance, an order, its lookup) through our adapter; the secrets that went out."""
    key = f"key-{secrets.token_hex(12)}" if flavor != "coinbase" else None
    secret = f"secret-{secrets.token_hex(16)}" if flavor != "coinbase" else None
    fake = FakeExchange(
        flavor,  # type: ignore[arg-type]
        prices={"BTC/USDT": "60000", "BTC/USDC": "60000"},
        balances={"USDT": "10000", "USDC": "10000"},
        api_key=key,
        api_secret=secret,
        api_password=f"pass-{secrets.token_hex(6)}",
    )
    fake.start()
    account = LiveAccount(
        account_id=1,
        exchange=flavor,
        api_key=fake.api_key,
        secret=fake.api_secret,
        password=fake.api_password if flavor == "okx" else None,
        api_urls=flatten_urls(fake.ccxt_urls()),
        private_urls_allowed=True,
    )
    exchange = CcxtExchange(account)
    try:
        await exchange.fetch_balance()
        request = OrderRequest(
            intent_client_order_id(1),
            SYMBOL.get(flavor, "BTC/USDT"),
            OrderSide.BUY,
            OrderType.MARKET,
            Decimal("0.001"),
        )
        await exchange.create_order(request)
        await exchange.fetch_order(request.symbol, request.client_order_id)
    finally:
        await exchange.close()
        fake.stop()
    shown = [fake.api_key, fake.api_secret, *(fake.api_secret.splitlines()[1:2])]
    if flavor == "okx":
        shown.append(fake.api_password)
    return fake, shown


def _assert_clean(text: str, shown: list[str]) -> None:
    for value in shown:
        assert value not in text, f"a secret reached the log: {value[:6]}..."
    assert not re.search(r"signature=(?!\*\*\*)", text, re.IGNORECASE)
    assert not re.search(r"-SIGN'?\s*:\s*'(?!\*\*\*)", text, re.IGNORECASE)
    assert not re.search(r"\beyJ[\w-]+\.[\w-]+\.", text), "a JWT reached the log"
    assert not re.search(r"Bearer (?!\*\*\*)", text)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_debug_logging_shows_no_secret(
    flavor: str, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("DEBUG")
    _, shown = await _trade(flavor)
    logged = capsys.readouterr().err
    assert "DEBUG" in logged  # the level is really DEBUG (asyncio, our adapter ...)
    _assert_clean(logged, shown)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_ccxt_request_logs_forced_on_are_redacted(
    flavor: str, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Even if ccxt's own logger is turned to DEBUG (it prints each signed request whole), the
    handler's filter blanks every credential in it."""
    configure("DEBUG")
    logging.getLogger("ccxt").setLevel(logging.DEBUG)
    _, shown = await _trade(flavor)
    logged = capsys.readouterr().err
    assert "Request:" in logged and "***" in logged  # ccxt did log its requests; they were redacted
    _assert_clean(logged, shown)


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("GET https://x/api/v3/account?timestamp=1&signature=0a1b2c3d4e", "0a1b2c3d4e"),
        ("{'X-MBX-APIKEY': 'AbCdEf123456', 'Content-Type': 'x'}", "AbCdEf123456"),
        ('{"apiKey": "K-123456", "secret": "S/+=123456"}', "S/+=123456"),
        ("headers {'OK-ACCESS-PASSPHRASE': 'my pass phrase'}", "my pass phrase"),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl in a message", "eyJzdWIiOiIxIn0"),
        ("password=hunter2hunter2&user=a", "hunter2hunter2"),
    ],
)
def test_credentials_are_blanked_by_name_and_shape(line: str, secret: str) -> None:
    assert secret not in redact(line)
    assert "***" in redact(line)


def test_ordinary_lines_are_left_alone() -> None:
    line = "order tw-1 placed on binance (account 3): buy 0.001 BTC/USDT, signal_id=5 status filled"
    assert redact(line) == line
