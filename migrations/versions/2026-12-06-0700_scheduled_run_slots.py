"""A periodic job's run claims the minute its schedule fired in (``last_slot``), not "half a
period since the last start": each worker's scheduler checks once a minute at its own phase, so
two workers whose phases sat half a minute apart both passed the half-period test and ran an
every-minute job twice a minute.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-06 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("scheduled_runs") as table:
        table.add_column(sa.Column("last_slot", sa.DateTime()))


def downgrade() -> None:
    with op.batch_alter_table("scheduled_runs") as table:
        table.drop_column("last_slot")
