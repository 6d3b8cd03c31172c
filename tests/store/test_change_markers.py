"""The store's change marker: every update or delete of a table reports read changes the data
fingerprint, so a report cache in any process recomputes at its next view (migration 0032)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, text, update
from sqlalchemy.orm import Session

from cpxm.analytics.jobs import prune_change_log
from cpxm.analytics.models import AnalyticsChange
from cpxm.analytics.service import ReportCache, data_fingerprint
from cpxm.db import session_factory
from cpxm.interactions.models import Interaction
from cpxm.timeutil import utc_now
from cpxm.workspace.models import WorkspaceSetting
from tests.factories import make_interaction, make_stakeholder, make_taxonomy

# The tables whose changes change a report (the migration's TRACKED).
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


def test_every_tracked_table_has_its_triggers(engine: Engine) -> None:
    """A later migration that recreates a table in SQLite batch mode drops its triggers."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            rows = connection.execute(
                text(
                    "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE t.tgname LIKE '%_note_change'"
                )
            )
            assert {row[0] for row in rows} == set(TRACKED)
        else:
            rows = connection.execute(
                text("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
            )
            names = {(row[0], row[1]) for row in rows}
            for table in TRACKED:
                assert (table, f"{table}_note_update") in names, table
                assert (table, f"{table}_note_delete") in names, table


def test_an_edit_committed_elsewhere_changes_the_fingerprint(store_engine: Engine) -> None:
    with Session(store_engine) as session:
        make_taxonomy(session)
        person = make_stakeholder(session)
        first = make_interaction(session, stakeholder=person).id
        make_interaction(session, stakeholder=person)
        session.commit()
    cache = ReportCache()
    computed: list[int] = []

    def compute() -> int:
        computed.append(1)
        return len(computed)

    def report(session: Session) -> int:
        return cache.get(session, "channels", compute)

    # A page's session: on SQLite it reads beside a writer instead of waiting for it.
    with session_factory(store_engine, reader=True)() as reader:
        before = data_fingerprint(reader)
        assert report(reader) == 1 and report(reader) == 1  # the second from the cache
        reader.rollback()
        with Session(store_engine) as writer:  # another process, as far as the reader knows
            writer.execute(
                update(Interaction).where(Interaction.id == first).values(channel_code="phone")
            )
            # Not committed yet: the reader's figures stand.
            assert data_fingerprint(reader) == before
            writer.commit()
        reader.rollback()
        edited = data_fingerprint(reader)
        assert edited != before
        assert report(reader) == 2
        with Session(store_engine) as writer:
            writer.execute(delete(Interaction).where(Interaction.id == first))
            writer.commit()
        reader.rollback()
        assert data_fingerprint(reader) != edited and report(reader) == 3
        with Session(store_engine) as writer:
            writer.add(WorkspaceSetting(name="min_cell_size", value="10"))
            writer.commit()
        reader.rollback()
        settled = data_fingerprint(reader)
        with Session(store_engine) as writer:
            writer.execute(
                update(WorkspaceSetting)
                .where(WorkspaceSetting.name == "min_cell_size")
                .values(value="7")
            )
            writer.commit()
        reader.rollback()
        assert data_fingerprint(reader) != settled


@pytest.mark.parametrize("store_engine", ["postgresql"], indirect=True)
def test_the_change_log_is_pruned_to_an_hour(store_engine: Engine) -> None:
    with Session(store_engine) as session:
        make_taxonomy(session)
        session.commit()
        logged = session.query(AnalyticsChange).count()
        assert logged > 0
        session.execute(update(AnalyticsChange).values(changed_at=utc_now() - timedelta(hours=2)))
        session.add(AnalyticsChange(table_name="interactions", changed_at=utc_now()))
        session.flush()
        before = data_fingerprint(session)
        assert prune_change_log(session) == logged
        assert session.query(AnalyticsChange).count() == 1
        assert data_fingerprint(session) != before
