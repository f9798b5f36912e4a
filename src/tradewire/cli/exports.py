"""`tradewire export` and `tradewire tax`: a user's records as CSV or JSON, and an account's tax report,
read from the database the server uses (the same scoping as the API: only that user's records)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from tradewire.cli.common import app, fail, migrated_database, parse_when, settings_or_exit

if TYPE_CHECKING:
    from tradewire.services.exports import Exports

_FORMATS = ("csv", "json")
_KINDS = ("orders", "fills", "positions", "signals")

UserOption = Annotated[str, typer.Option("--user", help="whose records (username)")]
FormatOption = Annotated[str, typer.Option("--format", help="csv (with a header row) or json")]
OutOption = Annotated[Path | None, typer.Option("--out", help="write to this file (default: stdout)")]


@app.command("export")
def export(
    kind: Annotated[str, typer.Argument(help="orders, fills, positions or signals")],
    user: UserOption,
    account_id: Annotated[int | None, typer.Option(min=1, help="only this account's records")] = None,
    strategy_id: Annotated[
        int | None, typer.Option(min=1, help="only records of subscriptions to this strategy")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="from this time on, UTC: 2024-01-01 or 2024-01-01T12:00")
    ] = None,
    until: Annotated[str | None, typer.Option("--to", help="before this time, UTC")] = None,
    form: FormatOption = "csv",
    out: OutOption = None,
) -> None:
    """Export a user's orders, fills, positions or signals, streamed a page at a time."""
    from tradewire.domain.members import Invalid, NotFound
    from tradewire.ports.exports import ExportKind, ExportScope
    from tradewire.services.exports import ExportFormat

    if kind not in _KINDS:
        fail(f"KIND: expected one of {', '.join(_KINDS)}, got {kind!r}")
    export_format = _format(form)
    start, end = parse_when("--from", since), parse_when("--to", until)
    exports, user_id = _exports_of(user)
    scope = ExportScope(user_id, account_id, strategy_id, start, end)
    try:
        exports.check(scope)
    except (NotFound, Invalid) as exc:
        fail(str(exc))
    _write(exports.stream(ExportKind(kind), scope, ExportFormat(export_format)), out)


@app.command("tax")
def tax(
    year: Annotated[int, typer.Argument(help="calendar year (UTC)")],
    user: UserOption,
    account_id: Annotated[int, typer.Option(min=1, help="the user's exchange account")],
    form: FormatOption = "csv",
    out: OutOption = None,
) -> None:
    """An account's FIFO tax report of one year: lines, totals, open lots, fees in third currencies."""
    from tradewire.domain.members import Invalid, NotFound
    from tradewire.services.exports import tax_csv, tax_document

    export_format = _format(form)
    exports, user_id = _exports_of(user)
    try:
        report = exports.tax_report(user_id, account_id, year)
    except (NotFound, Invalid) as exc:
        fail(str(exc))
    if export_format == "csv":
        _write(tax_csv(report), out)
    else:
        _write([json.dumps(tax_document(report, account_id), indent=2).encode() + b"\n"], out)


def _format(form: str) -> str:
    if form not in _FORMATS:
        fail(f"--format: expected csv or json, got {form!r}")
    return form


def _exports_of(username: str) -> tuple[Exports, int]:
    """The export use case on the configured database, and the user's id."""
    from tradewire.adapters.store.exports import SqlExports
    from tradewire.adapters.store.members import SqlMembers
    from tradewire.services.exports import Exports

    settings = settings_or_exit()
    engine = migrated_database(settings)
    found = SqlMembers(engine).user_by_name(username)
    if found is None:
        fail(f"--user: no user {username!r}")
    return Exports(SqlExports(engine)), found.id


def _write(chunks: Iterable[bytes], out: Path | None) -> None:
    if out is None:
        _copy(chunks, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    try:
        with out.open("wb") as handle:
            _copy(chunks, handle)
    except OSError as exc:
        fail(f"--out: {exc}", 1)


def _copy(chunks: Iterable[bytes], handle: BinaryIO) -> None:
    for chunk in chunks:
        handle.write(chunk)
