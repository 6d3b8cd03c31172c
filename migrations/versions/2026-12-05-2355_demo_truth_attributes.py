"""The demo's answer key gains each person's true name, birth date and e-mail.

The generator knows them before it plants nicknames, typos, capitals and swapped names in the
silos; with them a test scores the golden records' attributes, not only who was linked to whom.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 23:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("demo_source_truth", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_name", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("last_name", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("birth_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("demo_source_truth", schema=None) as batch_op:
        batch_op.drop_column("email")
        batch_op.drop_column("birth_date")
        batch_op.drop_column("last_name")
        batch_op.drop_column("first_name")
