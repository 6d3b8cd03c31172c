"""JSON that lists search holds its characters as they are: "Müller", not "M\\u00fcller".

The store wrote JSON with every non-ASCII character as a ``\\u`` escape, so a search of a
quarantined row, of a source record's attributes (the identity review) or of a safety case's
event terms for "Müller" or "Übelkeit" found nothing on either engine. New rows are written
unescaped (``cpxm.db.store_json``); this rewrites the rows stored before. The JSON value is the
same, so there is nothing to undo. Control characters stay escaped (PostgreSQL text cannot hold
NUL); a value a UTF-8 text cannot hold (a lone surrogate) stays as it was.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-06 11:45:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | None = None
depends_on: str | None = None

# (table, JSON column) whose text a list search reads.
SEARCHED = (
    ("quarantined_rows", "raw"),
    ("source_records", "attributes"),
    ("safety_cases", "event_terms"),
)
BATCH = 5_000
_UNESCAPED = json.JSONEncoder(ensure_ascii=False)


def _unescaped(text: str) -> str | None:
    """``text`` rewritten without ``\\u`` escapes, or None when it is kept as it is."""
    try:
        rewritten = _UNESCAPED.encode(json.loads(text))
        rewritten.encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return None
    return rewritten if rewritten != text else None


def upgrade() -> None:
    connection = op.get_bind()
    postgresql = connection.dialect.name == "postgresql"
    find = sa.func.strpos if postgresql else sa.func.instr
    for name, column in SEARCHED:
        table = sa.table(name, sa.column("id", sa.Integer), sa.column(column, sa.Text))
        text_of = sa.cast(table.c[column], sa.Text)
        value: sa.ColumnElement[Any] = sa.bindparam("value", type_=sa.Text)
        update = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("row_id"))
            .values({column: sa.cast(value, sa.JSON) if postgresql else value})
        )
        last_id = 0
        while True:
            rows = connection.execute(
                sa.select(table.c.id, text_of)
                .where(table.c.id > last_id, find(text_of, "\\u") > 0)
                .order_by(table.c.id)
                .limit(BATCH)
            ).all()
            if not rows:
                break
            last_id = rows[-1][0]
            changed = [
                {"row_id": row_id, "value": rewritten}
                for row_id, text in rows
                if text is not None and (rewritten := _unescaped(text)) is not None
            ]
            if changed:
                connection.execute(update, changed)


def downgrade() -> None:
    pass  # the same JSON values, written without escapes: nothing to undo
