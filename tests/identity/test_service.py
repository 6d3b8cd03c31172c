"""Identity resolution through its service functions and the HTTP API, on both engines."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cpxm.identity import service
from cpxm.identity.models import AttributeProvenance, MatchPair, MergeEvent, SourceRecord
from cpxm.identity.normalise import normalise
from cpxm.identity.survivorship import Candidate, choose
from cpxm.ingest.mapping import parse_mapping
from cpxm.ingest.service import import_file
from cpxm.stakeholders.models import Stakeholder, TherapeuticInterest
from tests.factories import make_interaction, make_stakeholder, make_taxonomy

PEOPLE: list[tuple[str, dict[str, Any]]] = [
    (
        "crm",
        {
            "type": "hcp",
            "first_name": "Anna",
            "last_name": "Müller",
            "email": "anna.mueller@klinik.de",
            "professional_id": "DE1234567",
            "phone": "+49 30 1234567",
            "postal_code": "10115",
            "city": "Berlin",
        },
    ),
    (
        "events",
        {
            "type": "hcp",
            "first_name": "Anna",
            "last_name": "Mueller",
            "email": "anna.mueller@klinik.de",
            "city": "Berlin",
        },
    ),
    (
        "call_centre",
        {
            "type": "hcp",
            "first_name": "Anna",
            "last_name": "Muller",
            "phone": "030 1234567",
            "postal_code": "10115",
        },
    ),
    (
        "crm",
        {
            "type": "hcp",
            "first_name": "Robert",
            "last_name": "Smith",
            "email": "rsmith@hospital.org",
            "professional_id": "1234567890",
            "phone": "+1 555 0100 222",
            "postal_code": "02139",
            "city": "Cambridge",
        },
    ),
    (
        "email_platform",
        {"type": "hcp", "first_name": "Bob", "last_name": "Smith", "email": "rsmith@hospital.org"},
    ),
    (
        "crm",
        {
            "type": "hcp",
            "first_name": "Jane",
            "last_name": "Smith",
            "email": "jane.smith@clinic.org",
            "professional_id": "9876543210",
            "phone": "+1 555 0199 888",
            "postal_code": "02139",
            "city": "Cambridge",
        },
    ),
    (
        "crm",
        {
            "type": "hcp",
            "first_name": "Luis",
            "last_name": "García",
            "email": "lgarcia@hospital.es",
            "professional_id": "ES555",
            "phone": "+34 91 5550000",
            "postal_code": "28001",
            "city": "Madrid",
        },
    ),
    (
        "medical_information",
        {
            "type": "hcp",
            "first_name": "Luis",
            "last_name": "Garcia",
            "email": "lgarcia@hospital.es",
            "phone": "915550000",
        },
    ),
]
# Filler people so the model has non-matching pairs to learn from.
_FILLER_FIRST = ["Olga", "Pedro", "Quentin", "Rita", "Sven", "Tilda", "Ugo", "Vera"]
_FILLER_LAST = ["Abbott", "Brennan", "Castell", "Dorsey", "Eklund"]
FILLER = [
    (
        "crm",
        {
            "type": "hcp",
            # Names, ids and codes that differ by more than a slip: ``Person0`` and
            # ``Person7`` in one town, with ids, phones and postcodes one digit apart, are
            # what a copy with a slip in every field looks like.
            "first_name": _FILLER_FIRST[i % len(_FILLER_FIRST)],
            "last_name": _FILLER_LAST[i // len(_FILLER_FIRST)],
            "email": f"p{i}@example.org",
            "professional_id": f"X{(i * 7919) % 100_000:05d}",
            "phone": f"+44 20 7946 {(i * 3571) % 10_000:04d}",
            "postal_code": f"{(i * 4513) % 100_000:05d}",
            "city": f"Town{i % 7}",
        },
    )
    for i in range(40)
]


def _load(session: Session, rows: list[tuple[str, dict[str, Any]]]) -> list[SourceRecord]:
    """Source records with a provisional stakeholder each, as an import leaves them."""
    records = []
    for index, (system, attributes) in enumerate(rows):
        name = f"{attributes.get('first_name')} {attributes.get('last_name')}"
        stakeholder = make_stakeholder(session, display_name=name)
        record = SourceRecord(
            source_system=system,
            source_id=f"{system}-{index}",
            stakeholder_id=stakeholder.id,
            attributes=attributes,
            imported_at=datetime(2026, 1, 1),
        )
        session.add(record)
        records.append(record)
    session.flush()
    return records


def _owner(session: Session, record: SourceRecord) -> int | None:
    session.refresh(record)
    return record.stakeholder_id


def test_links_duplicates_and_keeps_distinct_people_apart(session: Session) -> None:
    make_taxonomy(session)
    records = _load(session, PEOPLE + FILLER)
    run = service.resolve(session)
    anna = {_owner(session, r) for r in records[0:3]}
    robert = {_owner(session, r) for r in records[3:5]}
    jane = _owner(session, records[5])
    luis = {_owner(session, r) for r in records[6:8]}
    assert len(anna) == 1 and len(robert) == 1 and len(luis) == 1
    assert jane not in robert  # same surname, city and postcode, different person
    assert len({*anna, *robert, *luis, jane}) == 4
    assert run.merges == 4
    merged = session.get(Stakeholder, max(e.merged_id for e in session.scalars(select(MergeEvent))))
    assert merged is not None and merged.status == "merged" and merged.merged_into_id is not None


def test_resolve_twice_changes_nothing(session: Session) -> None:
    make_taxonomy(session)
    _load(session, PEOPLE + FILLER)
    service.resolve(session)
    before = session.scalar(select(func.count()).select_from(MergeEvent))
    again = service.resolve(session)
    assert (again.merges, again.created, again.updated) == (0, 0, 0)
    assert session.scalar(select(func.count()).select_from(MergeEvent)) == before


def test_survivorship_by_trust_then_recency_then_completeness() -> None:
    old, new = datetime(2025, 1, 1), datetime(2026, 1, 1)
    chosen = choose(
        [
            Candidate(1, "email_platform", new, {"email": "a@x.org", "phone": "1"}),
            Candidate(2, "crm", old, {"email": "b@x.org", "city": "Berlin"}),
            Candidate(3, "events", old, {"phone": "2", "city": "Bonn", "email": None}),
            Candidate(4, "events", new, {"phone": "3"}),
            Candidate(5, "call_centre", old, {"postal_code": "1"}),
            Candidate(6, "call_centre", old, {"postal_code": "2", "phone": "9", "city": "x"}),
        ]
    )
    assert (chosen["email"].value, chosen["email"].rule) == ("b@x.org", "trust")
    assert (chosen["phone"].value, chosen["phone"].rule) == ("3", "recency")
    assert (chosen["postal_code"].value, chosen["postal_code"].rule) == ("2", "completeness")
    assert (chosen["city"].record_id, chosen["city"].rule) == (2, "trust")


def test_merge_moves_references_and_undo_restores_them(session: Session) -> None:
    make_taxonomy(session)
    records = _load(session, PEOPLE + FILLER)
    duplicate = records[1].stakeholder_id
    assert duplicate is not None
    stakeholder = session.get(Stakeholder, duplicate)
    assert stakeholder is not None
    interaction = make_interaction(session, stakeholder=stakeholder)
    session.add(
        TherapeuticInterest(
            stakeholder_id=duplicate,
            therapeutic_area_code=session.scalars(
                select(TherapeuticInterest.therapeutic_area_code)
            ).first()
            or "oncology",
        )
    )
    session.flush()
    service.resolve(session)
    survivor = _owner(session, records[0])
    session.refresh(interaction)
    assert interaction.stakeholder_id == survivor != duplicate
    provenance = session.scalars(
        select(AttributeProvenance).where(AttributeProvenance.stakeholder_id == survivor)
    ).all()
    assert {p.attribute for p in provenance} >= {"email", "phone", "professional_id"}
    email = next(p for p in provenance if p.attribute == "email")
    # Both records give the address: it won by their agreement, shown from the trusted one.
    assert (email.source_record_id, email.rule, email.reason) == (
        records[0].id,
        "agreement",
        "agreement 2 of 2",
    )

    event = service.unmerge_stakeholder(session, stakeholder_id=duplicate)
    session.refresh(interaction)
    assert interaction.stakeholder_id == duplicate
    assert _owner(session, records[1]) == duplicate
    restored = session.get(Stakeholder, duplicate)
    assert restored is not None and restored.status == "active" and restored.merged_into_id is None
    assert event.undone_at is not None
    # Undone merges stay undone: the next run keeps the two apart.
    service.resolve(session)
    assert _owner(session, records[1]) != _owner(session, records[0])


def test_review_reject_keeps_pair_apart_and_accept_merges(
    session: Session, client: TestClient
) -> None:
    make_taxonomy(session)
    records = _load(session, PEOPLE + FILLER)
    # Force two uncertain pairs into the queue.
    low, high = sorted((records[3].id, records[5].id))
    pair_a = MatchPair(record_low_id=low, record_high_id=high, match_probability=0.7)
    pair_b = MatchPair(
        record_low_id=records[8].id, record_high_id=records[9].id, match_probability=0.6
    )
    session.add_all([pair_a, pair_b])
    session.flush()
    page = client.get("/api/v1/identity/review", params={"limit": 1}).json()
    assert page["total"] == 2 and page["limit"] == 1 and page["items"][0]["id"] == pair_a.id
    assert client.post(f"/api/v1/identity/review/{pair_a.id}/reject").json()["status"] == "rejected"
    accepted = client.post(f"/api/v1/identity/review/{pair_b.id}/accept")
    assert accepted.status_code == 200
    assert _owner(session, records[8]) == _owner(session, records[9])
    assert client.post(f"/api/v1/identity/review/{pair_b.id}/accept").status_code == 400
    service.resolve(session, threshold_match=0.01, threshold_review=0.01)
    assert _owner(session, records[3]) != _owner(session, records[5])
    assert _owner(session, records[8]) == _owner(session, records[9])


def test_export_covers_every_source_record(session: Session, tmp_path: Path) -> None:
    make_taxonomy(session)
    records = _load(session, PEOPLE)
    service.resolve(session)
    out = tmp_path / "links.csv"
    assert service.export_links(session, out) == len(records)
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["source_system"], r["source_id"]) for r in rows} == {
        (r.source_system, r.source_id) for r in records
    }
    active = set(session.scalars(select(Stakeholder.id).where(Stakeholder.status == "active")))
    assert all(int(r["stakeholder_id"]) in active for r in rows)


def test_swapped_name_order_links_and_a_family_at_one_address_stays_apart(
    session: Session,
) -> None:
    make_taxonomy(session)
    home = {"address_line": "Hauptstraße 5", "postal_code": "80331", "city": "München"}
    rows: list[tuple[str, dict[str, Any]]] = [
        (
            "crm",
            {
                "type": "hcp",
                "first_name": "Steffen",
                "last_name": "Junitz",
                "phone": "+49 87 3027872",
                "postal_code": "93838",
            },
        ),
        ("call_centre", {"type": "hcp", "name": "Junitz Steffen", "phone": "0873027872"}),
        (
            "patient_support",
            {
                "type": "patient",
                "first_name": "Karl",
                "last_name": "Huber",
                "birth_date": "1950-02-01",
                "phone": "+49 89 111111",
                **home,
            },
        ),
        (
            "patient_support",
            {
                "type": "caregiver",
                "first_name": "Maria",
                "last_name": "Huber",
                "birth_date": "1953-07-12",
                "phone": "+49 89 222222",
                **home,
            },
        ),
    ]
    records = _load(session, rows + FILLER)
    service.resolve(session)
    assert _owner(session, records[0]) == _owner(session, records[1])
    assert _owner(session, records[2]) != _owner(session, records[3])


def test_records_without_a_stakeholder_get_complete_golden_records(session: Session) -> None:
    """As the demo and a bulk load leave them: golden records are written whole, with
    provenance for every attribute, and the uncertain pairs are queued."""
    make_taxonomy(session)
    records = _load(session, PEOPLE + FILLER)
    for record in records:
        record.stakeholder_id = None
    session.flush()
    run = service.resolve(session)
    anna = {_owner(session, r) for r in records[0:3]}
    assert len(anna) == 1 and None not in anna
    golden = session.get(Stakeholder, anna.pop())
    assert golden is not None
    assert (golden.first_name, golden.professional_id, golden.kind) == (
        "Anna",
        "DE1234567",
        "person",
    )
    provenance = dict(
        session.execute(
            select(AttributeProvenance.attribute, AttributeProvenance.rule).where(
                AttributeProvenance.stakeholder_id == golden.id
            )
        ).all()
    )
    assert provenance["first_name"] == "agreement" and provenance["professional_id"]
    assert run.created == len({_owner(session, r) for r in records})
    assert all(_owner(session, r) is not None for r in records)
    pending = session.scalar(
        select(func.count()).select_from(MatchPair).where(MatchPair.status == "pending")
    )
    assert pending == run.review_pairs
    again = service.resolve(session)
    assert (again.merges, again.created, again.updated) == (0, 0, 0)


def test_namesakes_at_different_institutions_stay_apart(session: Session) -> None:
    make_taxonomy(session)
    rows: list[tuple[str, dict[str, Any]]] = [
        (
            "crm",
            {
                "type": "hcp",
                "first_name": "Ricky",
                "last_name": "Buckley",
                "email": "ricky.buckley@stfowler.example.org",
                "primary_affiliation": "St Fowler Hospital",
                "specialty": "Gastroenterology",
                "city": "Andrewsfurt",
            },
        ),
        (
            "events",
            {
                "type": "hcp",
                "attendee": "Buckley, Ricky",
                "email": "ricky.buckley@mcdaniel.example.org",
                "organisation": "McDaniel Central Pharmacy",
                "profession": "General practice",
                "city": "West Katherineborough",
            },
        ),
        (
            "medical_information",
            {
                "type": "hcp",
                "requester_name": "Dr Ricky Buckley",
                "institution": "St. Fowler Hospital",
                "mobile": "+44 20 7946 0319",
                "city": "Andrewsfurt",
            },
        ),
    ]
    records = _load(session, rows + FILLER)
    service.resolve(session)
    assert _owner(session, records[0]) == _owner(session, records[2])
    assert _owner(session, records[0]) != _owner(session, records[1])


def test_an_imported_institution_is_kept_and_compared(store_engine: Engine, tmp_path: Path) -> None:
    with Session(store_engine) as session:
        make_taxonomy(session)
        session.commit()
    export = tmp_path / "accounts.csv"
    export.write_text(
        "account_id,account_type,first_name,last_name,institution,city\n"
        "A1,Physician,Ricky,Buckley,St Fowler Hospital,Andrewsfurt\n",
        encoding="utf-8",
    )
    mapping = parse_mapping(
        {
            "source_system": "crm",
            "target": "stakeholders",
            "source_id": "account_id",
            "fields": {
                "type": {"column": "account_type", "values": {"Physician": "hcp"}},
                "first_name": "first_name",
                "last_name": "last_name",
                "institution": "institution",
                "city": "city",
            },
        }
    )
    assert import_file(store_engine, path=export, mapping=mapping).created == 1
    with Session(store_engine) as session:
        record = session.scalars(select(SourceRecord)).one()
        assert record.attributes["institution"] == "St Fowler Hospital"
        assert normalise(record.id, "crm", record.attributes).institution == "st fowler hospital"
