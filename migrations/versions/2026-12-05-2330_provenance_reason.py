"""Survivorship records why a value won, and may choose it by the sources' agreement.

A golden attribute now takes the value most of its sources agree on (rule ``agreement``)
before falling back to source trust, and each provenance row says why in words a steward reads
("agreement 3 of 4", "most trusted source"). Rows written before keep their rule, and their
reason is the one that rule always meant.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None

OLD_RULES = "rule IN ('only_source', 'trust', 'recency', 'completeness')"
NEW_RULES = "rule IN ('only_source', 'agreement', 'trust', 'recency', 'completeness')"


def upgrade() -> None:
    with op.batch_alter_table("identity_attribute_provenance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=120), nullable=True))
        batch_op.drop_constraint(op.f("ck_identity_attribute_provenance_rule"), type_="check")
        batch_op.create_check_constraint("rule", NEW_RULES)
    op.execute(
        sa.text(
            "UPDATE identity_attribute_provenance SET reason = CASE rule"
            " WHEN 'only_source' THEN 'only source'"
            " WHEN 'trust' THEN 'most trusted source'"
            " WHEN 'recency' THEN 'most recent'"
            " ELSE 'most complete record' END"
        )
    )
    with op.batch_alter_table("identity_attribute_provenance", schema=None) as batch_op:
        batch_op.alter_column("reason", existing_type=sa.String(length=120), nullable=False)


def downgrade() -> None:
    # An agreement was the older rules' business too; the nearest of them is trust.
    op.execute(
        sa.text("UPDATE identity_attribute_provenance SET rule = 'trust' WHERE rule = 'agreement'")
    )
    with op.batch_alter_table("identity_attribute_provenance", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_identity_attribute_provenance_rule"), type_="check")
        batch_op.create_check_constraint("rule", OLD_RULES)
        batch_op.drop_column("reason")
