"""Give triage entries screened out as the treated condition that reason, not low confidence.

The detector has said ``treated_condition`` ("for my migraines", "relieves my anxiety") since
2026-12-06, but the triage list did not know the word and stored such entries as
``low_confidence``. The mentions kept on each entry carry the detector's reason, so the entry's
reason and reasons are recomputed from them.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 05:10:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | None = None
depends_on: str | None = None

# The triage reasons, as cpxm.safety.models names them (a migration keeps its own copy).
_CONTEXTS = ("negated", "hypothetical", "other_person", "historical")
_REASONS = (*_CONTEXTS, "treated_condition", "low_confidence")


def _reason(mention: dict[str, Any], known: tuple[str, ...]) -> str:
    reason = mention.get("reason")
    if reason in known:
        return str(reason)
    context = mention.get("context")
    return str(context) if context in _CONTEXTS else "low_confidence"


def _recompute(known: tuple[str, ...]) -> None:
    bind = op.get_bind()
    triage = sa.Table("safety_triage", sa.MetaData(), autoload_with=bind)
    rows = bind.execute(
        sa.select(triage.c.id, triage.c.mentions).where(
            sa.cast(triage.c.mentions, sa.Text).like('%"treated_condition"%')
        )
    ).all()
    for entry_id, mentions in rows:
        mentions = mentions or []
        if not mentions:
            continue
        bind.execute(
            sa.update(triage)
            .where(triage.c.id == entry_id)
            .values(
                reason=_reason(mentions[0], known),
                reasons=sorted({_reason(mention, known) for mention in mentions}),
            )
        )


def upgrade() -> None:
    _recompute(_REASONS)


def downgrade() -> None:
    # The older code knew no such reason and listed these entries as low confidence.
    _recompute(tuple(reason for reason in _REASONS if reason != "treated_condition"))
