"""Invitations keep their email's delivery state: failed attempts and the next attempt's time.

An invitation's email is due while the store says so (``cpxm.surveys.outbox``): a worker claims
it by moving ``next_send_at`` past the longest a send can take, and records the outcome; a failure
backs off by ``send_attempts``. A killed worker or an unreachable mail server then delays an email
and loses none.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("send_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("next_send_at", sa.DateTime(), nullable=True))
        batch_op.create_index(
            "ix_invitations_status_next_send_at", ["status", "next_send_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index("ix_invitations_status_next_send_at")
        batch_op.drop_column("next_send_at")
        batch_op.drop_column("send_attempts")
