"""Electronic signatures of regulated decisions, append-only in the store like the audit log.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 01:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | None = None
depends_on: str | None = None

UPDATE_REFUSED = "electronic_signatures is append-only: a signature cannot be changed"
DELETE_REFUSED = (
    "electronic_signatures is append-only: a signature younger than 365 days cannot be deleted"
)

SQLITE = (
    "CREATE TRIGGER electronic_signatures_no_update BEFORE UPDATE ON electronic_signatures "
    f"BEGIN SELECT RAISE(ABORT, '{UPDATE_REFUSED}'); END",
    "CREATE TRIGGER electronic_signatures_no_early_delete BEFORE DELETE ON electronic_signatures "
    "WHEN OLD.signed_at > datetime('now', '-365 days') "
    f"BEGIN SELECT RAISE(ABORT, '{DELETE_REFUSED}'); END",
)
POSTGRESQL = (
    "CREATE FUNCTION electronic_signatures_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    f"IF TG_OP = 'UPDATE' THEN RAISE EXCEPTION '{UPDATE_REFUSED}'; END IF; "
    "IF OLD.signed_at > (now() AT TIME ZONE 'UTC') - interval '365 days' THEN "
    f"RAISE EXCEPTION '{DELETE_REFUSED}'; END IF; "
    "RETURN OLD; "
    "END $$",
    "CREATE TRIGGER electronic_signatures_append_only BEFORE UPDATE OR DELETE "
    "ON electronic_signatures "
    "FOR EACH ROW EXECUTE FUNCTION electronic_signatures_append_only()",
)


def upgrade() -> None:
    op.create_table(
        "electronic_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("signer_email", sa.String(length=320), nullable=False),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("record_kind", sa.String(length=60), nullable=False),
        sa.Column("record_id", sa.String(length=60), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("meaning", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_electronic_signatures_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_electronic_signatures")),
    )
    with op.batch_alter_table("electronic_signatures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_electronic_signatures_signed_at"), ["signed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_electronic_signatures_user_id"), ["user_id"], unique=False
        )
        batch_op.create_index(
            "ix_electronic_signatures_record", ["record_kind", "record_id"], unique=False
        )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL if postgres else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER electronic_signatures_append_only ON electronic_signatures")
        op.execute("DROP FUNCTION electronic_signatures_append_only()")
    op.drop_table("electronic_signatures")
