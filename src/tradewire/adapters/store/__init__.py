"""SQLAlchemy store: SQLite (WAL) by default, PostgreSQL by URL; schema managed by Alembic."""

# The audit log's tables are declared on the metadata of tables.py in their own module (tables.py is
# at its size limit); importing it here puts them in `metadata` whichever store module comes first.
import tradewire.adapters.store.audit_tables  # noqa: F401
