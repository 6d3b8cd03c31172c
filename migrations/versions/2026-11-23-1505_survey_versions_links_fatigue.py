"""Survey versions, open links, contact-fatigue rules; invitation waves and resumable responses.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 15:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rules a new workspace starts with; the CX lead edits them (cpxm survey rules, the API).
DEFAULT_FATIGUE_RULES = [
    {
        "code": "one_survey_per_90_days",
        "kind": "survey_interval",
        "parameters": {"days": 90},
        "active": True,
        "description": "At most one survey invitation per stakeholder in 90 days.",
    },
    {
        "code": "rest_after_busy_week",
        "kind": "contact_pressure",
        "parameters": {"contacts": 3, "days": 7},
        "active": True,
        "description": (
            "No survey within 7 days after 3 or more contacts from any department, any channel."
        ),
    },
    {
        "code": "year_end_quiet_period",
        "kind": "quiet_period",
        "parameters": {"start": "12-20", "end": "01-06", "countries": []},
        "active": True,
        "description": "No surveys between 20 December and 6 January.",
    },
]


def upgrade() -> None:
    fatigue_rules = op.create_table(
        "fatigue_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('survey_interval', 'contact_pressure', 'quiet_period')",
            name=op.f("ck_fatigue_rules_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fatigue_rules")),
        sa.UniqueConstraint("code", name=op.f("uq_fatigue_rules_code")),
    )
    op.bulk_insert(fatigue_rules, DEFAULT_FATIGUE_RULES)
    op.create_table(
        "survey_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("channel_code", sa.String(length=40), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["channel_code"],
            ["channels.code"],
            name=op.f("fk_survey_links_channel_code_channels"),
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_survey_links_survey_id_surveys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_links")),
        sa.UniqueConstraint("token", name=op.f("uq_survey_links_token")),
    )
    with op.batch_alter_table("survey_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_links_survey_id"), ["survey_id"], unique=False)

    op.create_table(
        "survey_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_survey_versions_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_versions")),
        sa.UniqueConstraint(
            "survey_id", "version", name=op.f("uq_survey_versions_survey_id_version")
        ),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wave", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch_op.add_column(
            sa.Column("reminders_sent", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("last_reminded_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("opened_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("send_error", sa.Text(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_invitations_survey_id_wave_stakeholder_id"),
            ["survey_id", "wave", "stakeholder_id"],
        )

    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("removed_in_version", sa.Integer(), nullable=True))

    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("open_link_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("resume_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_responses_resume_token"), ["resume_token"])
        batch_op.create_foreign_key(
            batch_op.f("fk_responses_open_link_id_survey_links"),
            "survey_links",
            ["open_link_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_responses_open_link_id_survey_links"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_responses_resume_token"), type_="unique")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("resume_token")
        batch_op.drop_column("open_link_id")

    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_column("removed_in_version")

    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_invitations_survey_id_wave_stakeholder_id"), type_="unique"
        )
        batch_op.drop_column("send_error")
        batch_op.drop_column("opened_at")
        batch_op.drop_column("last_reminded_at")
        batch_op.drop_column("reminders_sent")
        batch_op.drop_column("language")
        batch_op.drop_column("wave")

    op.drop_table("survey_versions")
    with op.batch_alter_table("survey_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_links_survey_id"))
    op.drop_table("survey_links")
    op.drop_table("fatigue_rules")
