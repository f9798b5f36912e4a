"""`tradewire db`, `tradewire user` and `tradewire keys`: the schema, users and encryption keys."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from tradewire.cli.common import (
    db_app,
    fail,
    keys_app,
    migrated_database,
    runtime_or_exit,
    settings_or_exit,
    user_app,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from tradewire.adapters.secrets_box import SecretBox
    from tradewire.domain.members import Role

USERNAME = re.compile(r"[A-Za-z0-9_.-]+")  # as the API's sign-up (schemas/auth.py)


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
    admin: Annotated[bool, typer.Option("--admin", help="an admin (the same as --role admin)")] = False,
    role: Annotated[
        str, typer.Option(help="admin, provider (publishes strategies) or subscriber")
    ] = "provider",
) -> None:
    """Create a user (a provider unless told otherwise; the first admin comes from --admin); the
    password is prompted for (or read from stdin) and must pass the API's password policy."""
    from tradewire.adapters.clock import SystemClock
    from tradewire.adapters.passwords import hash_secret
    from tradewire.adapters.store.members import SqlMembers
    from tradewire.cli.audit import record_command
    from tradewire.domain.audit import USER_TARGET, Action
    from tradewire.domain.members import Conflict
    from tradewire.domain.signin import PasswordPolicy

    chosen = _role("--role", "admin" if admin else role)
    if not 3 <= len(username) <= 64 or not USERNAME.fullmatch(username):
        fail("the username needs 3 to 64 letters, digits, '_', '.' or '-'")
    settings = settings_or_exit()
    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else typer.prompt("password", hide_input=True, confirmation_prompt=True)
    )
    problem = PasswordPolicy(min_length=settings.password_min_length).problem(password, username)
    if problem is not None:
        fail(problem)
    engine = migrated_database(settings)
    try:
        user_id = SqlMembers(engine).create_user(username, hash_secret(password), SystemClock().now(), chosen)
    except Conflict as exc:
        fail(str(exc), 1)
    record_command(
        engine, Action.USER_CREATED, (USER_TARGET, user_id), {"username": username, "role": chosen.value}
    )
    typer.echo(f"user {username} created (id {user_id}, {chosen.value})")


@user_app.command("role")
def user_role(
    username: str,
    role: Annotated[str, typer.Argument(help="admin, provider or subscriber")],
) -> None:
    """Give a user a role (as an admin would with PUT /api/v1/admin/users/{id}/role)."""
    import asyncio

    from tradewire.adapters.clock import SystemClock
    from tradewire.adapters.store.admin import SqlAdmin
    from tradewire.adapters.store.members import SqlMembers
    from tradewire.adapters.store.platform import SqlPlatform
    from tradewire.cli.audit import record_command
    from tradewire.domain.audit import USER_TARGET, Action
    from tradewire.domain.members import Conflict
    from tradewire.services.admin import Administration

    chosen = _role("ROLE", role)
    settings = settings_or_exit()
    engine = migrated_database(settings)
    user = SqlMembers(engine).user_by_name(username)
    if user is None:
        fail(f"no user {username!r}", 1)
    administration = Administration(SqlAdmin(engine), SqlPlatform(engine), SystemClock())
    try:
        asyncio.run(administration.set_role(None, user.id, chosen))
    except Conflict as exc:
        fail(str(exc), 1)
    record_command(engine, Action.ROLE_SET, (USER_TARGET, user.id), {"role": chosen.value})
    typer.echo(f"user {username} is now {chosen.value}")


def _role(option: str, text: str) -> Role:
    from tradewire.domain.members import Role

    try:
        return Role(text.strip().lower())
    except ValueError:
        fail(f"{option}: {text!r} is not a role: admin, provider or subscriber")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random key for TRADEWIRE_ENCRYPTION_KEY."""
    from tradewire.adapters.secrets_box import generate_key

    typer.echo(generate_key())


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret (exchange accounts' API keys, AI endpoints' keys, two-factor
    secrets, webhooks' signing secrets) with TRADEWIRE_ENCRYPTION_KEY (old keys in ..._OLD_KEYS)."""
    from tradewire.adapters.store.ai import SqlAi
    from tradewire.adapters.store.db import disposable_engine
    from tradewire.adapters.store.two_factor import SqlTwoFactor
    from tradewire.adapters.store.webhooks import SqlHooks
    from tradewire.cli.audit import record_command
    from tradewire.domain.audit import Action
    from tradewire.services.chart_analyst import key_context
    from tradewire.services.two_factor import secret_context
    from tradewire.services.webhooks.setup import secret_context as hook_secret_context

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
    ai = SqlAi(members.engine)
    endpoints = _reseal(box, ai.sealed_endpoint_keys(), key_context, ai.seal_endpoint_key)
    typer.echo(f"{endpoints} AI endpoints re-encrypted with key {box.key_id}")
    totp = SqlTwoFactor(members.engine)
    secrets = _reseal(box, totp.sealed_secrets(), secret_context, totp.reseal_secret)
    typer.echo(f"{secrets} two-factor secrets re-encrypted with key {box.key_id}")
    hooks = SqlHooks(members.engine)
    hook_secrets = _reseal(box, hooks.sealed_secrets(), hook_secret_context, hooks.reseal_secret)
    typer.echo(f"{hook_secrets} webhook secrets re-encrypted with key {box.key_id}")
    counts = {"accounts": rotated, "ai_endpoints": endpoints, "two_factor": secrets, "webhooks": hook_secrets}
    record_command(members.engine, Action.API_KEYS_ROTATED, detail={**counts, "key_id": box.key_id})


def _reseal(
    box: SecretBox,
    sealed: Iterable[tuple[int, str]],
    context_of: Callable[[int], str],
    save: Callable[[int, str], None],
) -> int:
    """Seal again with the current key each (id, token) sealed with an older one; how many."""
    count = 0
    for key, token in sealed:
        if box.needs_rotation(token):
            context = context_of(key)
            save(key, box.encrypt(box.decrypt(token, context), context))
            count += 1
    return count
