"""Rate limits by tier: which endpoint is in which tier (TIERS, the one place that says so), the check
every routed request passes, and the X-RateLimit-* headers on its answer.

A request is counted per user when it carries a valid bearer token, else per client address
(api/addresses.py). Past its tier's limit it is answered 429 with Retry-After and a body saying when
to retry (api/retry_later.py). The limits are settings (`rate_limit_<tier>`); the counts live in
memory, or in Redis when `redis_url` is set (adapters/rate_limits.py).

The webhook's tier is counted by its handler (api/webhooks.py): accepted alerts per strategy, and
wrong passphrases per strategy and address, so a stranger's bad requests cannot use up a strategy's
alerts. /health, /health/live and /metrics are not limited (load balancers and Prometheus poll them).

An endpoint missing from TIERS stops the application from being built: none can escape by accident.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request

from tradewire.api.addresses import client_address
from tradewire.api.auth import token_claims
from tradewire.api.retry_later import TOO_MANY_REQUESTS, RetryLater
from tradewire.ports.rate_limits import Decision
from tradewire.runtime import Runtime


class Tier(StrEnum):
    GENERAL = "general"
    SIGNIN = "signin"
    TRADING = "trading"  # what changes trading: accounts, subscriptions, bots, manual closes, confirms
    MARKETPLACE = "marketplace"  # strategies: publishing, reading, pairs
    EXPORTS = "exports"
    WEBHOOK = "webhook"  # counted by the handler
    UNLIMITED = "unlimited"


TIERS: dict[str, Tier] = {
    "POST /api/v1/webhooks/tradingview/{slug}": Tier.WEBHOOK,
    "POST /api/v1/auth/token": Tier.SIGNIN,
    "POST /api/v1/auth/refresh": Tier.GENERAL,
    "POST /api/v1/auth/logout": Tier.GENERAL,
    "POST /api/v1/auth/password": Tier.SIGNIN,
    "POST /api/v1/auth/totp": Tier.SIGNIN,
    "POST /api/v1/auth/totp/confirm": Tier.SIGNIN,
    "POST /api/v1/auth/totp/disable": Tier.SIGNIN,
    "POST /api/v1/users": Tier.SIGNIN,
    "GET /api/v1/me": Tier.GENERAL,
    "POST /api/v1/strategies": Tier.MARKETPLACE,
    "GET /api/v1/strategies": Tier.MARKETPLACE,
    "GET /api/v1/strategies/{strategy_id}": Tier.MARKETPLACE,
    "PATCH /api/v1/strategies/{strategy_id}": Tier.MARKETPLACE,
    "POST /api/v1/strategies/{strategy_id}/passphrase": Tier.MARKETPLACE,
    "GET /api/v1/strategies/{strategy_id}/pairs": Tier.MARKETPLACE,
    "PUT /api/v1/strategies/{strategy_id}/pairs": Tier.MARKETPLACE,
    "POST /api/v1/accounts": Tier.TRADING,
    "GET /api/v1/accounts": Tier.GENERAL,
    "GET /api/v1/accounts/{account_id}": Tier.GENERAL,
    "GET /api/v1/accounts/{account_id}/balance": Tier.GENERAL,
    "POST /api/v1/accounts/{account_id}/sync": Tier.TRADING,
    "DELETE /api/v1/accounts/{account_id}": Tier.TRADING,
    "POST /api/v1/subscriptions": Tier.TRADING,
    "GET /api/v1/subscriptions": Tier.GENERAL,
    "GET /api/v1/subscriptions/{subscription_id}": Tier.GENERAL,
    "PATCH /api/v1/subscriptions/{subscription_id}": Tier.TRADING,
    "POST /api/v1/bots": Tier.TRADING,
    "GET /api/v1/bots": Tier.GENERAL,
    "GET /api/v1/bots/{bot_id}": Tier.GENERAL,
    "PATCH /api/v1/bots/{bot_id}": Tier.TRADING,
    "POST /api/v1/bots/{bot_id}/start": Tier.TRADING,
    "POST /api/v1/bots/{bot_id}/stop": Tier.TRADING,
    "GET /api/v1/signals": Tier.GENERAL,
    "GET /api/v1/intents": Tier.GENERAL,
    "POST /api/v1/intents/{intent_id}/confirm": Tier.TRADING,
    "POST /api/v1/intents/{intent_id}/decline": Tier.TRADING,
    "GET /api/v1/orders": Tier.GENERAL,
    "GET /api/v1/positions": Tier.GENERAL,
    "GET /api/v1/portfolio": Tier.GENERAL,
    "GET /api/v1/risk": Tier.GENERAL,
    "GET /api/v1/health/details": Tier.GENERAL,
    "POST /api/v1/positions/{position_id}/close": Tier.TRADING,
    "GET /api/v1/execution-log": Tier.GENERAL,
    "GET /api/v1/markets": Tier.GENERAL,
    "GET /api/v1/exports/{kind}": Tier.EXPORTS,
    "GET /api/v1/tax/{year}": Tier.EXPORTS,
    "GET /api/v1/audit": Tier.GENERAL,
    "GET /api/v1/admin/audit": Tier.GENERAL,
    "POST /api/v1/backtests": Tier.GENERAL,
    "GET /api/v1/backtests/{backtest_id}": Tier.GENERAL,
    "GET /api/v1/backtests/{backtest_id}/equity.png": Tier.GENERAL,
    "GET /api/v1/backtests/{backtest_id}/candles": Tier.GENERAL,
    "GET /api/v1/strategies/{strategy_id}/backtests": Tier.GENERAL,
    "POST /api/v1/models": Tier.MARKETPLACE,  # with the strategies they serve (validated in a child)
    "GET /api/v1/models": Tier.GENERAL,
    "GET /api/v1/models/{model_id}": Tier.GENERAL,
    "GET /api/v1/models/{model_id}/file": Tier.GENERAL,
    "DELETE /api/v1/models/{model_id}": Tier.MARKETPLACE,
    "GET /api/v1/admin/users": Tier.GENERAL,
    "GET /api/v1/admin/users/{user_id}": Tier.GENERAL,
    "PUT /api/v1/admin/users/{user_id}/role": Tier.TRADING,
    "POST /api/v1/admin/users/{user_id}/disable": Tier.TRADING,
    "POST /api/v1/admin/users/{user_id}/enable": Tier.TRADING,
    "GET /api/v1/admin/executions": Tier.GENERAL,
    "GET /api/v1/admin/trading": Tier.GENERAL,
    "PUT /api/v1/admin/trading": Tier.TRADING,
    "POST /api/v1/ai/endpoints": Tier.MARKETPLACE,
    "GET /api/v1/ai/endpoints": Tier.GENERAL,
    "GET /api/v1/ai/endpoints/{endpoint_id}": Tier.GENERAL,
    "DELETE /api/v1/ai/endpoints/{endpoint_id}": Tier.MARKETPLACE,
    "POST /api/v1/ai/prompts": Tier.MARKETPLACE,
    "GET /api/v1/ai/prompts": Tier.GENERAL,
    "GET /api/v1/ai/analyses": Tier.GENERAL,
    "GET /api/v1/ai/analyses/{analysis_id}": Tier.GENERAL,
    "GET /api/v1/ai/analyses/{analysis_id}/image.png": Tier.GENERAL,
    "GET /api/v1/telegram": Tier.GENERAL,
    "POST /api/v1/telegram/link": Tier.TRADING,  # with the other settings that reach trading
    "DELETE /api/v1/telegram/link": Tier.TRADING,
    "PATCH /api/v1/telegram/notifications": Tier.GENERAL,
    "PUT /api/v1/telegram/summary": Tier.GENERAL,
    "DELETE /api/v1/telegram/summary": Tier.GENERAL,
    # Telegram's own POSTs (every user's chats from a few addresses); a wrong secret costs one compare.
    "POST /api/v1/telegram/updates": Tier.UNLIMITED,
    "POST /api/v1/webhooks/outgoing": Tier.MARKETPLACE,
    "GET /api/v1/webhooks/outgoing": Tier.GENERAL,
    "PATCH /api/v1/webhooks/outgoing/{hook_id}": Tier.MARKETPLACE,
    "DELETE /api/v1/webhooks/outgoing/{hook_id}": Tier.MARKETPLACE,
    "POST /api/v1/webhooks/outgoing/{hook_id}/test": Tier.MARKETPLACE,  # a request to the outside
    "GET /health": Tier.UNLIMITED,
    "GET /health/live": Tier.UNLIMITED,
    "GET /metrics": Tier.UNLIMITED,  # loopback or its own token (api/metrics.py)
}

_DECISION = "tradewire.rate_limit"  # the scope's key of the decision's _Box, for the headers


def operation(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def include_limited(app: FastAPI, router: APIRouter, *checks: Any) -> None:
    """Include `router` with every route checked against its tier, then by `checks` (dependencies);
    RuntimeError for a route that TIERS does not name."""
    for route in router.routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            name = operation(method, getattr(route, "path", "?"))
            if name not in TIERS:
                raise RuntimeError(f"{name} has no rate-limit tier: add it to TIERS in {__name__}")
            if TIERS[name] is not Tier.UNLIMITED:
                route.responses.update(TOO_MANY_REQUESTS)  # type: ignore[attr-defined]
    app.include_router(router, dependencies=[Depends(rate_limited), *checks])


async def rate_limited(request: Request) -> None:
    """Count the request in its route's tier; RetryLater past the limit."""
    route = request.scope["route"]
    tier = TIERS[operation(request.method, route.path)]
    if tier in (Tier.UNLIMITED, Tier.WEBHOOK):
        return
    runtime: Runtime = request.app.state.runtime
    decision = await runtime.rate_limits.hit(tier.value, caller_key(request, runtime))
    remember(request, decision)
    if not decision.allowed:
        raise too_many(f"{tier.value} requests over {runtime.rate_limits.describe(tier.value)}", decision)


