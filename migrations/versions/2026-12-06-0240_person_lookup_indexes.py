"""Index feedback items by interaction and safety cases by feedback item.

The record shields look up, for every interaction shown, whether feedback made from it
reported a safety event; and a stakeholder's safety cases are found through their feedback.
Both were full scans (21,000 feedback items at demo scale 1, ten times that at scale 10) on
every page that shows interactions, the stakeholder 360 among them.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 02:40:00
"""

from __future__ import annotations

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_feedback_items_interaction_id", "feedback_items", ["interaction_id"])
    op.create_index("ix_safety_cases_feedback_item_id", "safety_cases", ["feedback_item_id"])


def downgrade() -> None:
    op.drop_index("ix_safety_cases_feedback_item_id", table_name="safety_cases")
    op.drop_index("ix_feedback_items_interaction_id", table_name="feedback_items")
