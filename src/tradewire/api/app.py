"""The FastAPI application: REST, webhook, health; the trading loop runs in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.requests import Request
from fastapi.responses import JSONResponse

from tradewire import __version__
from tradewire.api import backtests, health, metrics, webhooks, ws
from tradewire.api.access import check_routes, include
from tradewire.api.body_limit import BodyLimit
from tradewire.api.dashboard import DASHBOARD_PAGES, mount_dashboard
from tradewire.api.docs import mount_docs
from tradewire.api.errors import install_error_answers
from tradewire.api.fields import printable
from tradewire.api.headers import SecurityHeaders
from tradewire.api.limits import RateLimitHeaders
from tradewire.api.retry_later import install_retry_later
from tradewire.api.routers import (
    accounts,
    admin,
    ai,
    audit,
    auth,
    bots,
    exports,
    hooks,
    intents,
    markets,
    models,
    records,
    strategies,
    subscriptions,
    telegram,
)
from tradewire.api.routers.models import MANIFEST_BYTES
from tradewire.runtime import Runtime

DOC_PAGES = ("/docs", "/docs/oauth2-redirect", "/redoc")  # HTML pages with inline scripts of their own


def create_app(runtime: Runtime) -> FastAPI:
    """An app serving `runtime`; starting the app starts recovery and the trading loop."""
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="tradewire",
        version=__version__,
        description="Trading signals in, orders out for every subscriber. Paper trading by default.",
        lifespan=lifespan,
        docs_url=None,  # served by mount_docs from local assets, not a CDN
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.runtime = runtime
    # Outermost last: security headers on every answer, CORS preflights included.
    # A model upload: the file's bound and room for its manifest and the multipart framing.
    uploads = {("POST", "/api/v1/models"): settings.max_model_bytes + MANIFEST_BYTES}
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_body_bytes, routes=uploads)
    app.add_middleware(metrics.WebhookTiming, meter=runtime.meters.webhook)
    app.add_middleware(RateLimitHeaders)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"],
            max_age=600,
        )
    app.add_middleware(
        SecurityHeaders, pages=DOC_PAGES, dashboard=DASHBOARD_PAGES, hsts_max_age_s=settings.hsts_max_age_s
    )
    if settings.docs_enabled:
        mount_docs(app)
    mount_dashboard(app)
    install_error_answers(app)
    install_retry_later(app)
    # Each route in its rate-limit tier (api/limits.py) and with its access rule (api/access.py); one
    # missing from either table stops the build.
    for resource in (
        webhooks,
        auth,
        strategies,
        accounts,
        subscriptions,
        bots,
        records,
        intents,
        markets,
        exports,
        models,
        admin,
        ai,
        audit,
        telegram,
        hooks,
    ):
        include(app, resource.router)
    for resource in (backtests, health, metrics):
        include(app, resource.router)
    app.include_router(ws.router)  # a WebSocket: no HTTP rate-limit tier; it authenticates first

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Say what is wrong without echoing submitted values (they may hold API keys or passwords).
        # Keys from the body may be in `loc`: escape what JSON cannot carry (unpaired surrogates).
        errors = [
            {
                "loc": [p if isinstance(p, int) else printable(str(p))[:100] for p in e.get("loc", ())],
                "msg": printable(str(e.get("msg", ""))),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": errors})

    check_routes(app)  # the documentation's routes and the WebSocket too
    return app
