"""Summaries the coordination and EX-CX pages read instead of every contact and answer: contacts
per stakeholder type, country, period and department or channel, the ping-pong episodes and the
effect cells; per pulse wave and team, the customers served and their scores. Their stamps
are rows of ``summary_stamps`` (migration 0039). Empty until their one writer
(``cpxm analytics rebuild``, the demo, the refresh job) fills them; until then pages compute
from the facts as before.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-06 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "coordination_cells",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("grain", sa.String(10), nullable=False),
        sa.Column("period", sa.Date()),
        sa.Column("stakeholder_type", sa.String(40), nullable=False),
        sa.Column("country_code", sa.String(2)),
        sa.Column("measure", sa.String(20), nullable=False),
        sa.Column("key", sa.String(40)),
        sa.Column("contacts", sa.BigInteger(), nullable=False),
        sa.Column("stakeholder_periods", sa.BigInteger(), nullable=False),
        sa.Column("stakeholders", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_coordination_cells_grain", "coordination_cells", ["grain", "measure"])
    op.create_table(
        "coordination_effect_cells",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("stakeholder_type", sa.String(40), nullable=False),
        sa.Column("country_code", sa.String(2)),
        sa.Column("exposed", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_squares", sa.Float(), nullable=False),
        sa.Column("promoters", sa.BigInteger(), nullable=False),
        sa.Column("detractors", sa.BigInteger(), nullable=False),
    )

    op.create_table(
        "ex_team_contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("wave", sa.String(80), nullable=False),
        sa.Column("team_id", sa.Integer()),
        sa.Column("contacts", sa.BigInteger(), nullable=False),
        sa.Column("customers", sa.BigInteger(), nullable=False),
        sa.Column("ping_pong_episodes", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "ex_team_scores",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("wave", sa.String(80), nullable=False),
        sa.Column("team_id", sa.Integer()),
        sa.Column("measure", sa.String(10), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_squares", sa.Float(), nullable=False),
        sa.Column("promoters", sa.BigInteger(), nullable=False),
        sa.Column("detractors", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ex_team_scores")
    op.drop_table("ex_team_contacts")
    op.drop_table("coordination_effect_cells")
    op.drop_index("ix_coordination_cells_grain", "coordination_cells")
    op.drop_table("coordination_cells")
