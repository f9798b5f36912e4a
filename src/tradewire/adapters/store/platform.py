"""The platform's trading state, and the restrictions every order obeys beyond its subscription's own
state (the platform's state, disabled owners), read in the transaction that decides or sends."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from tradewire.adapters.store.db import SqlTables, write_transaction
from tradewire.adapters.store.signin_tables import platform_trading
from tradewire.adapters.store.tables import users
from tradewire.adapters.store.values import trading_state
from tradewire.domain.platform import PlatformTrading, Restrictions
from tradewire.domain.risk import TradingState

_ROW = 1  # the one row of platform_trading


def restrictions(conn: Connection, lock: bool = False) -> Restrictions:
    """The platform's state and the disabled users, as `conn` sees them now. `lock`: hold the platform
    row (shared, PostgreSQL) until the transaction ends, so a halt being set waits for this
    transaction, and whatever it sends was claimed before the halt took effect."""
    query = select(platform_trading.c.trading_state).where(platform_trading.c.id == _ROW)
    if lock:
        query = query.with_for_update(read=True)
    stored = conn.execute(query).scalar()
    disabled = conn.execute(select(users.c.id).where(users.c.disabled_at.is_not(None))).scalars()
    platform = TradingState.ACTIVE if stored is None else trading_state(stored)
    return Restrictions(platform, frozenset(int(user_id) for user_id in disabled))


class SqlPlatform(SqlTables):
    """The platform's trading state, set by admins; it survives restarts."""

    def platform_trading(self) -> PlatformTrading:
        with self.engine.connect() as conn:
            row = conn.execute(select(platform_trading).where(platform_trading.c.id == _ROW)).first()
        if row is None:
            return PlatformTrading()
        return PlatformTrading(trading_state(row.trading_state), row.reason, row.changed_by, row.changed_at)

    def set_platform_trading(self, trading: PlatformTrading) -> None:
        values = {
            "trading_state": trading.state.value,
            "reason": trading.reason,
            "changed_by": trading.changed_by,
            "changed_at": trading.changed_at,
        }
        with write_transaction(self.engine) as conn:
            # An UPDATE waits for the claims holding the row (restrictions(lock=True)).
            changed = conn.execute(
                update(platform_trading).where(platform_trading.c.id == _ROW).values(values)
            )
            if changed.rowcount == 0:
                conn.execute(platform_trading.insert().values(id=_ROW, **values))

    def restrictions(self) -> Restrictions:
        with self.engine.connect() as conn:
            return restrictions(conn)
