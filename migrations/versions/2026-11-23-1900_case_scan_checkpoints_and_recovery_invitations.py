"""The case scanner re-reads a settling window; recovery re-surveys are survey invitations.

- ``case_scan_watermarks``: a checkpoint (position and time) that becomes the scan's start once
  it is older than the look-back window, so rows committed late with lower ids are still read.
- ``cases``: the service-recovery invitation sent through the survey distribution, or why it was
  held back (consent, contact fatigue, no address).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_scan_watermarks") as batch_op:
        batch_op.add_column(sa.Column("checkpoint_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("checkpoint_seen_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("checkpoint_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("recovery_invitation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("recovery_held_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_cases_recovery_invitation_id_invitations"),
            "invitations",
            ["recovery_invitation_id"],
            ["id"],
        )
        batch_op.create_index(
            op.f("ix_cases_recovery_invitation_id"), ["recovery_invitation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_index(op.f("ix_cases_recovery_invitation_id"))
        batch_op.drop_constraint(
            op.f("fk_cases_recovery_invitation_id_invitations"), type_="foreignkey"
        )
        batch_op.drop_column("recovery_held_reason")
        batch_op.drop_column("recovery_invitation_id")
    with op.batch_alter_table("case_scan_watermarks") as batch_op:
        batch_op.drop_column("checkpoint_at")
        batch_op.drop_column("checkpoint_seen_at")
        batch_op.drop_column("checkpoint_id")