def caller_key(request: Request, runtime: Runtime) -> str:
    """Who a request is counted for: its user (a valid bearer token), else its address."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        claims = token_claims(runtime, token.strip())
        if claims is not None:
            return f"user:{claims['sub']}"
    return f"address:{client_address(request, runtime.settings.trusted_proxies)}"


def remember(request: Request, decision: Decision) -> None:
    """Send `decision`'s X-RateLimit-* headers with the answer (RateLimitHeaders)."""
    box = request.scope.get(_DECISION)
    if isinstance(box, _Box):
        box.decision = decision


class _Box:
    """Where the middleware finds the decision made deeper in (routing may copy the scope)."""

    __slots__ = ("decision",)

    def __init__(self) -> None:
        self.decision: Decision | None = None


def too_many(what: str, decision: Decision) -> RetryLater:
    """The 429 for a refused `decision`."""
    return RetryLater(
        f"rate limit: {what}; retry after {decision.retry_after_s} s",
        decision.retry_after_s,
        datetime.fromtimestamp(decision.now, UTC),
    )


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RateLimitHeaders:
    """ASGI middleware: X-RateLimit-Limit, -Remaining and -Reset (Unix time) on every answer to a
    counted request, whatever the route returned (JSON, a stream, an error)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        box = scope[_DECISION] = _Box()

        async def send_with_headers(message: Message) -> None:
            decision = box.decision
            if message["type"] == "http.response.start" and decision is not None:
                headers = list(message.get("headers", ()))
                headers += [
                    (b"x-ratelimit-limit", str(decision.limit).encode()),
                    (b"x-ratelimit-remaining", str(decision.remaining).encode()),
                    (b"x-ratelimit-reset", str(int(decision.reset_at + 0.999)).encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
