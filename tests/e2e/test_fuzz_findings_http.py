"""Inputs a fuzzer found to answer 500 (or reset the connection), on SQLite and PostgreSQL, over
HTTP: each now gets a clear 4xx and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import Engine
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.conftest import free_port
from tests.e2e.owned import BOT_DEFINITION, Owned, seed_user
from tests.support import (
    PASSPHRASE,
    PASSWORD,
    ServedRuntime,
    make_runtime,
    now,
    subscription_columns,
    train_model,
)
from tradewire.adapters.secrets_box import generate_key
from tradewire.services.signin import CODE_WRONG


class Site:
    def __init__(self, served: ServedRuntime) -> None:
        self.served = served
        self.http = httpx.Client(base_url=served.url, timeout=30)
        self.alice: Owned = seed_user(served.runtime, "alice")


@pytest.fixture(scope="module")
def site(module_engine: Engine, tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[Site]:
    url = module_engine.url.render_as_string(hide_password=False)
    directory = tmp_path_factory.mktemp("findings")
    runtime = make_runtime(directory, url, encryption_key=generate_key(), data_dir=data_dir)  # real candles
    with ServedRuntime(runtime, free_port()) as served:
        yield Site(served)
    runtime.engine.dispose()


@pytest.mark.parametrize("zone", ["America", "Europe", "__pycache__", "Etc"])
def test_a_time_zone_directory_is_an_unknown_time_zone(site: Site, zone: str) -> None:
    """zoneinfo opens the name as a file: a directory of the time zone database (America, Etc, ...)
    raised IsADirectoryError, answered 500 (and the connection cut)."""
    a = site.alice
    before = site.http.get("/api/v1/telegram", headers=a.headers).json()["daily_summary"]
    response = site.http.put(
        "/api/v1/telegram/summary", headers=a.headers, json={"hour": 7, "time_zone": zone}
    )
    assert response.status_code == 422, response.text
    assert "unknown time zone" in response.text
    assert site.http.get("/api/v1/telegram", headers=a.headers).json()["daily_summary"] == before
    kept = site.http.put(
        "/api/v1/telegram/summary", headers=a.headers, json={"hour": 7, "time_zone": "Europe/Berlin"}
    )
    assert kept.status_code == 200 and kept.json()["daily_summary"]["time_zone"] == "Europe/Berlin"


@pytest.mark.parametrize(
    "slug",
    [
        "%00",  # NUL: PostgreSQL text cannot hold it (the query raised, 500)
        "alice-private%00",
        "%ED%A0%80",  # a lone surrogate once decoded: no encoding can send it to the database
        "s" * 65,  # longer than any slug (strategies.slug is 64 characters)
        "x" * 4000,
    ],
    ids=["nul", "nul-after", "surrogate", "65-chars", "4000-chars"],
)
def test_a_webhook_slug_no_strategy_can_have_is_answered_404_before_any_work(site: Site, slug: str) -> None:
    """Before authentication: an unknown slug is 404 whatever its bytes, without asking the database."""
    body = {"action": "buy", "ticker": "BTCUSDT", "passphrase": PASSPHRASE}
    response = site.http.post(f"/api/v1/webhooks/tradingview/{slug}", json=body)
    assert response.status_code == 404, response.text
    assert response.json()["detail"].startswith("no strategy with webhook slug")
    assert len(response.text) < 300  # the slug is not echoed at length


def test_a_two_factor_code_that_is_not_ascii_digits_is_a_wrong_code(site: Site) -> None:
    """hmac.compare_digest refuses str with non-ASCII characters (TypeError): a right password with
    an otp such as Arabic-Indic digits answered 500 instead of 401."""
    a = site.alice
    enrolled = site.http.post("/api/v1/auth/totp", headers=a.headers)
    assert enrolled.status_code == 201, enrolled.text
    totp = pyotp.TOTP(enrolled.json()["secret"])
    confirmed = site.http.post("/api/v1/auth/totp/confirm", headers=a.headers, json={"code": totp.now()})
    assert confirmed.status_code == 204, confirmed.text
    for otp in ("١٢٣٤٥٦", "12345é", "１２３４５６"):
        signed_in = site.http.post(
            "/api/v1/auth/token", data={"username": "alice", "password": PASSWORD, "otp": otp}
        )
        assert (signed_in.status_code, signed_in.json()["detail"]) == (401, CODE_WRONG), signed_in.text


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict[str, Any]]:
    out = tmp_path_factory.mktemp("model")
    train_model(data_dir, out)
    return (out / "model.txt").read_bytes(), json.loads((out / "manifest.json").read_text())


def test_a_model_timeframe_must_be_a_timeframe(site: Site, trained: tuple[bytes, dict[str, Any]]) -> None:
    """A model's timeframe was any 8 characters: a NUL answered 500 on PostgreSQL (and was stored on
    SQLite), and "zz" or "1e99999" were kept as the model's timeframe."""
    text, manifest = trained
    a = site.alice
    without = {k: v for k, v in manifest.items() if k != "timeframe"}
    cases: list[dict[str, str]] = [
        {"manifest": json.dumps(without), "timeframe": "\x00"},
        {"manifest": json.dumps({**manifest, "timeframe": "\x00"})},
        {"manifest": json.dumps(without), "timeframe": "zz"},
        {"manifest": json.dumps({**manifest, "timeframe": "1e99999"})},
    ]
    before = site.http.get("/api/v1/models", headers=a.headers).json()
    for form in cases:
        files = {"file": ("model.txt", text)}
        response = site.http.post("/api/v1/models", headers=a.headers, files=files, data=form)
        assert response.status_code == 422, (form.get("timeframe"), response.text)
        assert "timeframe" in response.text
    assert site.http.get("/api/v1/models", headers=a.headers).json() == before


