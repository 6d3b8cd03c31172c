"""What each respondent met before answering, kept per response for the journeys (peak-end)
and drivers (touchpoints) pages, with the stamp of the facts it was computed from (``summary_stamps``)
(``cpxm.analytics.touch_summaries``). Empty until the first refresh: the pages read the
facts until then.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "response_touch_summaries",
        sa.Column("response_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "last_quality",
            sa.Float().with_variant(sa.Numeric(), "postgresql"),
            nullable=False,
        ),
        sa.Column("window_sum", sa.Integer(), nullable=False),
        sa.Column("window_count", sa.Integer(), nullable=False),
        sa.Column("last_in_window", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("response_id", name=op.f("pk_response_touch_summaries")),
    )
    op.create_table(
        "response_exposures",
        sa.Column("response_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("touchpoints", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("response_id", name=op.f("pk_response_exposures")),
    )
    op.create_table(
        "summary_stamps",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("built_from", sa.Text(), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_summary_stamps")),
    )


def downgrade() -> None:
    op.drop_table("summary_stamps")
    op.drop_table("response_exposures")
    op.drop_table("response_touch_summaries")
