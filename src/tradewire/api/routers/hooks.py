"""Outgoing webhooks: your endpoints that receive your notifications (the Telegram ones) as
Discord-, Slack-compatible or JSON bodies, each request signed with the endpoint's secret."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tradewire.api.audited import AuditDep
from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.fields import DbId
from tradewire.api.schemas.hooks import HookCreate, HookCreatedOut, HookOut, HookUpdate, TrialOut
from tradewire.domain.audit import Action
from tradewire.domain.webhooks import notices_on
from tradewire.ports.webhooks import Hook, HookChanges, NewHook

router = APIRouter(prefix="/api/v1/webhooks/outgoing", tags=["outgoing webhooks"])


def _out(hook: Hook) -> HookOut:
    return HookOut(
        id=hook.id,
        url=hook.url,
        kind=hook.kind,
        notices=notices_on(hook.notices),
        enabled=hook.enabled,
        created_at=hook.created_at,
    )


def _notices(body: HookCreate | HookUpdate) -> dict[str, bool] | None:
    if body.notices is None:
        return None
    return {name: value for name, value in body.notices.model_dump().items() if value is not None}


@router.post("", response_model=HookCreatedOut, status_code=201, responses={403: {}, 409: {}, 422: {}})
async def create_hook(
    body: HookCreate, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep
) -> HookCreatedOut:
    """A new endpoint. Its signing secret is in this answer only (kept encrypted, never shown again).
    403 when the server has no encryption key, 409 beyond the most per user, 422 for an address the
    server must not call."""
    request = NewHook(body.url, body.kind, _notices(body) or {}, body.enabled)
    created = await runtime.webhooks.setup.add(user.id, request)
    hook = created.hook
    await audit.record(user, Action.WEBHOOK_CREATED, ("webhook", hook.id), {"kind": hook.kind.value})
    return HookCreatedOut(**_out(hook).model_dump(), secret=created.secret)


@router.get("", response_model=list[HookOut])
async def list_hooks(runtime: RuntimeDep, user: CurrentUser) -> list[HookOut]:
    return [_out(hook) for hook in await runtime.webhooks.setup.hooks(user.id)]


@router.patch("/{hook_id}", response_model=HookOut, responses={422: {}})
async def change_hook(hook_id: DbId, body: HookUpdate, runtime: RuntimeDep, user: CurrentUser) -> HookOut:
    """Change an endpoint's address, body kind, notifications or state (422 for an address the server
    must not call)."""
    changes = HookChanges(url=body.url, kind=body.kind, notices=_notices(body), enabled=body.enabled)
    return _out(await runtime.webhooks.setup.change(user.id, hook_id, changes))


@router.delete("/{hook_id}", status_code=204, response_class=Response)
async def delete_hook(hook_id: DbId, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep) -> Response:
    """Delete an endpoint and its secret: nothing more is sent to it."""
    await runtime.webhooks.setup.delete(user.id, hook_id)
    await audit.record(user, Action.WEBHOOK_DELETED, ("webhook", hook_id))
    return Response(status_code=204)


@router.post("/{hook_id}/test", response_model=TrialOut)
async def test_hook(hook_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> TrialOut:
    """Send the endpoint a test message now, signed like the others, once (no retries): whether it
    answered 2xx, and what it answered."""
    result = await runtime.webhooks.setup.trial(user.id, hook_id)
    return TrialOut(delivered=result.delivered, status_code=result.status, detail=result.detail)
