"""SQLAlchemy store: SQLite (WAL) by default, PostgreSQL by URL; schema managed by Alembic."""
