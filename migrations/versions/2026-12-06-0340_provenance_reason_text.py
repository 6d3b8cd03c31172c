"""Let a golden attribute's provenance reason be as long as the steward's explanation.

Name standardisation adds why a value was corrected ("agreement 2 of 3; first name spelt out
from the e-mail; accents as most records write it"), which outgrew VARCHAR(120): PostgreSQL
refused the write and the resolve failed. SQLite never enforced the length.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("identity_attribute_provenance", schema=None) as batch_op:
        batch_op.alter_column(
            "reason", existing_type=sa.String(length=120), type_=sa.Text(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_attribute_provenance", schema=None) as batch_op:
        batch_op.alter_column(
            "reason", existing_type=sa.Text(), type_=sa.String(length=120), existing_nullable=False
        )
