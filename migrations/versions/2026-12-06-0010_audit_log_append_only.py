"""The audit log is append-only in the store itself, not by convention (EU GMP Annex 11 §9,
21 CFR 11.10(e)): no entry can be changed, and none deleted before it is a year old (the least
retention `cpxm retention` allows for the audit trail).

PostgreSQL's TRUNCATE is not a row operation and is not caught: run the app under a role that
does not own the tables (docs/security.md).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 00:10:00
"""

from __future__ import annotations

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | None = None
depends_on: str | None = None

UPDATE_REFUSED = "audit_log is append-only: an entry cannot be changed"
DELETE_REFUSED = "audit_log is append-only: an entry younger than 365 days cannot be deleted"

SQLITE = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{UPDATE_REFUSED}'); END",
    "CREATE TRIGGER audit_log_no_early_delete BEFORE DELETE ON audit_log "
    "WHEN OLD.occurred_at > datetime('now', '-365 days') "
    f"BEGIN SELECT RAISE(ABORT, '{DELETE_REFUSED}'); END",
)
POSTGRESQL = (
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    f"IF TG_OP = 'UPDATE' THEN RAISE EXCEPTION '{UPDATE_REFUSED}'; END IF; "
    "IF OLD.occurred_at > (now() AT TIME ZONE 'UTC') - interval '365 days' THEN "
    f"RAISE EXCEPTION '{DELETE_REFUSED}'; END IF; "
    "RETURN OLD; "
    "END $$",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL if postgres else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_early_delete")