@pytest.mark.parametrize("timeframe", ["١m", "１h", "9999999w", "999999d"])
def test_a_timeframe_is_ascii_digits_and_a_unit_of_at_most_a_year(site: Site, timeframe: str) -> None:
    """'١m' (Arabic-Indic digit) and '9999999w' (190,000 years) were accepted as a bot's timeframe:
    the bot was stored and ran, no exchange knows the first, and a candle's close (its open plus the
    timeframe) is past any time datetime holds for the second."""
    a = site.alice
    before = site.http.get("/api/v1/bots", headers=a.headers).json()
    definition = {**BOT_DEFINITION, "timeframe": timeframe}
    created = site.http.post("/api/v1/bots", headers=a.headers, json={"name": "tf", "definition": definition})
    assert created.status_code == 422, created.text
    assert "timeframe" in created.text
    backtest = {"strategy": "ema_cross", "symbols": ["BTC/USDT"], "timeframe": timeframe}
    assert site.http.post("/api/v1/backtests", headers=a.headers, json=backtest).status_code == 422
    assert site.http.get("/api/v1/bots", headers=a.headers).json() == before


def test_candles_come_from_paper_or_an_exchange_the_server_knows(site: Site) -> None:
    """candles_from took any 2-32 letters and digits: a bot reading candles from '1e999999' was
    stored and started, and every round logged an error (ccxt does not know it) for as long as it ran."""
    a = site.alice
    before = site.http.get("/api/v1/bots", headers=a.headers).json()
    definition = {**BOT_DEFINITION, "candles_from": "1e999999"}
    created = site.http.post("/api/v1/bots", headers=a.headers, json={"name": "c", "definition": definition})
    assert created.status_code == 422, created.text
    assert "candles_from" in created.text
    changed = site.http.patch(f"/api/v1/bots/{a.bot_id}", headers=a.headers, json={"definition": definition})
    assert changed.status_code == 422, changed.text
    strategy = {"name": "s", "definition": {**definition, "bot": None}}
    assert site.http.post("/api/v1/strategies", headers=a.headers, json=strategy).status_code == 422
    assert site.http.get("/api/v1/bots", headers=a.headers).json() == before
    known = {**BOT_DEFINITION, "candles_from": "binance", "enabled": False}  # never asks binance
    accepted = site.http.patch(f"/api/v1/bots/{a.bot_id}", headers=a.headers, json={"definition": known})
    assert accepted.status_code == 200, accepted.text


def _ws(site: Site) -> ClientConnection:
    return connect(site.served.url.replace("http", "ws", 1) + "/api/v1/ws", open_timeout=10)


def test_websocket_messages_nested_too_deep_or_unhashable_topics_are_answered_not_crashed(site: Site) -> None:
    """A first message of 2,000 nested brackets (before any sign-in) and, signed in, a subscribe naming
    a topic that is a list or an object made the handler raise (RecursionError, TypeError: unhashable):
    the connection dropped (1006) with a traceback in the server's log, instead of 4401 or an error."""
    deep = "[" * 2000 + "]" * 2000
    with _ws(site) as ws:
        ws.send(deep)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 4401, (ws.close_code, ws.close_reason)
    token = site.alice.headers["Authorization"].split()[1]
    with _ws(site) as ws:
        ws.send(json.dumps({"op": "auth", "token": token}))
        assert json.loads(ws.recv(timeout=10))["op"] == "ready"
        for message in (
            deep,
            json.dumps({"op": "subscribe", "topics": [[1]]}),
            '{"op":"subscribe","topics":[{}]}',
        ):
            ws.send(message)
            answer = json.loads(ws.recv(timeout=10))
            assert answer["op"] == "error", answer
        ws.send('{"op": "ping"}')
        assert json.loads(ws.recv(timeout=10))["op"] == "pong"  # still open


