"""Exports of your orders, fills, positions and signals (CSV or JSON, streamed), and the yearly tax
report of an account."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse

from tradewire.api.audited import AuditDep
from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.fields import DbId
from tradewire.api.schemas.exports import (
    ErrorOut,
    ExportTime,
    FillRow,
    OrderRow,
    PositionRow,
    SignalRow,
    TaxReportOut,
)
from tradewire.domain.audit import Action, Detail, iso_utc
from tradewire.domain.tax import FIRST_YEAR, LAST_YEAR
from tradewire.ports.exports import ExportKind, ExportScope
from tradewire.services.exports import ExportFormat, tax_csv, tax_document

router = APIRouter(prefix="/api/v1", tags=["exports"])

_MEDIA = {ExportFormat.CSV: "text/csv; charset=utf-8", ExportFormat.JSON: "application/json"}
_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"model": ErrorOut, "description": "not signed in"}}
FormatQuery = Annotated[ExportFormat, Query(alias="format", description="csv (with a header row) or json")]


@router.get(
    "/exports/{kind}",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the records, oldest id first: a CSV header and rows, or one JSON array",
            "model": list[OrderRow | FillRow | PositionRow | SignalRow],
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        404: {
            "model": ErrorOut,
            "description": "no account of yours, or no strategy you can see, by that id",
        },
        **_UNAUTHORIZED,
    },
)
async def export(
    kind: ExportKind,
    runtime: RuntimeDep,
    user: CurrentUser,
    audit: AuditDep,
    form: FormatQuery = ExportFormat.JSON,
    account_id: DbId | None = None,
    strategy_id: DbId | None = None,
    start: Annotated[
        ExportTime | None, Query(alias="from", description="from this time on (ISO 8601, UTC by default)")
    ] = None,
    end: Annotated[ExportTime | None, Query(alias="to", description="before this time")] = None,
) -> StreamingResponse:
    """Your orders, fills, positions or signals, streamed however long the history: orders by their
    creation time, fills by execution, positions by opening, signals by receipt. Signals are those of
    your strategies and those that reached your subscriptions; an account narrows signals to those that
    reached it, a strategy narrows the rest to your subscriptions to it. Decimals are exact text,
    times ISO 8601 UTC."""
    if start is not None and end is not None and start >= end:
        raise RequestValidationError(
            [{"loc": ("query", "to"), "msg": "must be after 'from'", "type": "value_error"}]
        )
    scope = ExportScope(user.id, account_id, strategy_id, start, end)
    await asyncio.to_thread(runtime.exports.check, scope)
    detail: Detail = {
        "kind": kind.value,
        "format": form.value,
        "account_id": account_id,
        "strategy_id": strategy_id,
        "from": None if start is None else iso_utc(start),
        "to": None if end is None else iso_utc(end),
    }
    await audit.record(user, Action.EXPORTED, detail=detail)
    return StreamingResponse(
        runtime.exports.stream(kind, scope, form),  # a sync iterator: read page by page in a worker thread
        media_type=_MEDIA[form],
        headers={"Content-Disposition": f'attachment; filename="{kind.value}.{form.value}"'},
    )


@router.get(
    "/tax/{year}",
    response_model=TaxReportOut,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the report"},
        404: {"model": ErrorOut, "description": "no account of yours by that id"},
        **_UNAUTHORIZED,
    },
)
async def tax_report(
    year: Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR, description="calendar year, UTC")],
    account_id: Annotated[DbId, Query(description="one of your exchange accounts")],
    runtime: RuntimeDep,
    user: CurrentUser,
    audit: AuditDep,
    form: FormatQuery = ExportFormat.JSON,
) -> Any:
    """The account's tax report of a year: FIFO lots per market from its fills, each line's proceeds,
    cost basis (fees included), gain and holding period (long term beyond 365 days), totals per quote
    currency, the lots open at the year's end, and fees paid in a third currency (BNB ...) listed
    apart, unvalued. A sale beyond the open lots (e.g. of coins held before) is "unmatched"."""
    report = await asyncio.to_thread(runtime.exports.tax_report, user.id, account_id, year)
    detail: Detail = {"year": year, "format": form.value}
    await audit.record(user, Action.TAX_REPORT, ("account", account_id), detail)
    if form is ExportFormat.CSV:
        return Response(
            b"".join(tax_csv(report)),
            media_type=_MEDIA[form],
            headers={"Content-Disposition": f'attachment; filename="tax-{year}-account-{account_id}.csv"'},
        )
    return tax_document(report, account_id)
