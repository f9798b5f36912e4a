"""Outgoing webhooks: an endpoint (its secret shown once), changes to it, and a test's outcome."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from tradewire.api.schemas.common import Strict
from tradewire.api.schemas.telegram import NotificationsUpdate
from tradewire.domain.notices import NOTICES
from tradewire.domain.webhooks import MAX_URL, HookKind

_URL_HELP = (
    "where to POST: https to a public host (plain http and private, loopback or link-local addresses "
    "only when the server allows them)"
)


class HookCreate(Strict):
    url: str = Field(min_length=8, max_length=MAX_URL, description=_URL_HELP)
    kind: HookKind = Field(
        description='the body: "discord" {"content": text}, "slack" {"text": text}, or "json" '
        '{"event": {topic, type, id, ts, data}, "text": text}'
    )
    notices: NotificationsUpdate | None = Field(
        default=None, description="notifications on (true) or off (false); those not named are on"
    )
    enabled: bool = True


class HookUpdate(Strict):
    """What to change; fields not given stay as they are."""

    url: str | None = Field(default=None, min_length=8, max_length=MAX_URL, description=_URL_HELP)
    kind: HookKind | None = None
    notices: NotificationsUpdate | None = Field(
        default=None, description="notifications to turn on or off; the others stay as they are"
    )
    enabled: bool | None = Field(
        default=None, description="turned back on, a hook starts with what happens from then on"
    )


class HookOut(BaseModel):
    id: int
    url: str
    kind: HookKind
    notices: dict[str, bool] = Field(description=f"each notification on or off: {', '.join(NOTICES)}")
    enabled: bool
    created_at: datetime


class HookCreatedOut(HookOut):
    secret: str = Field(
        description="the signing secret, shown this once: each request carries X-Tradewire-Signature: "
        "sha256=<hex HMAC-SHA256 of the raw body with it>"
    )


class TrialOut(BaseModel):
    delivered: bool = Field(description="whether the endpoint answered 2xx")
    status_code: int | None = Field(description="the endpoint's answer (null: none)")
    detail: str
