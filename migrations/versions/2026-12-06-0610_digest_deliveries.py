"""Record each monthly digest mailed to each reader, so the job sends it once.

The scheduled job mails every audience's digest to its readers; the store, not the queue, says
what is done, so a job run twice (a restarted worker, a sweep) sends nothing twice.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06 06:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "digest_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("audience", sa.String(100), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("month", "audience", "user_id", name="uq_digest_deliveries_reader"),
    )


def downgrade() -> None:
    op.drop_table("digest_deliveries")
