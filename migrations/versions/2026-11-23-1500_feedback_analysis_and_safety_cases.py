"""Feedback analysis results and the patient-safety net: safety cases and their events.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_feedback_items_analysis_status"),
        "feedback_items",
        ["analysis_status"],
        unique=False,
    )
    op.create_table(
        "feedback_analyses",
        sa.Column("feedback_item_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("sentiment_label", sa.String(length=10), nullable=True),
        sa.Column("sentiment_score", sa.Float(), nullable=True),
        sa.Column("themes", sa.JSON(), nullable=True),
        sa.Column("redacted_text", sa.Text(), nullable=True),
        sa.Column("pii_kinds", sa.JSON(), nullable=True),
        sa.Column("safety_kinds", sa.JSON(), nullable=True),
        sa.Column("safety_contexts", sa.JSON(), nullable=True),
        sa.Column("safety_mentions", sa.JSON(), nullable=True),
        sa.Column("analysed_at", sa.DateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["feedback_item_id"],
            ["feedback_items.id"],
            name=op.f("fk_feedback_analyses_feedback_item_id_feedback_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feedback_item_id", name=op.f("pk_feedback_analyses")),
    )
    op.create_index(
        op.f("ix_feedback_analyses_sentiment_label"),
        "feedback_analyses",
        ["sentiment_label"],
        unique=False,
    )
    op.create_table(
        "feedback_themes",
        sa.Column("feedback_item_id", sa.Integer(), nullable=False),
        sa.Column("theme_code", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_item_id"],
            ["feedback_items.id"],
            name=op.f("fk_feedback_themes_feedback_item_id_feedback_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feedback_item_id", "theme_code", name=op.f("pk_feedback_themes")),
    )
    op.create_index(
        "ix_feedback_themes_theme_code", "feedback_themes", ["theme_code"], unique=False
    )
    op.create_table(
        "safety_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feedback_item_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("subtypes", sa.JSON(), nullable=False),
        sa.Column("verbatim", sa.Text(), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=True),
        sa.Column("product_written", sa.String(length=200), nullable=True),
        sa.Column("event_terms", sa.JSON(), nullable=False),
        sa.Column("context", sa.String(length=20), nullable=False),
        sa.Column("mentions", sa.JSON(), nullable=False),
        sa.Column("has_patient", sa.Boolean(), nullable=False),
        sa.Column("has_reporter", sa.Boolean(), nullable=False),
        sa.Column("has_product", sa.Boolean(), nullable=False),
        sa.Column("has_event", sa.Boolean(), nullable=False),
        sa.Column("reporter_stakeholder_id", sa.Integer(), nullable=True),
        sa.Column("source_kind", sa.String(length=40), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=True),
        sa.Column("response_id", sa.Integer(), nullable=True),
        sa.Column("study_code", sa.String(length=40), nullable=True),
        sa.Column("country_code", sa.String(length=2), nullable=True),
        sa.Column("aware_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.Column("exported_at", sa.DateTime(), nullable=True),
        sa.Column("contact_permission", sa.Boolean(), nullable=True),
        sa.Column("contact_permission_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("kind IN ('ae', 'pc', 'srs')", name=op.f("ck_safety_cases_kind")),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged', 'confirmed', 'rejected')",
            name=op.f("ck_safety_cases_status"),
        ),
        sa.ForeignKeyConstraint(
            ["feedback_item_id"],
            ["feedback_items.id"],
            name=op.f("fk_safety_cases_feedback_item_id_feedback_items"),
        ),
        sa.ForeignKeyConstraint(
            ["product_code"],
            ["products.code"],
            name=op.f("fk_safety_cases_product_code_products"),
        ),
        sa.ForeignKeyConstraint(
            ["reporter_stakeholder_id"],
            ["stakeholders.id"],
            name=op.f("fk_safety_cases_reporter_stakeholder_id_stakeholders"),
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_safety_cases_survey_id_surveys")
        ),
        sa.ForeignKeyConstraint(
            ["response_id"], ["responses.id"], name=op.f("fk_safety_cases_response_id_responses")
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name=op.f("fk_safety_cases_acknowledged_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_safety_cases_decided_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_cases")),
        sa.UniqueConstraint(
            "feedback_item_id", "kind", name=op.f("uq_safety_cases_feedback_item_id_kind")
        ),
    )
    op.create_index(
        "ix_safety_cases_status_due_at", "safety_cases", ["status", "due_at"], unique=False
    )
    op.create_index(op.f("ix_safety_cases_survey_id"), "safety_cases", ["survey_id"])
    op.create_index(op.f("ix_safety_cases_response_id"), "safety_cases", ["response_id"])
    op.create_index(op.f("ix_safety_cases_study_code"), "safety_cases", ["study_code"])
    op.create_table(
        "safety_case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["safety_cases.id"],
            name=op.f("fk_safety_case_events_case_id_safety_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_safety_case_events_actor_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_case_events")),
    )
    op.create_index(
        op.f("ix_safety_case_events_case_id"), "safety_case_events", ["case_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_safety_case_events_case_id"), table_name="safety_case_events")
    op.drop_table("safety_case_events")
    op.drop_index(op.f("ix_safety_cases_study_code"), table_name="safety_cases")
    op.drop_index(op.f("ix_safety_cases_response_id"), table_name="safety_cases")
    op.drop_index(op.f("ix_safety_cases_survey_id"), table_name="safety_cases")
    op.drop_index("ix_safety_cases_status_due_at", table_name="safety_cases")
    op.drop_table("safety_cases")
    op.drop_index("ix_feedback_themes_theme_code", table_name="feedback_themes")
    op.drop_table("feedback_themes")
    op.drop_index(op.f("ix_feedback_analyses_sentiment_label"), table_name="feedback_analyses")
    op.drop_table("feedback_analyses")
    op.drop_index(op.f("ix_feedback_items_analysis_status"), table_name="feedback_items")
