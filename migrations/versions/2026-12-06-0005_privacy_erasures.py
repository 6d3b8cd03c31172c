"""Erasures of data subjects, and the reporter's identity a safety case keeps past one.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 00:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stakeholder_id", sa.Integer(), nullable=False),
        sa.Column("erased_at", sa.DateTime(), nullable=False),
        sa.Column("erased_by_user_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["erased_by_user_id"],
            ["users.id"],
            name=op.f("fk_privacy_erasures_erased_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["stakeholder_id"],
            ["stakeholders.id"],
            name=op.f("fk_privacy_erasures_stakeholder_id_stakeholders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_erasures")),
    )
    with op.batch_alter_table("privacy_erasures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_privacy_erasures_stakeholder_id"), ["stakeholder_id"], unique=False
        )
    with op.batch_alter_table("safety_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reporter_identity", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("safety_cases", schema=None) as batch_op:
        batch_op.drop_column("reporter_identity")
    with op.batch_alter_table("privacy_erasures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_erasures_stakeholder_id"))
    op.drop_table("privacy_erasures")
