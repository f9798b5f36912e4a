"""Risk alerts in SQL (domain/risk_alerts.py): those told once are written only the first time (a row
of `risk_notices` claims each, in the transaction of the decision that made it), and an exchange
account's circuit breaker opening is written for the account's owner in a transaction of its own (once
per opening when the breaker is shared by processes: a `risk_notices` row claims it too)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select

from tradewire.adapters.store import bulk
from tradewire.adapters.store.db import SqlTables
from tradewire.adapters.store.events import transaction_with_events
from tradewire.adapters.store.tables import exchange_accounts, risk_notices
from tradewire.domain.events import Event
from tradewire.domain.risk_alerts import BreakerOpening, Once, RiskAlert, breaker_alert


def alert_events(conn: Connection, alerts: Sequence[RiskAlert], now: datetime) -> list[Event]:
    """The events of `alerts` to write: each told-once alert whose claim is new (a repeat, in this
    batch or from before, is dropped), and every other one."""
    made: list[Event] = []
    claims: dict[Once, Event] = {}
    for alert in alerts:
        if alert.once is None:
            made.append(alert.event)
        else:
            claims.setdefault(alert.once, alert.event)
    if not claims:
        return made
    rows = [
        {"kind": k, "subject_id": s, "period": p, "user_id": e.user_id, "created_at": now}
        for (k, s, p), e in claims.items()
    ]
    won = bulk.insert_returning(
        conn,
        risk_notices,
        rows,
        ["kind", "subject_id", "period"],
        ignore_conflicts_on=["kind", "subject_id", "period"],
    )
    new = {Once(k, int(s), p) for k, s, p in won}
    return made + [event for once, event in claims.items() if once in new]


class SqlRiskAlerts(SqlTables):
    """What risk tells outside a decision: a circuit breaker opening."""

    def breaker_opened(self, opening: BreakerOpening, now: datetime) -> bool:
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            user_id = conn.execute(
                select(exchange_accounts.c.user_id).where(exchange_accounts.c.id == opening.account_id)
            ).scalar()
            if user_id is None:
                return False
            made = alert_events(conn, [breaker_alert(int(user_id), opening)], now)
            outbox.add(made)
        return bool(made)
