"""Which Exchange adapter serves an account: the paper venue now, ccxt for live accounts later."""

from __future__ import annotations

from tradewire.adapters.paper.venue import PaperVenue
from tradewire.ports import Exchange, ExchangeUnavailable


class AccountExchanges:
    """Exchange ports per account: paper accounts trade on the shared paper venue."""

    def __init__(self, paper: PaperVenue) -> None:
        self._paper = paper

    def for_account(self, account_id: int, exchange: str, mode: str) -> Exchange:
        if mode == "paper":
            return self._paper.account(account_id)
        raise ExchangeUnavailable(
            f"live trading on {exchange!r} is not available in this version: no live exchange adapter "
            "is installed yet, so the order was not sent"
        )
