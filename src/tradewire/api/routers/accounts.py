"""Exchange accounts: add, read, balance, sync with the exchange, delete."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from tradewire.api.audited import AuditDep
from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.fields import DbId
from tradewire.api.schemas.accounts import AccountCreate, AccountOut, AssetBalanceOut, BalanceOut
from tradewire.api.schemas.common import request_of
from tradewire.domain.audit import Action, Detail
from tradewire.services.members.accounts import AccountRequest
from tradewire.services.valuation import BalanceUnavailable

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post("/accounts", response_model=AccountOut, status_code=201, responses={409: {}})
async def create_account(
    body: AccountCreate, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep
) -> AccountOut:
    """Add an exchange account. API keys are encrypted at rest and never returned."""
    request = request_of(body, AccountRequest)
    account = await runtime.marketplace.accounts.open(user.id, request)
    detail: Detail = {
        "exchange": account.exchange,
        "mode": account.mode.value,
        "with_keys": account.has_api_key,
    }
    await audit.record(user, Action.ACCOUNT_CREATED, ("account", account.id), detail)
    return AccountOut(**asdict(account))


@router.get("/accounts", response_model=list[AccountOut])
async def list_accounts(runtime: RuntimeDep, user: CurrentUser) -> list[AccountOut]:
    return [AccountOut(**asdict(a)) for a in await runtime.marketplace.accounts.owned(user.id)]


@router.get("/accounts/{account_id}", response_model=AccountOut)
async def get_account(account_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> AccountOut:
    return AccountOut(**asdict(await runtime.marketplace.accounts.get(user.id, account_id)))


@router.get(
    "/accounts/{account_id}/balance", response_model=BalanceOut, responses={502: {}, 503: {}, 504: {}}
)
async def account_balance(
    account_id: DbId,
    runtime: RuntimeDep,
    user: CurrentUser,
    quote: Annotated[
        str | None, Query(pattern=r"^[A-Z0-9]{1,16}$", description="equity currency (default USDT)")
    ] = None,
) -> BalanceOut:
    """Balances per asset (free, used, total) and equity in the quote currency, from the account's own
    exchange: the paper market, or the live exchange (asked at most every `balance_ttl_s`). Assets that
    cannot be valued are listed in `unvalued`. 503 when the exchange cannot be reached, 502 when it
    refuses (e.g. keys), 504 when it does not answer in time."""
    account = await runtime.marketplace.accounts.get(user.id, account_id)
    currency = quote or runtime.settings.paper_quote_currency
    try:
        found = await runtime.valuations.balance(account_id, account.exchange, account.mode, currency)
    except BalanceUnavailable as exc:
        code = 504 if exc.timed_out else 502 if exc.refused else 503
        raise HTTPException(code, str(exc)) from exc
    valuation = found.valuation
    return BalanceOut(
        account_id=account_id,
        mode=account.mode,
        exchange=account.exchange,
        balances={asset: b.total for asset, b in found.assets.items() if b.total != 0},
        assets={
            asset: AssetBalanceOut(free=b.free, used=b.used, total=b.total)
            for asset, b in found.assets.items()
        },
        equity=valuation.equity,
        quote=currency,
        values=valuation.values,
        unvalued=valuation.unvalued,
        as_of=found.as_of,
    )


@router.post("/accounts/{account_id}/sync")
async def sync_account(account_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> dict[str, int]:
    """Check every unsettled order of the account with its exchange now, instead of at the next check."""
    await runtime.marketplace.accounts.get(user.id, account_id)
    return {"checked": await runtime.syncs.sync_account(account_id)}


@router.delete("/accounts/{account_id}", status_code=204, responses={409: {}})
async def delete_account(account_id: DbId, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep) -> None:
    """Delete an exchange account and its API keys (409 while a subscription uses it)."""
    await runtime.marketplace.accounts.close(user.id, account_id)
    await audit.record(user, Action.ACCOUNT_DELETED, ("account", account_id))
