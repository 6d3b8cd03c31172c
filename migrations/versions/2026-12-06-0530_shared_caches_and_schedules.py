"""Several app and worker processes behave as one: report caches see every change at once, and a
periodic job runs once per period however many workers schedule it.

- ``scheduled_runs``: when each periodic job last started (``cpxm.jobs.periodic`` claims a run
  with one conditional UPDATE, so of several workers exactly one runs it).
- Change markers for the tables reports read, kept by triggers in the writer's transaction:
  SQLite counts updates and deletes in ``analytics_change_counter`` (one row; SQLite has one
  writer, so the row costs no waiting); PostgreSQL logs one row per changing statement in
  ``analytics_changes`` (a log, not a counter: a counter row would make every writer wait for
  the longest open transaction that touched it).

SQLite drops a table's triggers when a batch migration recreates it: a later migration that
alters one of ``TRACKED`` with ``batch_alter_table`` must create its triggers again
(``tests/store/test_change_markers.py`` checks that every tracked table has them).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | None = None
depends_on: str | None = None

# The tables whose changes change a report's figures; tests/store/test_change_markers.py checks
# that each has its triggers after every later migration.
TRACKED = (
    "stakeholders",
    "interactions",
    "responses",
    "answers",
    "invitations",
    "kpi_values",
    "feedback_items",
    "feedback_analyses",
    "feedback_themes",
    "cases",
    "surveys",
    "teams",
    "workspace_settings",
)

POSTGRES_FUNCTION = (
    "CREATE FUNCTION analytics_note_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    "INSERT INTO analytics_changes (table_name, changed_at) "
    "VALUES (TG_TABLE_NAME, now() AT TIME ZONE 'UTC'); "
    "RETURN NULL; "
    "END $$"
)


def upgrade() -> None:
    op.create_table(
        "scheduled_runs",
        sa.Column("task", sa.String(120), primary_key=True),
        sa.Column("last_started_at", sa.DateTime()),
        sa.Column("runs", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "analytics_change_counter",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("changes", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.create_table(
        "analytics_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
        ),
        sa.Column("table_name", sa.String(63), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_analytics_changes_changed_at", "analytics_changes", ["changed_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for table in TRACKED:
            op.execute(
                f"CREATE TRIGGER {table}_note_change "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION analytics_note_change()"
            )
    else:
        op.execute("INSERT INTO analytics_change_counter (id, changes) VALUES (1, 0)")
        for table in TRACKED:
            for event in ("update", "delete"):
                # Names from TRACKED, a constant of this file: no input reaches the SQL.
                op.execute(
                    f"CREATE TRIGGER {table}_note_{event} AFTER {event.upper()} ON {table} "  # noqa: S608
                    "BEGIN UPDATE analytics_change_counter SET changes = changes + 1 "
                    "WHERE id = 1; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TRACKED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_note_change ON {table}")
        op.execute("DROP FUNCTION IF EXISTS analytics_note_change()")
    else:
        for table in TRACKED:
            for event in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_note_{event}")
    op.drop_index("ix_analytics_changes_changed_at", table_name="analytics_changes")
    op.drop_table("analytics_changes")
    op.drop_table("analytics_change_counter")
    op.drop_table("scheduled_runs")
