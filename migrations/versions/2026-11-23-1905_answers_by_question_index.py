"""Answers by question with their response and value: analytics read them from the index alone.

Every score the analytics compute starts from a question's answers (an NPS question's, say, 9%
of all answers at demo scale 10). With the response and value in the index, PostgreSQL and
SQLite read them without visiting the table (an index-only scan).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 19:05:00
"""

from __future__ import annotations

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(
        "ix_answers_question_response_value",
        "answers",
        ["question_id", "response_id", "value_number"],
    )


def downgrade() -> None:
    op.drop_index("ix_answers_question_response_value", table_name="answers")
