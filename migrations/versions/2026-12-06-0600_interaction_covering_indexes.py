"""Cover the EX-CX page's reads of interactions with their two indexes.

The page counts, per team, the contacts its employees made in a wave's period and the customers
they served, the ping-pong weeks those customers had (outbound contacts by department), and the
last employee contact before each customer's NPS answer. Every one of those read the table row
of each interaction just to learn its employee, direction or department: 26,000 random page
reads for one wave at demo scale 1, half a second of the page's cold time on SQLite. The two
indexes on interactions now carry those columns, so the same reads stay in the index; they
replace the narrower ones (same leading columns, so every other query keeps its plan) rather
than adding to the indexes every import has to write.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | None = None
depends_on: str | None = None

COVERED = ["employee_id", "direction", "department_code"]


def upgrade() -> None:
    op.create_index(
        "ix_interactions_occurred_employee",
        "interactions",
        ["occurred_at", "employee_id", "stakeholder_id", "direction", "department_code"],
    )
    op.drop_index("ix_interactions_occurred_at", table_name="interactions")
    op.create_index(
        "ix_interactions_stakeholder_occurred_employee",
        "interactions",
        ["stakeholder_id", "occurred_at", *COVERED],
    )
    op.drop_index("ix_interactions_stakeholder_occurred", table_name="interactions")


def downgrade() -> None:
    op.create_index(
        "ix_interactions_stakeholder_occurred", "interactions", ["stakeholder_id", "occurred_at"]
    )
    op.drop_index("ix_interactions_stakeholder_occurred_employee", table_name="interactions")
    op.create_index("ix_interactions_occurred_at", "interactions", ["occurred_at"])
    op.drop_index("ix_interactions_occurred_employee", table_name="interactions")
