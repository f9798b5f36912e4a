"""`tradewire db`, `tradewire user` and `tradewire keys`: the schema, users and encryption keys."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tradewire.cli.common import db_app, keys_app, runtime_or_exit, settings_or_exit, user_app


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Create or migrate the database schema."""
    from tradewire.adapters.store.db import disposable_engine, private_dir, upgrade

    settings = settings_or_exit()
    private_dir(settings.var_dir)
    upgrade(disposable_engine(settings.effective_database_url), revision)
    typer.echo(f"database at {revision}")


@user_app.command("create")
def user_create(
    username: str,
    password_stdin: Annotated[bool, typer.Option(help="read the password from standard input")] = False,
) -> None:
    """Create a user; the password is prompted for (or read from stdin)."""
    from tradewire.adapters.clock import SystemClock
    from tradewire.adapters.passwords import hash_secret
    from tradewire.adapters.store.db import disposable_engine, private_dir, upgrade
    from tradewire.adapters.store.members import SqlMembers
    from tradewire.domain.members import Conflict

    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else typer.prompt("password", hide_input=True, confirmation_prompt=True)
    )
    if len(password) < 8:
        typer.echo("error: the password needs at least 8 characters", err=True)
        raise typer.Exit(2)
    settings = settings_or_exit()
    private_dir(settings.var_dir)
    engine = disposable_engine(settings.effective_database_url)
    upgrade(engine)
    try:
        user_id = SqlMembers(engine).create_user(username, hash_secret(password), SystemClock().now())
    except Conflict as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"user {username} created (id {user_id})")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random key for TRADEWIRE_ENCRYPTION_KEY."""
    from tradewire.adapters.secrets_box import generate_key

    typer.echo(generate_key())


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored API key with TRADEWIRE_ENCRYPTION_KEY (old keys in ..._OLD_KEYS)."""
    from tradewire.adapters.store.db import disposable_engine

    settings = settings_or_exit()
    runtime = runtime_or_exit(settings)
    box = runtime.secret_box
    if box is None:
        typer.echo("error: TRADEWIRE_ENCRYPTION_KEY is not set", err=True)
        raise typer.Exit(2)
    members = runtime.members
    members.engine = disposable_engine(settings.effective_database_url)
    rotated = 0
    for row in members.encrypted_secrets():
        updates: dict[str, str | None] = {}
        for column in ("api_key_enc", "api_secret_enc", "api_password_enc"):
            token = row[column]
            if token and box.needs_rotation(token):
                context = f"account:{row['id']}:{column.removesuffix('_enc')}"
                updates[column] = box.encrypt(box.decrypt(token, context), context)
        if updates:
            members.set_account_secrets(row["id"], updates)
            rotated += 1
    typer.echo(f"{rotated} accounts re-encrypted with key {box.key_id}")
