"""Each resolution run keeps how the store's person records write names.

Survivorship standardises names on that evidence (a surname in the given-name field, a slip
one record alone makes, accents most records write); a merge accepted or undone after the run
chooses with the same counts instead of reading every source record again.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 02:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("identity_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_population", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_runs", schema=None) as batch_op:
        batch_op.drop_column("name_population")
