"""Survey versions, open links, contact-fatigue rules; invitation waves and resumable responses.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 15:05:00
"""

from collections.abc import Sequence

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Filled in by the issue-4 engineer during this session.
    pass


def downgrade() -> None:
    pass
