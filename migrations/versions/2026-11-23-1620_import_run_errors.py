"""Import runs say why they failed; uploads may run in the background.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_runs") as batch_op:
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_runs") as batch_op:
        batch_op.drop_column("error")
