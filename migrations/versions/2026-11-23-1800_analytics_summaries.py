"""Interaction counts per day, channel and department, kept exact by triggers.

The overview groups every interaction by month, channel and department; at demo scale 10 that
is 2.5 million rows per view. The triggers keep the counts in the writer's transaction on every
insert, update, delete (and, on PostgreSQL, truncate), whatever path wrote the rows.

SQLite drops a table's triggers when a batch migration recreates it: a later migration that
alters ``interactions`` with ``batch_alter_table`` must create these triggers again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


SQLITE_ADD = """
    INSERT INTO interaction_daily_counts (day, channel_code, department_code, interactions)
    VALUES (substr(NEW.occurred_at, 1, 10), NEW.channel_code, NEW.department_code, 1)
    ON CONFLICT (day, channel_code, department_code)
    DO UPDATE SET interactions = interactions + 1;
"""
SQLITE_SUBTRACT = """
    UPDATE interaction_daily_counts SET interactions = interactions - 1
    WHERE day = substr(OLD.occurred_at, 1, 10)
      AND channel_code = OLD.channel_code AND department_code = OLD.department_code;
"""

# One statement-level function: transition tables hold every row a statement touched (COPY
# included), so a bulk load costs one grouped upsert, not one per row. Keys are taken in order
# so concurrent writers lock summary rows in the same order.
POSTGRES_FUNCTION = """
CREATE FUNCTION interaction_daily_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM interaction_daily_counts;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO interaction_daily_counts AS c (day, channel_code, department_code, interactions)
        SELECT occurred_at::date, channel_code, department_code, -count(*)
        FROM old_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (day, channel_code, department_code)
        DO UPDATE SET interactions = c.interactions + EXCLUDED.interactions;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO interaction_daily_counts AS c (day, channel_code, department_code, interactions)
        SELECT occurred_at::date, channel_code, department_code, count(*)
        FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (day, channel_code, department_code)
        DO UPDATE SET interactions = c.interactions + EXCLUDED.interactions;
    END IF;
    RETURN NULL;
END
$$
"""
POSTGRES_TRIGGERS = (
    "CREATE TRIGGER interaction_daily_counts_insert AFTER INSERT ON interactions "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION interaction_daily_counts_apply()",
    "CREATE TRIGGER interaction_daily_counts_update AFTER UPDATE ON interactions "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION interaction_daily_counts_apply()",
    "CREATE TRIGGER interaction_daily_counts_delete AFTER DELETE ON interactions "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION interaction_daily_counts_apply()",
    "CREATE TRIGGER interaction_daily_counts_truncate AFTER TRUNCATE ON interactions "
    "FOR EACH STATEMENT EXECUTE FUNCTION interaction_daily_counts_apply()",
)
BACKFILL = (
    "INSERT INTO interaction_daily_counts (day, channel_code, department_code, interactions) "
    "SELECT DAY, channel_code, department_code, count(*) FROM interactions GROUP BY 1, 2, 3"
)
TRIGGER_NAMES = ("insert", "update", "delete", "truncate")


def upgrade() -> None:
    op.create_table(
        "interaction_daily_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel_code", sa.String(length=40), nullable=False),
        sa.Column("department_code", sa.String(length=40), nullable=False),
        sa.Column("interactions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "channel_code", "department_code", name=op.f("pk_interaction_daily_counts")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for statement in POSTGRES_TRIGGERS:
            op.execute(statement)
        day = "occurred_at::date"
    else:
        op.execute(
            "CREATE TRIGGER interaction_daily_counts_insert AFTER INSERT ON interactions "
            f"BEGIN {SQLITE_ADD} END"
        )
        op.execute(
            "CREATE TRIGGER interaction_daily_counts_update AFTER UPDATE OF "
            "occurred_at, channel_code, department_code ON interactions "
            f"BEGIN {SQLITE_SUBTRACT} {SQLITE_ADD} END"
        )
        op.execute(
            "CREATE TRIGGER interaction_daily_counts_delete AFTER DELETE ON interactions "
            f"BEGIN {SQLITE_SUBTRACT} END"
        )
        day = "substr(occurred_at, 1, 10)"
    op.execute(BACKFILL.replace("DAY", day))


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in TRIGGER_NAMES:
        if postgres or name != "truncate":
            suffix = " ON interactions" if postgres else ""
            op.execute(f"DROP TRIGGER IF EXISTS interaction_daily_counts_{name}{suffix}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS interaction_daily_counts_apply()")
    op.drop_table("interaction_daily_counts")
