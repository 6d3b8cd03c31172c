"""Confidential surveys, and team action plans against low pulse enablers.

A survey marked ``confidential`` (the employee pulse by default) is shown only as figures over
groups of at least the workspace's minimum cell size; no case opens on one of its answers. The
pulse's existing answers follow the rule from now on: the cases opened on them go, with their
trails, and the surveys of kind ``employee_pulse`` become confidential.

``team_actions``: what a team lead plans against a low enabler (tools, training, ...), with its
owner and due date, so the next pulse wave shows whether the enabler moved.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 03:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("confidential", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(sa.text("UPDATE surveys SET confidential = true WHERE kind = 'employee_pulse'"))
    pulse_cases = (
        "SELECT cases.id FROM cases JOIN responses ON responses.id = cases.response_id "
        "JOIN surveys ON surveys.id = responses.survey_id WHERE surveys.confidential = true"
    )
    op.execute(sa.text(f"DELETE FROM case_events WHERE case_id IN ({pulse_cases})"))  # noqa: S608
    op.execute(sa.text(f"DELETE FROM cases WHERE id IN ({pulse_cases})"))  # noqa: S608
    op.create_table(
        "team_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("enabler", sa.String(length=40), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("baseline_wave", sa.String(length=20), nullable=True),
        sa.Column("baseline_mean", sa.Float(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_actions_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_team_actions_created_by_users")
        ),
        sa.CheckConstraint("status IN ('open', 'done')", name=op.f("ck_team_actions_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_actions")),
    )
    op.create_index(op.f("ix_team_actions_team_id"), "team_actions", ["team_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_team_actions_team_id"), table_name="team_actions")
    op.drop_table("team_actions")
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_column("confidential")
