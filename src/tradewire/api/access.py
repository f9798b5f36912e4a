"""Who may call each endpoint: ACCESS, the one table that says so, and the check every routed request
passes before its handler runs (after its rate limit, api/limits.py).

  ANYONE     no sign-in (the webhook checks its passphrase, /metrics its own rule, api/metrics.py)
  SIGNED_IN  any signed-in user (401 without a valid token; a disabled user's tokens are refused)
  ADMIN      signed-in admins only (403 for everybody else)

Two marks say more about signed-in routes; their use cases enforce them, and tests/e2e/test_access.py
walks the table for every role:
  owned      the path names the caller's own records: another user's id answers 404, exactly like an
             id that does not exist (a strategy another user made public can be read, not changed)
  publishes  the request can list a strategy in the marketplace (is_public true): a provider's or an
             admin's right (403 for a subscriber); private strategies and personal bots are anyone's

The application is not built while a route is missing from ACCESS or ACCESS names a route that does
not exist, so neither can drift from the routers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.routing import BaseRoute, Mount, Route

from tradewire.api import answers
from tradewire.api.auth import RuntimeDep, current_caller, oauth2
from tradewire.api.limits import include_limited
from tradewire.domain.members import Role


class Who(StrEnum):
    ANYONE = "anyone"
    SIGNED_IN = "signed in"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Access:
    who: Who
    owned: bool = False
    publishes: bool = False

    def describe(self) -> str:
        if self.who is Who.ANYONE:
            return "Access: anyone, no sign-in."
        if self.who is Who.ADMIN:
            return "Access: admins only (403 for other users)."
        text = "Access: any signed-in user"
        if self.owned:
            text += "; ids of records that are not yours answer 404, as ids that do not exist"
        if self.publishes:
            text += "; making a strategy public (is_public) needs the provider or admin role (403)"
        return text + "."


ANYONE = Access(Who.ANYONE)
USER = Access(Who.SIGNED_IN)
OWNED = Access(Who.SIGNED_IN, owned=True)
ADMIN = Access(Who.ADMIN)

ACCESS: dict[str, Access] = {
    "POST /api/v1/webhooks/tradingview/{slug}": ANYONE,  # the strategy's passphrase
    "POST /api/v1/auth/token": ANYONE,
    "POST /api/v1/auth/refresh": ANYONE,  # the refresh token
    "POST /api/v1/auth/logout": USER,
    "POST /api/v1/auth/password": USER,
    "POST /api/v1/auth/totp": USER,
    "POST /api/v1/auth/totp/confirm": USER,
    "POST /api/v1/auth/totp/disable": USER,
    "POST /api/v1/users": ANYONE,  # sign-up, when enabled: makes a subscriber
    "GET /api/v1/me": USER,
    "POST /api/v1/strategies": Access(Who.SIGNED_IN, publishes=True),
    "GET /api/v1/strategies": USER,
    "GET /api/v1/strategies/{strategy_id}": OWNED,  # or public
    "PATCH /api/v1/strategies/{strategy_id}": Access(Who.SIGNED_IN, owned=True, publishes=True),
    "POST /api/v1/strategies/{strategy_id}/passphrase": OWNED,
    "GET /api/v1/strategies/{strategy_id}/pairs": OWNED,  # or public
    "PUT /api/v1/strategies/{strategy_id}/pairs": OWNED,
    "POST /api/v1/accounts": USER,
    "GET /api/v1/accounts": USER,
    "GET /api/v1/accounts/{account_id}": OWNED,
    "GET /api/v1/accounts/{account_id}/balance": OWNED,
    "POST /api/v1/accounts/{account_id}/sync": OWNED,
    "DELETE /api/v1/accounts/{account_id}": OWNED,
    "POST /api/v1/subscriptions": USER,  # of your own account, to your own or a public strategy
    "GET /api/v1/subscriptions": USER,
    "GET /api/v1/subscriptions/{subscription_id}": OWNED,
    "PATCH /api/v1/subscriptions/{subscription_id}": OWNED,
    "POST /api/v1/bots": USER,
    "GET /api/v1/bots": USER,
    "GET /api/v1/bots/{bot_id}": OWNED,
    "PATCH /api/v1/bots/{bot_id}": OWNED,
    "POST /api/v1/bots/{bot_id}/start": OWNED,
    "POST /api/v1/bots/{bot_id}/stop": OWNED,
    "GET /api/v1/signals": USER,
    "GET /api/v1/intents": USER,
    "POST /api/v1/intents/{intent_id}/confirm": OWNED,
    "POST /api/v1/intents/{intent_id}/decline": OWNED,
    "GET /api/v1/orders": USER,
    "GET /api/v1/positions": USER,
    "GET /api/v1/portfolio": USER,
    "GET /api/v1/risk": USER,
    "GET /api/v1/health/details": USER,
    "POST /api/v1/positions/{position_id}/close": OWNED,
    "GET /api/v1/execution-log": USER,
    "GET /api/v1/markets": ANYONE,  # the paper market's public prices
    "GET /api/v1/exports/{kind}": USER,
    "GET /api/v1/tax/{year}": USER,
    "POST /api/v1/backtests": USER,
    "GET /api/v1/backtests/{backtest_id}": OWNED,
    "GET /api/v1/backtests/{backtest_id}/equity.png": OWNED,
    "GET /api/v1/backtests/{backtest_id}/candles": OWNED,
    "GET /api/v1/strategies/{strategy_id}/backtests": OWNED,  # or public
    "POST /api/v1/models": USER,
    "GET /api/v1/models": USER,
    "GET /api/v1/models/{model_id}": OWNED,
    "GET /api/v1/models/{model_id}/file": OWNED,
    "DELETE /api/v1/models/{model_id}": OWNED,
    "POST /api/v1/ai/endpoints": USER,
    "GET /api/v1/ai/endpoints": USER,
    "GET /api/v1/ai/endpoints/{endpoint_id}": OWNED,
    "DELETE /api/v1/ai/endpoints/{endpoint_id}": OWNED,
    "POST /api/v1/ai/prompts": USER,
    "GET /api/v1/ai/prompts": USER,
    "GET /api/v1/ai/analyses": USER,
    "GET /api/v1/ai/analyses/{analysis_id}": OWNED,
    "GET /api/v1/ai/analyses/{analysis_id}/image.png": OWNED,
    "GET /api/v1/telegram": USER,  # the caller's own chat and settings
    "POST /api/v1/telegram/link": USER,
    "DELETE /api/v1/telegram/link": USER,
    "PATCH /api/v1/telegram/notifications": USER,
    "PUT /api/v1/telegram/summary": USER,
    "DELETE /api/v1/telegram/summary": USER,
    "POST /api/v1/telegram/updates": ANYONE,  # Telegram's webhook: its secret token header (401 without)
    "POST /api/v1/webhooks/outgoing": USER,
    "GET /api/v1/webhooks/outgoing": USER,
    "PATCH /api/v1/webhooks/outgoing/{hook_id}": OWNED,
    "DELETE /api/v1/webhooks/outgoing/{hook_id}": OWNED,
    "POST /api/v1/webhooks/outgoing/{hook_id}/test": OWNED,
    "GET /api/v1/admin/users": ADMIN,
    "GET /api/v1/admin/users/{user_id}": ADMIN,
    "PUT /api/v1/admin/users/{user_id}/role": ADMIN,
    "POST /api/v1/admin/users/{user_id}/disable": ADMIN,
    "POST /api/v1/admin/users/{user_id}/enable": ADMIN,
    "GET /api/v1/admin/executions": ADMIN,
    "GET /api/v1/admin/trading": ADMIN,
    "GET /api/v1/admin/audit": ADMIN,  # every user's trail
    "GET /api/v1/audit": USER,  # the caller's own trail (a query, no ids)
    "PUT /api/v1/admin/trading": ADMIN,
    "GET /health": ANYONE,
    "GET /health/live": ANYONE,
    "GET /metrics": ANYONE,  # loopback, or TRADEWIRE_METRICS_TOKEN (api/metrics.py)
    "WEBSOCKET /api/v1/ws": USER,  # authenticates with its first message (api/ws.py), closes 4401
    "GET /openapi.json": ANYONE,
    "GET /docs": ANYONE,
    "GET /docs/oauth2-redirect": ANYONE,
    "GET /redoc": ANYONE,
    "GET /": ANYONE,  # the dashboard's page: it signs in through the API
    "GET /assets/{path:path}": ANYONE,  # the dashboard's scripts, styles and chart library
    "GET /docs-assets": ANYONE,  # the documentation pages' scripts and styles (a static mount)
}

# Served only while the documentation is on (TRADEWIRE_DOCS_ENABLED, the default).
DOCUMENTATION = frozenset(
    {"GET /openapi.json", "GET /docs", "GET /docs/oauth2-redirect", "GET /redoc", "GET /docs-assets"}
)

_SIGNED_IN_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"description": "not signed in: no, an expired or a revoked token, or a disabled user's"}
}
_PUBLISHING_ANSWERS: dict[int | str, dict[str, Any]] = {
    403: {"description": "a subscriber making a strategy public (providers and admins publish)"}
}
_ADMIN_ANSWERS: dict[int | str, dict[str, Any]] = {
    **_SIGNED_IN_ANSWERS,
    403: {"description": "admins only"},
}


def app_routes(app: FastAPI) -> list[tuple[str, BaseRoute]]:
    """Every route `app` answers, with the path it answers at (included routers' routes one by one)."""
    return [(context.path or "?", context.original_route) for context in iter_route_contexts(app.routes)]


def operations(route: Any, path: str | None = None) -> list[str]:
    """The ACCESS keys of a route (HEAD goes with GET), answering at `path` (default: its own)."""
    path = path or getattr(route, "path", "?")
    if isinstance(route, APIWebSocketRoute):
        return [f"WEBSOCKET {path}"]
    if isinstance(route, Mount):
        return [f"GET {path}"]
    if isinstance(route, APIRoute | Route):
        return [f"{method} {path}" for method in sorted(route.methods or ()) if method != "HEAD"]
    raise RuntimeError(f"{route!r}: a kind of route {__name__} does not know")


def access_of(route: Any, path: str | None = None) -> list[Access]:
    """Each operation's entry in ACCESS; RuntimeError for one that ACCESS does not name."""
    found = []
    for name in operations(route, path):
        if name not in ACCESS:
            raise RuntimeError(f"{name} has no access rule: add it to ACCESS in {__name__}")
        found.append(ACCESS[name])
    return found


def include(app: FastAPI, router: APIRouter) -> None:
    """Include `router` with its rate limits and every route's access rule enforced and documented;
    RuntimeError for a route without a rule, or whose handler contradicts it."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            prepare(route)
            answers.document(route)
    include_limited(app, router, Depends(authorized))


def prepare(route: APIRoute) -> None:
    """Check `route` against its rule and say who may call it in its OpenAPI description and answers
    (idempotent). A route anyone may call must not ask for the caller; one whose path names a record
    by id (not an admin's) must be marked owned, so the access test asks it with others' ids."""
    (rule,) = access_of(route)
    name = f"{sorted(route.methods or ())[0]} {route.path}"
    if rule.who is Who.ANYONE and _asks_caller(route.dependant):
        raise RuntimeError(f"{name}: ACCESS says anyone, but its handler needs a signed-in user")
    ids = [p for p in route.param_convertors if p.endswith("_id")]
    if rule.who is Who.SIGNED_IN and bool(ids) is not rule.owned:
        raise RuntimeError(f"{name}: mark it owned in ACCESS exactly when its path names a record by id")
    text = rule.describe()
    description = route.description or ""
    if text not in description:
        route.description = f"{description}\n\n{text}".strip()
    if rule.who is Who.SIGNED_IN:
        route.responses.update(_SIGNED_IN_ANSWERS)
        if rule.publishes:
            route.responses.update(_PUBLISHING_ANSWERS)
    elif rule.who is Who.ADMIN:
        route.responses.update(_ADMIN_ANSWERS)


def check_routes(app: FastAPI) -> None:
    """RuntimeError when a route of `app` has no rule, or a rule names no route of `app`."""
    routes = app_routes(app)
    named = {name for path, route in routes for name in operations(route, path)}
    for path, route in routes:
        access_of(route, path)
    stale = sorted(set(ACCESS) - named - DOCUMENTATION)  # the documentation may be switched off
    if stale:
        raise RuntimeError(f"ACCESS in {__name__} names routes that do not exist: {', '.join(stale)}")


def _asks_caller(dependant: Dependant) -> bool:
    return any(d.call is current_caller or _asks_caller(d) for d in dependant.dependencies)


async def authorized(
    request: Request, runtime: RuntimeDep, token: Annotated[str | None, Depends(oauth2)]
) -> None:
    """Enforce the route's rule: 401 without a valid token where one is needed, 403 for a non-admin
    on an admin route. The caller is kept for the handler's CurrentUser (one lookup per request)."""
    route = request.scope["route"]
    (rule,) = access_of(route)
    if rule.who is Who.ANYONE:
        return
    caller = await current_caller(request, runtime, token)
    if rule.who is Who.ADMIN and caller.user.role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "admins only")
