"""Data-quality issues: values an import blanked (``on_invalid: blank``) to keep the row.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 23:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "data_quality_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_run_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=60), nullable=False),
        sa.Column("column", sa.String(length=300), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_run_id"],
            ["import_runs.id"],
            name=op.f("fk_data_quality_issues_import_run_id_import_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_quality_issues")),
    )
    op.create_index(
        "ix_data_quality_issues_source_key_status",
        "data_quality_issues",
        ["source_key", "status"],
        unique=False,
    )
    op.create_index(
        "ix_data_quality_issues_status_run",
        "data_quality_issues",
        ["status", "import_run_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_data_quality_issues_status_run", table_name="data_quality_issues")
    op.drop_index("ix_data_quality_issues_source_key_status", table_name="data_quality_issues")
    op.drop_table("data_quality_issues")
