"""Lists find accented and non-Latin values as typed, case blind, on both engines: the JSON a
search reads is stored with its characters as they are, rows stored escaped before are
rewritten by migration 0038, and SQLite folds case for every alphabet as PostgreSQL does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alembic import command
from sqlalchemy import JSON, Engine, String, bindparam, cast, insert, select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.db import bulk_insert
from cpxm.identity.models import MatchPair, SourceRecord
from cpxm.identity.review import ReviewFilter, review_items
from cpxm.ingest.models import ImportRun, QuarantinedRow
from cpxm.ingest.quarantine import list_quarantined
from cpxm.migrate import alembic_config, upgrade_database
from cpxm.stakeholders.service import list_stakeholders, search_stakeholders
from tests.factories import make_stakeholder

MOMENT = datetime(2026, 11, 2, 9, 0)
PEOPLE = ({"last_name": "MÜLLER", "city": "Köln"}, {"last_name": "Özdemir", "city": "Kraków"})


def _run(session: Session) -> ImportRun:
    run = ImportRun(
        source_system="crm",
        target="stakeholders",
        mapping_name="crm-accounts",
        mapping={},
        status="completed",
        started_at=MOMENT,
    )
    session.add(run)
    session.flush()
    return run


def _quarantine(session: Session, run: ImportRun, raw: dict[str, str], number: int) -> None:
    session.add(
        QuarantinedRow(
            import_run_id=run.id,
            row_number=number,
            source_key=f"ACC-{number}",
            raw=raw,
            reason=f"row {number}: account_type is 'Astronaut'",
            status="open",
            created_at=MOMENT,
        )
    )
    session.flush()


def _found(session: Session, q: str) -> list[str]:
    rows, total = list_quarantined(session, q=q, limit=50, offset=0)
    assert total == len(rows)
    return [row.raw["last_name"] for row in rows]


def test_json_is_stored_with_its_characters_by_the_orm_and_in_bulk(session: Session) -> None:
    run = _run(session)
    _quarantine(session, run, PEOPLE[0], 1)
    bulk_insert(
        session.connection(),
        SourceRecord.__table__,  # type: ignore[arg-type]
        [("crm", "ACC-2", PEOPLE[1], MOMENT)],
        ["source_system", "source_id", "attributes", "imported_at"],
    )
    stored_raw = session.scalar(select(cast(QuarantinedRow.raw, String)))
    stored_attributes = session.scalar(select(cast(SourceRecord.attributes, String)))
    assert stored_raw is not None and "MÜLLER" in stored_raw and "\\u" not in stored_raw
    assert stored_attributes is not None and "Özdemir" in stored_attributes


def test_the_quarantine_search_finds_accented_values_case_blind(session: Session) -> None:
    run = _run(session)
    for number, person in enumerate(PEOPLE, start=1):
        _quarantine(session, run, person, number)
    _quarantine(session, run, {"last_name": "Mueller", "city": "Bonn"}, 3)
    assert _found(session, "müller") == ["MÜLLER"]
    assert _found(session, "ÖZDEMIR") == ["Özdemir"]
    assert _found(session, "kraków") == ["Özdemir"]
    assert _found(session, "köln") == ["MÜLLER"]
    assert _found(session, "mueller") == ["Mueller"]  # ASCII searches still fold as before
    assert _found(session, "Müllerin") == []


def test_the_identity_review_search_finds_accented_values(session: Session) -> None:
    left = SourceRecord(source_system="crm", source_id="C-1", attributes=PEOPLE[1])
    right = SourceRecord(
        source_system="events", source_id="E-9", attributes={"last_name": "Ozdemir"}
    )
    other = SourceRecord(source_system="crm", source_id="C-2", attributes=PEOPLE[0])
    other_right = SourceRecord(source_system="events", source_id="E-3", attributes=PEOPLE[0])
    session.add_all([left, right, other, other_right])
    session.flush()
    session.add_all(
        [
            MatchPair(record_low_id=left.id, record_high_id=right.id, match_probability=0.9),
            MatchPair(record_low_id=other.id, record_high_id=other_right.id, match_probability=0.8),
        ]
    )
    session.flush()

    def sources(q: str) -> list[str]:
        items, total = review_items(session, limit=50, offset=0, review_filter=ReviewFilter(q=q))
        assert total == len(items)
        return [item.left.source_id for item in items]

    assert sources("özdemir") == ["C-1"]
    assert sources("müller") == ["C-2"]
    assert sources("ÖZD") == ["C-1"]


def test_people_lists_fold_case_in_every_alphabet(session: Session) -> None:
    make_stakeholder(session, display_name="Dr Ömer Özdemir", email="oe@praxis.example")
    make_stakeholder(session, display_name="Dr Σοφία Παπαδοπούλου")
    make_stakeholder(session, display_name="Dr Oskar Ozdemir")
    people, total = list_stakeholders(session, q="özdemir", limit=50, offset=0)
    assert [person.display_name for person in people] == ["Dr Ömer Özdemir"] and total == 1
    _hits, total = search_stakeholders(session, q="ΠΑΠΑΔΟΠΟΎΛΟΥ", limit=50, offset=0)
    assert total == 1


def test_the_migration_unescapes_json_stored_before(store_engine: Engine) -> None:
    config = alembic_config(store_engine)
    with store_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0037")
    with sessionmaker(bind=store_engine)() as session:
        run_id = _run(session).id
        session.commit()
    # As the store wrote them before 0038: JSON text with \\u escapes.
    stored_before = [
        '{"last_name": "M\\u00dcLLER", "city": "K\\u00f6ln"}',
        '{"last_name": "Plain", "note": "tab\\there"}',
        '{"last_name": "Half \\ud800 a character"}',
    ]
    raw: Any = bindparam("raw", type_=String)
    if store_engine.dialect.name == "postgresql":
        raw = cast(raw, JSON)
    with store_engine.begin() as connection:
        for number, text_before in enumerate(stored_before, start=1):
            connection.execute(
                insert(QuarantinedRow).values(
                    import_run_id=run_id,
                    row_number=number,
                    source_key="K",
                    raw=raw,
                    reason="row",
                    status="open",
                    created_at=MOMENT,
                ),
                {"raw": text_before},
            )
    with sessionmaker(bind=store_engine)() as session:
        assert _found(session, "müller") == []  # the escaped text hides it
    upgrade_database(store_engine)
    with sessionmaker(bind=store_engine)() as session:
        assert _found(session, "müller") == ["MÜLLER"]
        stored = dict(
            session.execute(
                select(QuarantinedRow.row_number, cast(QuarantinedRow.raw, String))
            ).all()
        )
        assert stored[1] == '{"last_name": "MÜLLER", "city": "Köln"}'
        assert stored[2] == '{"last_name": "Plain", "note": "tab\\there"}'  # kept, escaped
        assert stored[3] == '{"last_name": "Half \\ud800 a character"}'  # not UTF-8: kept


def test_percent_underscore_and_backslash_are_searched_as_typed(session: Session) -> None:
    """``%``, ``_`` and ``\\`` in a search are the characters, not LIKE's wildcards, on both
    paths (ASCII and not) and both engines."""
    make_stakeholder(session, display_name="Dr 100% Sure")
    make_stakeholder(session, display_name="Dr Under_Score Ölz")
    make_stakeholder(session, display_name="Dr Back\\slash")
    make_stakeholder(session, display_name="Dr 1000 Surely UnderXScore Ölz")

    def names(q: str) -> list[str]:
        people, total = list_stakeholders(session, q=q, limit=50, offset=0)
        assert total == len(people)
        return sorted(person.display_name for person in people)

    assert names("100%") == ["Dr 100% Sure"]
    assert names("0% s") == ["Dr 100% Sure"]
    assert names("under_score") == ["Dr Under_Score Ölz"]
    assert names("_score ölz") == ["Dr Under_Score Ölz"]  # the non-ASCII path escapes too
    assert names("%") == ["Dr 100% Sure"]
    assert names("_") == ["Dr Under_Score Ölz"]
    assert names("k\\s") == ["Dr Back\\slash"]
    assert names("ölz") == ["Dr 1000 Surely UnderXScore Ölz", "Dr Under_Score Ölz"]
