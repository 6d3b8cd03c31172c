"""The demo's answer key names the generator's true person, not a stakeholder row.

The demo now loads its silos through the import path and identity resolution, so stakeholders
are golden records whose ids the resolution assigns. The answer key keeps the generator's id of
the person behind each source record; that id is no stakeholder, so the foreign key goes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("demo_source_truth", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_demo_source_truth_true_stakeholder_id_stakeholders", type_="foreignkey"
        )


def downgrade() -> None:
    # Rows whose person is no stakeholder would violate the restored key: the key is demo data.
    op.execute(
        sa.text(
            "DELETE FROM demo_source_truth WHERE true_stakeholder_id NOT IN "
            "(SELECT id FROM stakeholders)"
        )
    )
    with op.batch_alter_table("demo_source_truth", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_demo_source_truth_true_stakeholder_id_stakeholders",
            "stakeholders",
            ["true_stakeholder_id"],
            ["id"],
        )
