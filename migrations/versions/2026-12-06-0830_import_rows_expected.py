"""An import run knows about how many rows its file holds (``rows_expected``, counted by the
worker before it starts), so the run's page shows progress as a share of the file, and a file
smaller than one batch still moves its bar.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-06 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_runs") as table:
        table.add_column(sa.Column("rows_expected", sa.Integer()))


def downgrade() -> None:
    with op.batch_alter_table("import_runs") as table:
        table.drop_column("rows_expected")
