"""Live marks over a real server: open positions of a client's own user, marked every few seconds at the
price the REST endpoint uses, pushed as `positions`/`marked` frames without an id (not events); never
another user's positions, and nothing to a client that did not subscribe to `positions`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.live_client import LiveClient, stored_ids
from tests.e2e.test_live_ws import Served, _runtime
from tests.support import ServedRuntime, pin_prices, seed_marketplace


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Served]:
    runtime = _runtime(tmp_path, ws_marks_s=0.2)
    seeded = seed_marketplace(runtime.engine, [{}, {}])
    with ServedRuntime(runtime, free_port()) as served:
        yield Served(served, seeded)


def _open_positions(platform: Served, n: int) -> list[dict[str, Any]]:
    headers = platform.served.token(f"tv-test-sub{n}")
    with httpx.Client(base_url=platform.url, timeout=10) as http:
        response = http.get("/api/v1/positions", params={"status": "open"}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _priced(price: str) -> Any:
    return lambda frames: (
        bool(frames) and all(p["mark_price"] == price for p in frames[-1]["data"]["positions"])
    )


async def test_each_user_gets_live_marks_of_its_own_positions_only(platform: Served) -> None:
    first_token, second_token = platform.subscribers
    first = await LiveClient.open(platform.url, first_token, topics=["positions"])
    second_orders_only = await LiveClient.open(platform.url, second_token, topics=["orders"])
    provider = await LiveClient.open(platform.url, platform.provider)
    await platform.trade("buy")
    [mine] = _open_positions(platform, 1)
    [theirs] = _open_positions(platform, 2)

    await first.read_marks(_priced("60000"))
    frame = first.marks[-1]
    assert frame["topic"] == "positions" and frame["type"] == "marked" and "id" not in frame
    [marked] = frame["data"]["positions"]
    assert marked["position_id"] == mine["id"] != theirs["id"]
    # The REST endpoint's mark and PnL, to the digit.
    assert (marked["mark_price"], marked["unrealized_pnl"], marked["mark_source"]) == (
        mine["mark_price"],
        mine["unrealized_pnl"],
        "paper",
    )
    assert marked["mark_error"] is None

    # The price moves: the next frames say so, with the PnL at the new price.
    pin_prices(platform.served.runtime, {"BTC/USDT": "61000"})
    await first.read_marks(_priced("61000"))
    [moved] = first.marks[-1]["data"]["positions"]
    expected = (Decimal(61000) - Decimal(mine["avg_entry"])) * Decimal(mine["amount"])
    assert Decimal(moved["unrealized_pnl"]) == expected > 0

    # The second user, subscribed to positions now, gets its own position only.
    second = await LiveClient.open(platform.url, second_token, topics=["positions"])
    await second.read_marks(lambda frames: bool(frames))
    assert {p["position_id"] for f in second.marks for p in f["data"]["positions"]} == {theirs["id"]}
    assert {p["position_id"] for f in first.marks for p in f["data"]["positions"]} == {mine["id"]}

    # Marks are not events: rounds go by and the outbox holds nothing more; a client without the
    # positions topic (and a provider with no position) gets none.
    users = [platform.seeded.provider_id, *platform.seeded.subscriber_ids]
    stored = [stored_ids(platform.engine, u) for u in users]
    await asyncio.sleep(0.6)
    for client in (second_orders_only, provider):
        with pytest.raises(TimeoutError):
            await client.read_marks(lambda frames: bool(frames), timeout=0.5)
        assert client.marks == []
    assert [stored_ids(platform.engine, u) for u in users] == stored
    # Rounds went by (every 0.2 s) with the price still: nothing moved, nothing was sent again. The
    # next move is sent.
    seen = len(first.marks)
    with pytest.raises(TimeoutError):
        await first.read_marks(lambda frames: len(frames) > seen, timeout=0.6)
    pin_prices(platform.served.runtime, {"BTC/USDT": "61500"})
    await first.read_marks(_priced("61500"))
    assert len(first.marks) == seen + 1
    for client in (first, second, second_orders_only, provider):
        await client.close()
