"""Subscriptions: an exchange account follows a strategy, with its sizing, risk, exit and entry rules."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from tradewire.api.audited import AuditDep, changed_fields
from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.fields import DbId
from tradewire.api.schemas.common import request_of
from tradewire.api.schemas.settings import confirmation_of, settings_of
from tradewire.api.schemas.subscriptions import SubscriptionCreate, SubscriptionOut, SubscriptionUpdate
from tradewire.domain.audit import Action, Detail
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import SubscriptionChanges
from tradewire.services.members.subscriptions import SubscriptionRequest

router = APIRouter(prefix="/api/v1", tags=["subscriptions"])


@router.post(
    "/subscriptions", response_model=SubscriptionOut, status_code=201, responses={404: {}, 409: {}, 503: {}}
)
async def subscribe(
    body: SubscriptionCreate, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep
) -> SubscriptionOut:
    """Subscribe one of your exchange accounts to a strategy (yours, or a public one)."""
    request = request_of(
        body, SubscriptionRequest, settings=settings_of(body), confirmation=confirmation_of(body)
    )
    subscription = await runtime.marketplace.subscriptions.subscribe(user.id, request)
    detail: Detail = {
        "strategy_id": body.strategy_id,
        "account_id": body.account_id,
        "fields": changed_fields(body),
    }
    await audit.record(user, Action.SUBSCRIPTION_CREATED, ("subscription", subscription.id), detail)
    return SubscriptionOut(**asdict(subscription))


@router.get("/subscriptions", response_model=list[SubscriptionOut])
async def list_subscriptions(runtime: RuntimeDep, user: CurrentUser) -> list[SubscriptionOut]:
    return [SubscriptionOut(**asdict(s)) for s in await runtime.marketplace.subscriptions.owned(user.id)]


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut)
async def get_subscription(subscription_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> SubscriptionOut:
    return SubscriptionOut(**asdict(await runtime.marketplace.subscriptions.get(user.id, subscription_id)))


@router.patch(
    "/subscriptions/{subscription_id}", response_model=SubscriptionOut, responses={409: {}, 503: {}}
)
async def update_subscription(
    subscription_id: DbId, body: SubscriptionUpdate, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep
) -> SubscriptionOut:
    """Pause, resume or cancel; change the pair filter, the sizing, the risk, exit or entry settings,
    or the confirmation of entries."""
    changes = request_of(
        body,
        SubscriptionChanges,
        status=None if body.status is None else SubscriptionStatus(body.status),
        all_pairs=bool(body.all_pairs),
        settings=settings_of(body),
        no_dca=bool(body.no_dca),
    )
    subscription = await runtime.marketplace.subscriptions.change(user, subscription_id, changes)
    detail: Detail = {"fields": changed_fields(body), "status": subscription.status.value}
    await audit.record(user, Action.SUBSCRIPTION_CHANGED, ("subscription", subscription_id), detail)
    return SubscriptionOut(**asdict(subscription))
