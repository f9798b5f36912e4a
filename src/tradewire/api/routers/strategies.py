"""Strategies: publish, read, change, rotate the webhook passphrase, and rule on pairs."""

from __future__ import annotations

from dataclasses import asdict, fields
from decimal import Decimal

from fastapi import APIRouter, Request

from tradewire.api.audited import AuditDep, changed_fields
from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.fields import DbId
from tradewire.api.schemas.common import request_of
from tradewire.api.schemas.strategies import (
    PairOut,
    PairOverride,
    PassphraseOut,
    StrategyCreate,
    StrategyCreated,
    StrategyOut,
    StrategyUpdate,
)
from tradewire.domain.audit import Action, Detail
from tradewire.domain.members import Strategy, StrategyChanges, StrategySource
from tradewire.domain.track_record import PairRecord
from tradewire.services.members.strategies import StrategyRequest

router = APIRouter(prefix="/api/v1", tags=["strategies"])


def _webhook_url(request: Request, slug: str) -> str:
    return str(request.url_for("tradingview_alert", slug=slug))


@router.post("/strategies", response_model=StrategyCreated, status_code=201, responses={409: {}})
async def create_strategy(
    body: StrategyCreate, request: Request, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep
) -> StrategyCreated:
    """Publish a strategy: a TradingView webhook (its passphrase is returned once and stored hashed),
    or with `definition` a built-in strategy the server runs on closed candles."""
    published = await runtime.marketplace.strategies.publish(user.id, request_of(body, StrategyRequest))
    strategy = published.strategy
    detail: Detail = {"slug": strategy.slug, "source": str(strategy.source), "public": strategy.is_public}
    await audit.record(user, Action.STRATEGY_CREATED, ("strategy", strategy.id), detail)
    if published.passphrase is None:
        return StrategyCreated(**asdict(strategy))
    return StrategyCreated(
        **asdict(strategy), webhook_url=_webhook_url(request, strategy.slug), passphrase=published.passphrase
    )


@router.get("/strategies", response_model=list[StrategyOut])
async def list_strategies(request: Request, runtime: RuntimeDep, user: CurrentUser) -> list[StrategyOut]:
    """Your strategies and every public one (with its active subscriber count)."""
    return [_strategy_out(request, s) for s in await runtime.marketplace.strategies.visible(user.id)]


@router.get("/strategies/{strategy_id}", response_model=StrategyOut)
async def get_strategy(
    strategy_id: DbId, request: Request, runtime: RuntimeDep, user: CurrentUser
) -> StrategyOut:
    return _strategy_out(request, await runtime.marketplace.strategies.get(user.id, strategy_id))


@router.patch("/strategies/{strategy_id}", response_model=StrategyOut, responses={409: {}})
async def update_strategy(
    strategy_id: DbId,
    body: StrategyUpdate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    audit: AuditDep,
) -> StrategyOut:
    changes = request_of(body, StrategyChanges)
    strategy = await runtime.marketplace.strategies.change(user.id, strategy_id, changes)
    detail: Detail = {"fields": changed_fields(body)}
    await audit.record(user, Action.STRATEGY_CHANGED, ("strategy", strategy_id), detail)
    return _strategy_out(request, strategy)


@router.post("/strategies/{strategy_id}/passphrase", response_model=PassphraseOut)
async def rotate_passphrase(
    strategy_id: DbId, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep
) -> PassphraseOut:
    """Replace the webhook passphrase; the old one stops working at once."""
    rotated = await runtime.marketplace.strategies.rotate_passphrase(user.id, strategy_id)
    await audit.record(user, Action.PASSPHRASE_ROTATED, ("strategy", strategy_id))
    return PassphraseOut(passphrase=rotated)


@router.get("/strategies/{strategy_id}/pairs", response_model=list[PairOut])
async def strategy_pairs(strategy_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> list[PairOut]:
    """The strategy's own performance per pair (measured on its signals) and each pair's blacklist
    status: blacklisted after 5 consecutive losses or a return below -10 % over 3+ trades, reviewed
    weekly, whitelisted for 30 days when re-enabled."""
    return [
        _pair_out(p) for p in await runtime.marketplace.strategies.pairs(user.id, strategy_id, user.username)
    ]


@router.put("/strategies/{strategy_id}/pairs", response_model=PairOut)
async def override_pair(
    strategy_id: DbId, body: PairOverride, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep
) -> PairOut:
    """Blacklist a pair for your strategy, re-enable it (a 30-day whitelist), or hand it back to the
    automatic rules (NORMAL)."""
    record = await runtime.marketplace.strategies.override_pair(user, strategy_id, body.symbol, body.status)
    detail: Detail = {"symbol": body.symbol, "status": str(body.status)}
    await audit.record(user, Action.PAIR_CHANGED, ("strategy", strategy_id), detail)
    return _pair_out(record)


def _pair_out(p: PairRecord) -> PairOut:
    return PairOut(
        symbol=p.symbol,
        trades=p.trades,
        wins=p.wins,
        win_rate_pct=p.win_rate_pct.quantize(Decimal("0.01")),
        return_pct=p.gross_return_pct.quantize(Decimal("0.0001")),
        consecutive_losses=p.consecutive_losses,
        open=p.open_entry is not None,
        status=p.status,
        status_reason=p.status_reason,
        status_until=p.status_until,
        manual=p.manual,
    )


def _strategy_out(request: Request, strategy: Strategy) -> StrategyOut:
    webhook = strategy.is_owner and strategy.source == StrategySource.TRADINGVIEW
    url = _webhook_url(request, strategy.slug) if webhook else None
    # Field by field, not asdict: its deep copy of each definition was most of a marketplace listing's
    # time (the model copies what it keeps; the strategy, possibly a cached one, is left as it is).
    out = {f.name: getattr(strategy, f.name) for f in fields(strategy)}
    if not strategy.is_owner:
        out["definition"] = None  # a provider's recipe (indicators, parameters) is its own
    return StrategyOut(**out, webhook_url=url)
