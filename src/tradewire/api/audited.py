"""The audit trail as a request sees it: entries recorded with the request's client address (as
api/addresses.py reads it, `trusted_proxies` respected) and User-Agent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel

from tradewire.api.addresses import client_address
from tradewire.api.auth import RuntimeDep
from tradewire.domain.audit import Action, Detail, Origin
from tradewire.domain.members import User
from tradewire.services.audit import AuditTrail, Target


@dataclass(frozen=True, slots=True)
class Audit:
    """Records what the request's user did (after the change is made), or a sign-in attempt."""

    trail: AuditTrail
    origin: Origin

    async def record(
        self, user: User, action: Action, target: Target | None = None, detail: Detail | None = None
    ) -> None:
        await self.trail.record(user, action, self.origin, target, detail)

    async def attempt(self, username: str, action: Action, detail: Detail | None = None) -> None:
        await self.trail.record_attempt(username, action, self.origin, detail)


def request_origin(request: Request, trusted_proxies: list[str]) -> Origin:
    return Origin.of(client_address(request, trusted_proxies), request.headers.get("user-agent"))


def audit_of(request: Request, runtime: RuntimeDep) -> Audit:
    return Audit(runtime.audit, request_origin(request, runtime.settings.trusted_proxies))


AuditDep = Annotated[Audit, Depends(audit_of)]


def changed_fields(body: BaseModel) -> list[str]:
    """The names of the fields a request body set (what a change touched), without their values."""
    return sorted(body.model_fields_set)