@pytest.mark.parametrize(
    "name", ["safe\u202etxt.exe", "a\u2066b\u2069", "line\u2028break", "para\u2029graph"]
)
def test_names_hold_no_line_separator_or_bidirectional_override(site: Site, name: str) -> None:
    """Names are one line, read in the order written: U+2028 broke a name onto two lines (JavaScript
    and many renderers take it as a line break) and U+202E let a public strategy's name show
    reversed in the marketplace ("safe\\u202etxt.exe" reads "safeexe.txt")."""
    a = site.alice
    before = site.http.get("/api/v1/strategies", headers=a.headers).json()
    for path, body in [
        ("/api/v1/strategies", {"name": name}),
        ("/api/v1/accounts", {"name": name}),
    ]:
        response = site.http.post(path, headers=a.headers, json=body)
        assert response.status_code == 422, (path, response.text)
    renamed = site.http.patch(f"/api/v1/strategies/{a.strategy_id}", headers=a.headers, json={"name": name})
    assert renamed.status_code == 422, renamed.text
    assert site.http.get("/api/v1/strategies", headers=a.headers).json() == before


@pytest.mark.parametrize("path", ["/assets/a%00b", "/assets/app.js%00.png", "/assets/%00"])
def test_an_asset_path_holding_nul_is_not_found(site: Site, path: str) -> None:
    """Before any sign-in: a NUL in an asset's path reached the file system, which refuses it
    (ValueError: embedded null byte), and the dashboard's file route answered 500."""
    response = site.http.get(path)
    assert response.status_code == 404, response.text


def test_a_bot_is_not_subscribed_to_again_and_stays_readable_if_it_was(site: Site) -> None:
    """POST /subscriptions took the owner's own bot (its strategy id) with another of their
    accounts: the bot then had two subscriptions and GET, PATCH, start and stop of it answered 500.
    Now that is 409; a bot an older version let be subscribed to twice reads as its first."""
    carol = seed_user(site.served.runtime, "carol")
    h = carol.headers
    other = site.http.post("/api/v1/accounts", headers=h, json={"name": "second"})
    assert other.status_code == 201, other.text
    body = {"strategy_id": carol.bot_id, "account_id": other.json()["id"]}
    again = site.http.post("/api/v1/subscriptions", headers=h, json=body)
    assert again.status_code == 409, again.text
    assert site.http.get(f"/api/v1/bots/{carol.bot_id}", headers=h).status_code == 200
    # As an older version left it: a second subscription of the owner's to the bot.
    runtime = site.served.runtime
    columns = subscription_columns(carol.user_id, other.json()["id"], now(), strategy_id=carol.bot_id)
    runtime.members.create_subscription(columns)
    bot = site.http.get(f"/api/v1/bots/{carol.bot_id}", headers=h)
    assert bot.status_code == 200, bot.text
    assert bot.json()["account_id"] == carol.account_id
    assert [b["id"] for b in site.http.get("/api/v1/bots", headers=h).json()] == [carol.bot_id]
    for action in ("start", "stop"):
        moved = site.http.post(f"/api/v1/bots/{carol.bot_id}/{action}", headers=h)
        assert moved.status_code == 200, (action, moved.text)


@pytest.mark.parametrize(
    "money", [{"capital": 5e-324}, {"capital": 5e-324, "stake": 5e-324}, {"stake": 1e-9}]
)
def test_a_backtest_takes_at_least_a_satoshi_of_capital_and_stake(
    site: Site, money: dict[str, float]
) -> None:
    """capital 5e-324 (the least positive float, > 0 as the schema asked) was accepted (202) and the
    run then failed with "internal error: ZeroDivisionError: float division by zero"."""
    body = {
        "strategy": "ema_cross",
        "params": {"fast": 3, "slow": 8},
        "symbols": ["ETH/BTC"],
        "timeframe": "5m",
    }
    response = site.http.post("/api/v1/backtests", headers=site.alice.headers, json={**body, **money})
    assert response.status_code == 422, response.text
    assert {error["loc"][-1] for error in response.json()["detail"]} <= {"capital", "stake"}
