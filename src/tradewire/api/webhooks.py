"""The TradingView webhook: answer fast (202), store once, trade asynchronously."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request, status

from tradewire.api.auth import RuntimeDep
from tradewire.api.schemas.records import WebhookAccepted
from tradewire.domain.alerts.tradingview import MAX_BODY_BYTES
from tradewire.services.ingest import IngestRejected

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

MAX_BODY = MAX_BODY_BYTES


@router.post(
    "/tradingview/{slug}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAccepted,
    responses={400: {}, 401: {}, 404: {}, 413: {}, 422: {}, 429: {}},
)
async def tradingview_alert(
    slug: str,
    request: Request,
    runtime: RuntimeDep,
    passphrase: str | None = Query(default=None, description="alternative to a passphrase in the body"),
) -> WebhookAccepted:
    """Take an alert exactly as TradingView sends it (JSON or plain text)."""
    body = await _bounded_body(request)
    client = request.client.host if request.client else None
    try:
        result = await runtime.ingest.receive_tradingview(
            slug, body, request.headers.get("content-type"), passphrase, client
        )
    except IngestRejected as exc:
        headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else None
        raise HTTPException(exc.status, exc.message, headers=headers) from exc
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
