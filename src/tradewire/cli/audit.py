"""`tradewire audit verify`: check the audit log's hash chain from its first entry to its head."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tradewire.cli.common import app, fail, settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tradewire.domain.audit import Action, Detail, Head

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="entries read per query")] = 1000,
    expect: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH, a head printed by an earlier verify: that entry must still be there"),
    ] = None,
) -> None:
    """Check every entry of the audit log against the one before it and the chain head.

    Exit 0 when the chain is whole; 1 with the first entry that was changed, removed (missing) or
    moved (reordered); 2 for a bad option. Reads the log in batches: memory stays flat however long it
    is. Keep the head it prints elsewhere and pass it later as --expect: a chain rewritten from the
    tampered entry on, head included, passes every other check.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from tradewire.adapters.clock import SystemClock
    from tradewire.adapters.store.audit import SqlAudit
    from tradewire.adapters.store.db import disposable_engine
    from tradewire.domain.audit import EMPTY
    from tradewire.services.audit import AuditTrail

    anchor = _anchor(expect) if expect is not None else None
    settings = settings_or_exit()
    engine = disposable_engine(settings.effective_database_url)
    try:
        result = AuditTrail(SqlAudit(engine), SystemClock()).verify(batch, anchor)
    except SQLAlchemyError as exc:
        fail(f"cannot read the audit log (run `tradewire db upgrade`?): {type(exc).__name__}", 1)
    finally:
        engine.dispose()
    finding = result.finding
    if finding is not None:
        typer.echo(
            f"audit log: entry {finding.seq} {finding.problem.value}: {finding.reason} "
            f"({result.checked} entries before it are intact)",
            err=True,
        )
        raise typer.Exit(1)
    head = result.head or EMPTY  # none: the log is empty (a missing head of a log is a finding)
    typer.echo(f"audit log intact: {result.checked} entries; head {head.seq}:{head.hash}")


def _anchor(text: str) -> Head:
    from tradewire.domain.audit import HASH_LENGTH, INT_MAX, Head

    seq, _, digest = text.strip().partition(":")
    number = seq.isascii() and seq.isdigit() and len(seq) <= 19 and 0 < int(seq) <= INT_MAX
    if not number or len(digest) != HASH_LENGTH:
        fail("--expect: give SEQ:HASH as printed by `tradewire audit verify` (e.g. 42:9f86d0…)")
    try:
        bytes.fromhex(digest)
    except ValueError:
        fail("--expect: the hash is 64 hexadecimal digits")
    return Head(int(seq), digest.lower())


def record_command(
    engine: Engine, action: Action, target: tuple[str, int] | None = None, detail: Detail | None = None
) -> None:
    """Append what a command did to the audit log: by the operating-system user who ran it, from
    the command line."""
    import getpass
    from datetime import UTC, datetime

    from tradewire.adapters.store.audit import SqlAudit
    from tradewire.domain.audit import COMMAND_LINE, Actor, Event

    try:
        who = f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (containers)
        who = "cli"
    target_type, target_id = target if target is not None else (None, None)
    event = Event(datetime.now(UTC), Actor(None, who), action, COMMAND_LINE, target_type, target_id, detail)
    SqlAudit(engine).append(event)
