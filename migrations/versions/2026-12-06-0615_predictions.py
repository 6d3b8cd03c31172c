"""Risk model versions, the scores they gave with their reasons, and proposed outreach.

``prediction_models`` keeps each fitted version's parameters as plain numbers (never a pickle)
and its held-out evaluation; ``prediction_scores`` one row per person and scoring;
``outreach_actions`` the next best action proposed for a person at risk, and the case it became.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06 06:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "prediction_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("trained_through", sa.DateTime(), nullable=False),
        sa.Column("test_cutoff", sa.DateTime(), nullable=False),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_models")),
        sa.UniqueConstraint("version", name=op.f("uq_prediction_models_version")),
    )
    op.create_table(
        "prediction_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("stakeholder_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.DateTime(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["prediction_models.id"],
            name=op.f("fk_prediction_scores_model_id_prediction_models"),
        ),
        sa.ForeignKeyConstraint(
            ["stakeholder_id"],
            ["stakeholders.id"],
            name=op.f("fk_prediction_scores_stakeholder_id_stakeholders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_scores")),
    )
    op.create_index(
        "ix_prediction_scores_model_risk", "prediction_scores", ["model_id", "risk"], unique=False
    )
    op.create_index(
        "ix_prediction_scores_stakeholder", "prediction_scores", ["stakeholder_id"], unique=False
    )
    op.create_table(
        "outreach_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("score_id", sa.Integer(), nullable=False),
        sa.Column("stakeholder_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("channel_code", sa.String(length=40), nullable=True),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("medical", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("held_reason", sa.Text(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["score_id"],
            ["prediction_scores.id"],
            name=op.f("fk_outreach_actions_score_id_prediction_scores"),
        ),
        sa.ForeignKeyConstraint(
            ["stakeholder_id"],
            ["stakeholders.id"],
            name=op.f("fk_outreach_actions_stakeholder_id_stakeholders"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_outreach_actions_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["channel_code"],
            ["channels.code"],
            name=op.f("fk_outreach_actions_channel_code_channels"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_outreach_actions_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_outreach_actions_decided_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_actions")),
    )
    op.create_index("ix_outreach_actions_status", "outreach_actions", ["status"], unique=False)
    op.create_index(
        "ix_outreach_actions_stakeholder_id", "outreach_actions", ["stakeholder_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outreach_actions_stakeholder_id", table_name="outreach_actions")
    op.drop_index("ix_outreach_actions_status", table_name="outreach_actions")
    op.drop_table("outreach_actions")
    op.drop_index("ix_prediction_scores_stakeholder", table_name="prediction_scores")
    op.drop_index("ix_prediction_scores_model_risk", table_name="prediction_scores")
    op.drop_table("prediction_scores")
    op.drop_table("prediction_models")
