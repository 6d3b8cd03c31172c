"""Sign-in (sessions, API tokens, lockout), the RACI governance matrix, notifications and the
closed-loop case columns.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 15:02:00
"""

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The tables are filled in during this session by the issue-6 engineer.
    pass


def downgrade() -> None:
    pass
