"""Trading records of each owner: signals, intents, orders, positions (and closing one), the execution log,
and the portfolio's results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tradewire.api.audited import AuditDep
from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.fields import DbId
from tradewire.api.paging import Before, PageQuery
from tradewire.api.schemas.records import (
    CurvePointOut,
    ExecutionLogOut,
    IntentOut,
    LimitUsageOut,
    OrderOut,
    PortfolioModeOut,
    PortfolioOut,
    PositionClose,
    PositionOut,
    RiskUsageOut,
    SignalOut,
    SubscriptionRiskOut,
)
from tradewire.domain.audit import Action
from tradewire.domain.execution import IntentStatus
from tradewire.domain.orders import OrderState
from tradewire.domain.records import Page
from tradewire.services.risk_usage import MAX_PAGE

router = APIRouter(prefix="/api/v1", tags=["records"])


@router.get("/signals", response_model=list[SignalOut])
async def list_signals(
    runtime: RuntimeDep, user: CurrentUser, page: PageQuery, strategy_id: DbId | None = None
) -> list[SignalOut]:
    """Signals of your own strategies, newest first, with how many subscriptions each reached."""
    rows = await runtime.records.signals(user.id, strategy_id, page)
    return [SignalOut(**row) for row in rows]


@router.get("/intents", response_model=list[IntentOut])
async def list_intents(
    runtime: RuntimeDep,
    user: CurrentUser,
    page: PageQuery,
    signal_id: DbId | None = None,
    status_: Annotated[IntentStatus | None, Query(alias="status")] = None,
) -> list[IntentOut]:
    """What each signal did on your subscriptions, and why (or why not); `status=awaiting_confirmation`
    lists the entries waiting for your yes, with their proposal and deadline."""
    rows = await runtime.records.intents(user.id, signal_id, page, status_)
    return [IntentOut(**row) for row in rows]


@router.get("/orders", response_model=list[OrderOut])
async def list_orders(
    runtime: RuntimeDep, user: CurrentUser, page: PageQuery, state: OrderState | None = None
) -> list[OrderOut]:
    rows = await runtime.records.orders(user.id, state, page)
    return [OrderOut(**row) for row in rows]


@router.get("/positions", response_model=list[PositionOut])
async def list_positions(
    runtime: RuntimeDep,
    user: CurrentUser,
    page: PageQuery,
    status_: Annotated[str | None, Query(alias="status", pattern="^(open|closed)$")] = None,
) -> list[PositionOut]:
    """Positions with realised PnL, and unrealised PnL at the current price for open ones."""
    return [
        PositionOut(
            **p.row,
            net_realized_pnl=p.net_realized_pnl,
            mark_price=p.price,
            unrealized_pnl=p.unrealized_pnl,
            mark_source=p.mark.source if p.mark else None,
            mark_error=p.mark.error if p.mark and p.price is None else None,
        )
        for p in await runtime.records.positions(user.id, status_, page)
    ]


@router.get("/portfolio", response_model=PortfolioOut)
async def portfolio(runtime: RuntimeDep, user: CurrentUser, account_id: DbId | None = None) -> PortfolioOut:
    """Your realised results per mode and quote currency (of one account, or all): PnL today, over 7
    days and in total, the win rate and the cumulative PnL by day. Results are those of closed
    positions, net of fees, on the UTC day they closed; paper and live are never added together."""
    today = runtime.clock.now().date()
    found = await runtime.records.portfolio(user.id, account_id, today)
    return PortfolioOut(
        modes=[
            PortfolioModeOut(
                mode=s.mode,
                quote=s.quote,
                pnl_today=s.pnl_today,
                pnl_7d=s.pnl_7d,
                pnl_total=s.pnl_total,
                closed_positions=s.closed_positions,
                winning_positions=s.winning_positions,
                win_rate_pct=s.win_rate_pct,
                open_positions=s.open_positions,
                curve=[CurvePointOut(day=c.day, pnl=c.pnl, cumulative=c.cumulative) for c in s.curve],
            )
            for s in found.summaries
        ],
        positions_counted=found.positions_counted,
        truncated=found.truncated,
    )


@router.get("/risk", response_model=RiskUsageOut)
async def risk_usage(
    runtime: RuntimeDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="subscriptions per page")] = MAX_PAGE,
    before_id: Before = None,
) -> RiskUsageOut:
    """How much of each risk limit your subscriptions (not cancelled) use now: the account's loss
    today vs the daily loss limit, the subscription's drawdown vs its pause level, and open positions
    vs the per-strategy and per-account limits, each with the entry rule's own verdict. Equity comes
    from the account's exchange, valued in the quote currency of the markets the subscription trades
    (as the executor sizes an entry); a subscription trading in several quotes is listed once per quote
    (`equity_error` says why equity is missing; the % limits then have no bound). Newest subscription
    first, at most `limit` subscriptions (and about 100 account equities) per page: `next_before_id`,
    when set, is the `before_id` of the next page."""
    found = await runtime.risk.of(user.id, Page(limit, before_id))
    return RiskUsageOut(
        as_of=found.as_of,
        next_before_id=found.next_before_id,
        subscriptions=[
            SubscriptionRiskOut(
                subscription_id=r.subscription.id,
                strategy_slug=r.subscription.strategy_slug,
                account_id=r.subscription.account_id,
                account_name=r.subscription.account_name,
                mode=r.subscription.mode,
                trading_state=r.subscription.trading_state,
                quote=r.quote,
                symbols=list(r.symbols),
                equity=r.equity,
                equity_error=r.equity_error,
                limits=[
                    LimitUsageOut(
                        rule=u.rule, used=u.used, limit=u.limit, warn=u.warn, passed=u.passed, detail=u.detail
                    )
                    for u in r.limits
                ],
            )
            for r in found.found
        ],
    )


@router.post("/positions/{position_id}/close", response_model=PositionClose, responses={409: {}})
async def close_position(
    position_id: DbId, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep
) -> PositionClose:
    """Close an open position now with a market order (close reason MANUAL)."""
    await runtime.records.close_position(user, position_id)
    await audit.record(user, Action.POSITION_CLOSED, ("position", position_id))
    return PositionClose(position_id=position_id, status="closing")


@router.get("/execution-log", response_model=list[ExecutionLogOut])
async def list_execution_log(
    runtime: RuntimeDep, user: CurrentUser, page: PageQuery, intent_id: DbId | None = None
) -> list[ExecutionLogOut]:
    """Every execution attempt on your accounts: SUCCESS, FAILED, PARTIAL, SKIPPED or PENDING."""
    rows = await runtime.records.execution_log(user.id, intent_id, page)
    return [ExecutionLogOut(**row) for row in rows]
