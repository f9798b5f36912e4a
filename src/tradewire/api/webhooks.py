"""The TradingView webhook: answer fast (202), store once, trade asynchronously."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Query, Request, status

from tradewire.api.addresses import client_address
from tradewire.api.auth import RuntimeDep
from tradewire.api.fields import printable, storable_text
from tradewire.api.limits import remember, too_many
from tradewire.api.retry_later import RetryLater
from tradewire.api.schemas.records import WebhookAccepted
from tradewire.domain.alerts.tradingview import MAX_BODY_BYTES
from tradewire.services.ingest import IngestRejected

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

MAX_BODY = MAX_BODY_BYTES
MAX_SLUG = 64  # strategies.slug


@router.post(
    "/tradingview/{slug}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAccepted,
    responses={
        400: {},
        401: {},
        403: {"description": "the strategy's owner is disabled"},
        404: {},
        413: {},
        422: {},
    },
)
async def tradingview_alert(
    slug: str,
    request: Request,
    runtime: RuntimeDep,
    passphrase: str | None = Query(default=None, description="alternative to a passphrase in the body"),
) -> WebhookAccepted:
    """Take an alert exactly as TradingView sends it (JSON or plain text).

    Rate limits: `rate_limit_webhook` accepted alerts per strategy (a burst of alerts passes), and
    `rate_limit_webhook_failures` wrong passphrases per strategy and address, checked before anything
    is read or hashed; either answers 429 with Retry-After. (An address sending to unknown strategies
    is not counted: TradingView's few addresses carry every user's alerts.)"""
    if len(slug) > MAX_SLUG or not storable_text(slug):
        # No strategy has it, and the database could not even be asked (PostgreSQL text holds no NUL).
        raise HTTPException(404, f"no strategy with webhook slug {printable(slug[:MAX_SLUG])!r}")
    limits = runtime.rate_limits
    client = client_address(request, runtime.settings.trusted_proxies)
    failures = f"{slug}|{client}"
    failed = await limits.peek("webhook_failures", failures)
    # Guesses spent: a wrong passphrase now answers 429, but the alert is still read (64 KiB at most)
    # and the right passphrase accepted: TradingView sends every user's alerts from a few addresses,
    # so refusing the address outright would let anyone block a strategy's real alerts. Hashing
    # stays bounded per address and overall by the ingest's PassphraseChecks.
    blocked_s = None if failed.allowed else max(1, failed.retry_after_s)
    accepted = await limits.peek("webhook", slug)
    if not accepted.allowed:
        remember(request, accepted)
        raise too_many(f"alerts for this strategy over {limits.describe('webhook')}", accepted)
    body = await _bounded_body(request)
    try:
        result = await runtime.ingest.receive_tradingview(
            slug, body, request.headers.get("content-type"), passphrase, client, blocked_s
        )
    except IngestRejected as exc:
        if exc.status == 401:
            await limits.hit("webhook_failures", failures)
        if exc.status == 429 and exc.retry_after_s is not None:
            raise RetryLater(exc.message, exc.retry_after_s, datetime.now(UTC)) from exc
        raise HTTPException(exc.status, exc.message) from exc
    # Counted once accepted; alerts checked at the same moment may pass the limit by their number.
    remember(request, await limits.hit("webhook", slug))
    return WebhookAccepted(
        signal_id=result.signal_id, duplicate=result.duplicate, symbol=result.symbol, action=result.action
    )


async def _bounded_body(request: Request) -> bytes:
    """The body, read no further than MAX_BODY bytes whatever Content-Length claims (or omits)."""
    declared = request.headers.get("content-length")
    if declared is not None and (len(declared) > 12 or not declared.isdigit()):
        raise HTTPException(400, "Content-Length is not a byte count")
    if declared is not None and int(declared) > MAX_BODY:
        raise HTTPException(413, f"body over {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, f"body over {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
