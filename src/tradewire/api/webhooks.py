"""The TradingView webhook: answer fast (202), store once, trade asynchronously."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request, status

from tradewire.api.auth import RuntimeDep
from tradewire.api.schemas import WebhookAccepted
from tradewire.services.ingest import IngestRejected

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

MAX_BODY = 64 * 1024


@router.post(
    "/tradingview/{slug}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAccepted,
    responses={400: {}, 401: {}, 404: {}, 413: {}, 422: {}},
)
async def tradingview_alert(
    slug: str,
    request: Request,
    runtime: RuntimeDep,
    passphrase: str | None = Query(default=None, description="alternative to a passphrase in the body"),
) -> WebhookAccepted:
    """Take an alert exactly as TradingView sends it (JSON or plain text)."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"body over {MAX_BODY} bytes")
    try:
        result = await runtime.ingest.receive_tradingview(
            slug, body, request.headers.get("content-type"), passphrase
        )
    except IngestRejected as exc:
        raise HTTPException(exc.status, exc.message) from exc
    return WebhookAccepted(
        signal_id=result.signal_id, duplicate=result.duplicate, symbol=result.symbol, action=result.action
    )
