"""AccountExchanges: the live clients of every account close together at shutdown (each ccxt client
pauses about 0.25 s to close, so closing them one after another took N × that), and one that fails to
close does not keep the others open."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from tradewire.adapters.exchanges import AccountExchanges
from tradewire.adapters.paper.venue import PaperVenue
from tradewire.adapters.secrets_box import SecretBox, decode_key, generate_key


class Closing:
    """Stand-in for CcxtExchange built by the factory: counts closes in progress at once."""

    def __init__(self) -> None:
        self.open_now = 0
        self.most_at_once = 0
        self.closed: list[int] = []

    def factory(self, account: Any, **_: Any) -> Any:
        tracker = self

        class Client:
            public_limiter = object()

            async def close(self) -> None:
                tracker.open_now += 1
                tracker.most_at_once = max(tracker.most_at_once, tracker.open_now)
                await asyncio.sleep(0.01)
                tracker.open_now -= 1
                if account.account_id == 2:
                    raise OSError("connection reset while closing")
                tracker.closed.append(account.account_id)

        return Client()


def test_live_clients_close_at_once_and_a_failing_one_does_not_stop_the_others() -> None:
    box = SecretBox(decode_key(generate_key()))
    rows = {
        n: {"api_key_enc": box.encrypt("k", f"account:{n}:api_key"), "sandbox": False} for n in range(1, 6)
    }
    tracker = Closing()
    paper = cast(PaperVenue, SimpleNamespace(markets={}))
    exchanges = AccountExchanges(paper, rows.get, box, live_factory=tracker.factory)

    async def scenario() -> None:
        for n in rows:
            exchanges.for_account(n, "binance", "live")
        await exchanges.close()

    asyncio.run(scenario())

    assert tracker.most_at_once == 5  # all at once, not one after another
    assert sorted(tracker.closed) == [1, 3, 4, 5]
    assert exchanges.live_accounts() == {}
