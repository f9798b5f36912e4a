"""Users and their exchange accounts (API keys encrypted by the caller, never read back to a user)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update

from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.member_rows import MemberRows, account_of, owned, read_owned, user_of
from tradewire.adapters.store.tables import exchange_accounts, subscriptions, users
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import Account, AccountMode, Conflict, NewAccount, Role, SealedSecrets, User


class SqlAccounts(MemberRows):
    """Users, and exchange accounts scoped to their owner."""

    # -- users ------------------------------------------------------------------------------------

    def create_user(
        self, username: str, password_hash: str, now: datetime, role: Role = Role.PROVIDER
    ) -> int:
        values = {"username": username, "password_hash": password_hash, "created_at": now, "role": role.value}
        return self._insert(users, values, f"username {username!r} is taken")

    def set_password(self, user_id: int, password_hash: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))

    def user_by_name(self, username: str) -> User | None:
        return self._user(users.c.username == username)

    def user_by_id(self, user_id: int) -> User | None:
        return self._user(users.c.id == user_id)

    def _user(self, condition: ColumnElement[bool]) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(condition)).first()
        return user_of(row) if row else None

    # -- exchange accounts ------------------------------------------------------------------------

    def add_account(self, account: NewAccount) -> int:
        return self.create_account(
            {
                "user_id": account.user_id,
                "name": account.name,
                "exchange": account.exchange,
                "mode": account.mode.value,
                "sandbox": account.sandbox,
                "api_urls": None if account.api_urls is None else dict(account.api_urls),
                "created_at": account.created_at,
            }
        )

    def create_account(self, values: dict[str, Any]) -> int:
        """One account from its column values (seeding and tests; the API goes through add_account)."""
        return self._insert(
            exchange_accounts, values, f"you already have an account named {values['name']!r}"
        )

    def seal_account(self, account_id: int, secrets: SealedSecrets) -> None:
        self.set_account_secrets(
            account_id,
            {
                "api_key_enc": secrets.api_key,
                "api_secret_enc": secrets.api_secret,
                "api_password_enc": secrets.api_password,
            },
        )

    def set_account_secrets(self, account_id: int, secrets: dict[str, str | None]) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(exchange_accounts).where(exchange_accounts.c.id == account_id).values(secrets)
            )

    def accounts(self, user_id: int) -> list[Account]:
        query = (
            select(exchange_accounts)
            .where(exchange_accounts.c.user_id == user_id)
            .order_by(exchange_accounts.c.id)
        )
        return self._records(query, account_of)

    def account(self, user_id: int, account_id: int) -> Account:
        query = select(exchange_accounts).where(owned(exchange_accounts, account_id, user_id))
        return self._record(query, account_of, f"no exchange account {account_id}")

    def live_account(self, account_id: int) -> dict[str, Any] | None:
        """A live account's connection details, secrets still encrypted (server-side use only)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(exchange_accounts).where(
                    exchange_accounts.c.id == account_id, exchange_accounts.c.mode == AccountMode.LIVE.value
                )
            ).first()
        return dict(row._mapping) if row else None

    def live_account_count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(exchange_accounts)
                    .where(exchange_accounts.c.mode == AccountMode.LIVE.value)
                ).scalar_one()
            )

    def encrypted_secrets(self) -> list[dict[str, Any]]:
        """Every live account's ciphertexts (for key rotation); never leaves the server."""
        query = select(
            exchange_accounts.c.id,
            exchange_accounts.c.api_key_enc,
            exchange_accounts.c.api_secret_enc,
            exchange_accounts.c.api_password_enc,
        ).where(exchange_accounts.c.api_key_enc.is_not(None))
        return self._records(query, dict)

    def delete_account(self, user_id: int, account_id: int) -> None:
        with write_transaction(self.engine) as conn:
            read_owned(conn, exchange_accounts.c.id, account_id, user_id, f"no exchange account {account_id}")
            active = conn.execute(
                select(func.count())
                .select_from(subscriptions)
                .where(
                    subscriptions.c.account_id == account_id,
                    subscriptions.c.status != SubscriptionStatus.CANCELLED.value,
                )
            ).scalar_one()
            if active:
                raise Conflict("the account still has subscriptions; cancel them first")
            conn.execute(exchange_accounts.delete().where(owned(exchange_accounts, account_id, user_id)))
