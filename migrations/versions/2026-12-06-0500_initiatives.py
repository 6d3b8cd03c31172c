"""Initiatives: the backlog of what to fix, each linked to its evidence, with RICE and MoSCoW.

Reach is computed from the data when the backlog is read, so only the team's inputs are stored:
impact (or that it comes from the KPI model), confidence, effort, the evidence's codes, and the
date an initiative shipped, from which the before/after comparison is measured.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "initiatives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("moscow", sa.String(length=10), nullable=False),
        sa.Column("therapeutic_area_code", sa.String(length=40), nullable=True),
        sa.Column("stakeholder_type", sa.String(length=40), nullable=True),
        sa.Column("survey_code", sa.String(length=80), nullable=True),
        sa.Column("driver_code", sa.String(length=80), nullable=True),
        sa.Column("theme_code", sa.String(length=60), nullable=True),
        sa.Column("journey_code", sa.String(length=60), nullable=True),
        sa.Column("stage_code", sa.String(length=60), nullable=True),
        sa.Column("kano_survey_code", sa.String(length=80), nullable=True),
        sa.Column("kano_questions", sa.JSON(), nullable=True),
        sa.Column("kpi", sa.String(length=80), nullable=True),
        sa.Column("impact", sa.Float(), nullable=False),
        sa.Column("impact_source", sa.String(length=20), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("effort", sa.Float(), nullable=False),
        sa.Column("target_metric", sa.String(length=10), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("shipped_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapeutic_area_code"],
            ["therapeutic_areas.code"],
            name=op.f("fk_initiatives_therapeutic_area_code_therapeutic_areas"),
        ),
        sa.CheckConstraint(
            "status IN ('proposed', 'planned', 'in_progress', 'shipped', 'dropped')",
            name=op.f("ck_initiatives_status"),
        ),
        sa.CheckConstraint(
            "moscow IN ('must', 'should', 'could', 'wont')", name=op.f("ck_initiatives_moscow")
        ),
        sa.CheckConstraint(
            "impact_source IN ('manual', 'kpi_model')", name=op.f("ck_initiatives_impact_source")
        ),
        sa.CheckConstraint(
            "target_metric IN ('nps', 'csat', 'ces')", name=op.f("ck_initiatives_target_metric")
        ),
        sa.CheckConstraint(
            "confidence >= 0 AND confidence <= 100", name=op.f("ck_initiatives_confidence")
        ),
        sa.CheckConstraint("effort > 0", name=op.f("ck_initiatives_effort")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_initiatives")),
        sa.UniqueConstraint("code", name=op.f("uq_initiatives_code")),
    )


def downgrade() -> None:
    op.drop_table("initiatives")
