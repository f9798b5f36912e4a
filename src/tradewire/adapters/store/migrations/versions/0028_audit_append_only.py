"""The audit log append-only in the database itself, and its entries found by the user they are about

Triggers refuse any UPDATE, DELETE (and on PostgreSQL TRUNCATE) of an audit_log entry, and let the
chain head (audit_head) only move forward one entry at a time, as SqlAudit.append does; it cannot
be removed. So a bug, an injected statement or a role that may write rows but not change the schema
cannot rewrite the trail. Whoever may change the schema (the database's owner, a superuser) can
drop or disable the triggers first: that is what `tradewire audit verify` is for, and why the head
it prints should be kept elsewhere (domain/audit.py).

On SQLite, a later migration that rebuilds audit_log or audit_head (batch_alter_table copies the
table) drops their triggers with the old table: it must create them again.

The index serves a user's trail, which includes the entries whose target is that user (an admin
disabling them, say).

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

_POSTGRESQL_UP = (
    """
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
            USING HINT = 'entries are never changed or removed; tradewire audit verify checks them';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
    """,
    """
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
    """,
    """
    CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            IF NEW.id = OLD.id AND NEW.seq = OLD.seq + 1 THEN
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION 'audit_head only moves forward one entry at a time: % refused', TG_OP;
    END
    $$
    """,
    """
    CREATE TRIGGER audit_head_forward_only BEFORE UPDATE OR DELETE ON audit_head
        FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only()
    """,
    """
    CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
        FOR EACH STATEMENT EXECUTE FUNCTION audit_head_forward_only()
    """,
)

_POSTGRESQL_DOWN = (
    "DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head",
    "DROP TRIGGER IF EXISTS audit_head_forward_only ON audit_head",
    "DROP FUNCTION IF EXISTS audit_head_forward_only()",
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "DROP FUNCTION IF EXISTS audit_log_append_only()",
)

# SQLite has no TRUNCATE: a DELETE without WHERE fires the DELETE trigger (triggers turn off the
# truncate optimisation).
_SQLITE_UP = (
    """
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END
    """,
    """
    CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
    WHEN NEW.id IS NOT OLD.id OR NEW.seq IS NOT OLD.seq + 1
    BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward one entry at a time: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward one entry at a time: DELETE refused'); END
    """,
)

_SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS audit_head_no_delete",
    "DROP TRIGGER IF EXISTS audit_head_forward_only",
    "DROP TRIGGER IF EXISTS audit_log_no_delete",
    "DROP TRIGGER IF EXISTS audit_log_no_update",
)


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.create_index("ix_audit_log_target", ["target_type", "target_id", "seq"], unique=False)
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL_UP if postgresql else _SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL_DOWN if postgresql else _SQLITE_DOWN:
        op.execute(statement)
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_index("ix_audit_log_target")
