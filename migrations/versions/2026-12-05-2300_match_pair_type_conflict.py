"""Review pairs say when their records declare types that must not be linked unasked.

An employee and an external person, or a patient or caregiver and an HCP, are linked only by a
person's decision (never, for an employee): identity resolution queues such pairs marked with
the two types (``"patient vs hcp"``) so the review listing and API can show why.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("identity_match_pairs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("type_conflict", sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_match_pairs", schema=None) as batch_op:
        batch_op.drop_column("type_conflict")
