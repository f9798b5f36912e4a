"""What each owner reads of their trading: pages of rows, newest first, scoped to the owner."""

from __future__ import annotations

from typing import Any, Protocol

from tradewire.domain.portfolio import PositionResult
from tradewire.domain.records import Page

Row = dict[str, Any]  # a read model's columns by name, as the API shows them


class Reports(Protocol):
    """Pages of what an owner may see, each narrowed by one optional filter (None: no filter)."""

    def signals_of_provider(self, owner_id: int, strategy_id: int | None, page: Page) -> list[Row]: ...
    def intents(
        self, user_id: int, signal_id: int | None, page: Page, status: str | None = None
    ) -> list[Row]: ...
    def orders(self, user_id: int, state: str | None, page: Page) -> list[Row]: ...
    def positions(self, user_id: int, status: str | None, page: Page) -> list[Row]: ...
    def execution_log(self, user_id: int, intent_id: int | None, page: Page) -> list[Row]: ...
    def position_results(self, user_id: int, account_id: int | None, limit: int) -> list[PositionResult]:
        """The user's newest `limit` positions (of one account, or all), as the portfolio counts them."""
        ...
