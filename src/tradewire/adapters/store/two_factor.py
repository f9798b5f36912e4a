"""Users' TOTP secrets, encrypted by the caller (`tradewire.ports.two_factor.TwoFactorStore`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, or_, select, update

from tradewire.adapters.store.db import SqlTables, write_transaction
from tradewire.adapters.store.signin_tables import totp_secrets
from tradewire.ports.two_factor import StoredTotp


class SqlTwoFactor(SqlTables):
    def totp(self, user_id: int) -> StoredTotp | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(totp_secrets).where(totp_secrets.c.user_id == user_id)).first()
        if row is None:
            return None
        return StoredTotp(row.secret_enc, row.confirmed_at is not None, row.last_step)

    def enrol_totp(self, user_id: int, secret_enc: str, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                delete(totp_secrets).where(
                    totp_secrets.c.user_id == user_id, totp_secrets.c.confirmed_at.is_(None)
                )
            )
            conn.execute(insert(totp_secrets).values(user_id=user_id, secret_enc=secret_enc, created_at=now))

    def confirm_totp(self, user_id: int, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(totp_secrets).where(totp_secrets.c.user_id == user_id).values(confirmed_at=now)
            )

    def use_totp_step(self, user_id: int, step: int) -> bool:
        with write_transaction(self.engine) as conn:
            used = conn.execute(
                update(totp_secrets)
                .where(
                    totp_secrets.c.user_id == user_id,
                    or_(totp_secrets.c.last_step.is_(None), totp_secrets.c.last_step < step),
                )
                .values(last_step=step)
            )
        return used.rowcount == 1

    def sealed_secrets(self) -> list[tuple[int, str]]:
        """Every user's sealed TOTP secret (for `tradewire keys rotate`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(totp_secrets.c.user_id, totp_secrets.c.secret_enc))
            return [(int(user_id), str(sealed)) for user_id, sealed in rows]

    def reseal_secret(self, user_id: int, secret_enc: str) -> None:
        """The same secret, sealed again (with the current key)."""
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(totp_secrets).where(totp_secrets.c.user_id == user_id).values(secret_enc=secret_enc)
            )

    def remove_totp(self, user_id: int) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(delete(totp_secrets).where(totp_secrets.c.user_id == user_id))
