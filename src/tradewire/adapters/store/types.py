"""Column types that keep money exact and times in UTC on every database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class Money(TypeDecorator[Decimal]):
    """Exact decimal: NUMERIC on PostgreSQL, text on SQLite (whose NUMERIC is a float)."""

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(38, 18, asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return value
        return format(value, "f")  # plain text, no exponent; trailing zeros are dropped on read

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        # Trailing zeros may remain ("0.0020"); they compare equal and the API prints values normalised.
        return value if isinstance(value, Decimal) else Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in and out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        value = _utc(value)
        if value is None:
            return None
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @staticmethod
    def sqlite_text(value: datetime | None) -> str | None:
        """The text SQLAlchemy's SQLite DATETIME stores ("YYYY-MM-DD HH:MM:SS.ffffff", always with its
        microseconds, so times compare as text), made in one call: bulk writes bind thousands."""
        value = _utc(value)
        return None if value is None else value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _utc(value: datetime | None) -> datetime | None:
    """`value` in UTC; a naive datetime is refused (its zone is unknown)."""
    if value is None or value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC)
