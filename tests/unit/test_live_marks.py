"""Live marks without a server: one price per venue and symbol for every watching client, each user's
frame holding its own positions only, the work bounded per round, nothing for users not watching."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradewire.domain.records import OpenPosition
from tradewire.services.event_hub import EventHub, Listener
from tradewire.services.live_marks import LiveMarks
from tradewire.services.valuation import Mark, MarkKey

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)
POSITIONS = [
    OpenPosition(1, 1, 10, "paper", "paper", "BTC/USDT", Decimal("0.5"), Decimal(100)),
    OpenPosition(2, 1, 11, "paper", "paper", "BTC/USDT", Decimal(2), Decimal(90)),  # another paper account
    OpenPosition(3, 2, 20, "paper", "paper", "BTC/USDT", Decimal(1), Decimal(120)),
    OpenPosition(4, 2, 21, "binance", "live", "BTC/USDT", Decimal(1), Decimal(100)),
    OpenPosition(5, 2, 21, "binance", "live", "ETH/USDT", Decimal(1), Decimal(10)),
    OpenPosition(6, 3, 30, "paper", "paper", "SOL/USDT", Decimal(1), Decimal(10)),
]


class Positions:
    def __init__(self) -> None:
        self.asked: list[list[int]] = []

    def open_positions_of_users(self, user_ids: Sequence[int], limit: int) -> list[OpenPosition]:
        self.asked.append(list(user_ids))
        return [p for p in POSITIONS if p.user_id in user_ids][:limit]


class Prices:
    def __init__(self) -> None:
        self.asked: list[list[MarkKey]] = []

    async def marks(self, keys: Iterable[MarkKey]) -> dict[MarkKey, Mark]:
        wanted = list(keys)
        self.asked.append(wanted)
        prices = {"BTC/USDT": Decimal(110), "ETH/USDT": None}
        return {
            k: Mark(
                prices.get(k[3]),
                k[1] if k[2] == "live" else "paper",
                None if prices.get(k[3]) else "no price",
            )
            for k in wanted
        }


class Clock:
    def now(self) -> datetime:
        return NOW


def client(hub: EventHub, user_id: int, topics: set[str]) -> Listener:
    listener = hub.connect(user_id)
    listener.topics = frozenset(topics)
    listener.subscribed = True
    return listener


async def frames(listener: Listener) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(m) for m in await listener.take(0.01)]


@pytest.mark.asyncio
async def test_each_user_gets_its_own_positions_priced_once_per_venue_and_symbol() -> None:
    hub = EventHub(log=None, clock=Clock())  # type: ignore[arg-type]
    alice, bob = client(hub, 1, {"positions", "orders"}), client(hub, 2, {"positions"})
    carol = client(hub, 3, {"orders"})  # not watching positions
    positions, prices = Positions(), Prices()
    marks = LiveMarks(positions, prices, hub, Clock())  # type: ignore[arg-type]

    assert await marks.round() == 2
    assert positions.asked == [[1, 2]]  # carol's positions are not even read
    # Paper BTC once for three positions on three accounts; the live account's own exchange apart.
    [asked] = prices.asked
    assert sorted(k[1:] for k in asked) == [
        ("binance", "live", "BTC/USDT"),
        ("binance", "live", "ETH/USDT"),
        ("paper", "paper", "BTC/USDT"),
    ]
    [a] = await frames(alice)
    assert (a["topic"], a["type"], a["ts"], "id" in a) == ("positions", "marked", NOW.isoformat(), False)
    assert a["data"]["positions"] == [
        {
            "position_id": 1,
            "mark_price": "110",
            "unrealized_pnl": "5",
            "mark_source": "paper",
            "mark_error": None,
        },
        {
            "position_id": 2,
            "mark_price": "110",
            "unrealized_pnl": "40",
            "mark_source": "paper",
            "mark_error": None,
        },
    ]
    [b] = await frames(bob)
    assert [(p["position_id"], p["unrealized_pnl"], p["mark_error"]) for p in b["data"]["positions"]] == [
        (3, "-10", None),
        (4, "10", None),
        (5, None, "no price"),
    ]
    assert await frames(carol) == []


@pytest.mark.asyncio
async def test_nobody_watching_reads_nothing_and_the_prices_per_round_are_bounded() -> None:
    hub = EventHub(log=None, clock=Clock())  # type: ignore[arg-type]
    positions, prices = Positions(), Prices()
    marks = LiveMarks(positions, prices, hub, Clock(), max_keys=2)  # type: ignore[arg-type]
    assert await marks.round() == 0 and positions.asked == [] and prices.asked == []

    bob = client(hub, 2, {"positions"})
    await marks.round()
    await marks.round()
    assert [len(keys) for keys in prices.asked] == [2, 2]
    # Round by round the prices asked rotate, so all three are covered within two rounds.
    assert len({k for keys in prices.asked for k in keys}) == 3
    shown = {p["position_id"] for f in await frames(bob) for p in f["data"]["positions"]}
    assert shown == {3, 4, 5}
    hub.disconnect(bob)
    assert await marks.round() == 0


@pytest.mark.asyncio
async def test_marks_that_did_not_move_are_not_sent_again_but_a_new_client_gets_them() -> None:
    hub = EventHub(log=None, clock=Clock())  # type: ignore[arg-type]
    prices = Prices()
    marks = LiveMarks(Positions(), prices, hub, Clock())  # type: ignore[arg-type]
    alice = client(hub, 1, {"positions"})
    assert await marks.round() == 1 and len(await frames(alice)) == 1

    assert await marks.round() == 0  # nothing moved: nothing sent
    assert await frames(alice) == []
    phone = client(hub, 1, {"positions"})  # a second client of hers: sent the marks it never had
    assert await marks.round() == 1
    assert await frames(alice) == [] and len(await frames(phone)) == 1

    POSITIONS[0] = replace(POSITIONS[0], amount=Decimal(1))  # her position grew: its PnL moved
    try:
        assert await marks.round() == 2
        [a], [p] = await frames(alice), await frames(phone)
        assert a["data"] == p["data"] and a["data"]["positions"][0]["unrealized_pnl"] == "10"
    finally:
        POSITIONS[0] = replace(POSITIONS[0], amount=Decimal("0.5"))
