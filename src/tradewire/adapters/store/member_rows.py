"""What the marketplace's SQL stores share: the engine, one-row inserts, and rows read back as records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.exc import IntegrityError

from tradewire.adapters.store.db import write_transaction
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import Account, AccountMode, Bot, Conflict, Strategy, Subscription
from tradewire.domain.risk import TradingState
from tradewire.domain.sizing import SizingMode


class MemberRows:
    """The engine and a one-row insert; every query that reads private data is scoped to its owner."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _insert(self, table: Table, values: dict[str, Any], conflict: str) -> int:
        """Insert one row and return its id; a uniqueness violation becomes Conflict(conflict)."""
        try:
            with write_transaction(self.engine) as conn:
                key = conn.execute(table.insert().values(values)).inserted_primary_key
        except IntegrityError as exc:
            raise Conflict(conflict) from exc
        assert key is not None
        return int(key[0])


def account_of(r: Any) -> Account:
    return Account(
        id=r["id"],
        name=r["name"],
        exchange=r["exchange"],
        mode=AccountMode(r["mode"]),
        sandbox=r["sandbox"],
        api_urls=r["api_urls"],
        has_api_key=r["api_key_enc"] is not None,
        created_at=r["created_at"],
    )


def strategy_of(r: Any, viewer_id: int) -> Strategy:
    return Strategy(
        id=r["id"],
        slug=r["slug"],
        name=r["name"],
        description=r["description"],
        source=r["source"],
        is_public=r["is_public"],
        owner=r["owner"],
        subscriber_count=r["subscriber_count"],
        created_at=r["created_at"],
        is_owner=r["owner_id"] == viewer_id,
        definition=r["definition"],
        dedup_window_s=r["dedup_window_s"],
    )


def subscription_of(r: Any) -> Subscription:
    return Subscription(
        id=r["id"],
        strategy_id=r["strategy_id"],
        strategy_slug=r["strategy_slug"],
        account_id=r["account_id"],
        account_name=r["account_name"],
        mode=AccountMode(r["mode"]),
        status=SubscriptionStatus(r["status"]),
        pairs=r["pairs"],
        sizing_mode=SizingMode(r["sizing_mode"]),
        sizing_value=r["sizing_value"],
        sizing_params=r["sizing_params"],
        risk_limits=r["risk_limits"],
        exit_rules=r["exit_rules"],
        dca=r["dca"],
        entry_order=r["entry_order"],
        trading_state=TradingState(r["trading_state"]),
        state_reason=r["state_reason"],
        pnl_total=r["pnl_total"],
        pnl_peak=r["pnl_peak"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


def bot_of(r: Any) -> Bot:
    return Bot(
        id=r["id"],
        name=r["name"],
        definition=r["definition"],
        created_at=r["created_at"],
        subscription_id=r["subscription_id"],
        account_id=r["account_id"],
        status=SubscriptionStatus(r["status"]),
        mode=AccountMode(r["mode"]),
    )
