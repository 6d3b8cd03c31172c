"""Survivorship on hand-made conflicts: what the sources agree on wins, then source trust.

Each case is a conflict a steward meets in any CRM, not only the demo's: a trusted system's typo
against two others, a tie, a lone value, a record with first and last name swapped, accents
dropped by one system, capitals kept by another, an e-mail address in other letter case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.identity import service
from cpxm.identity.merges import refresh_golden_records
from cpxm.identity.models import AttributeProvenance, SourceRecord
from cpxm.identity.survivorship import Candidate, Choice, choose, golden_values
from cpxm.stakeholders.models import Stakeholder
from tests.factories import make_stakeholder, make_taxonomy

OLD, NEW = datetime(2025, 1, 1), datetime(2026, 1, 1)
_ids = iter(range(1, 10_000))


def record(system: str, updated_at: datetime = OLD, **values: Any) -> Candidate:
    return Candidate(next(_ids), system, updated_at, values)


def shown(chosen: dict[str, Choice], attribute: str) -> tuple[Any, str, str]:
    choice = chosen[attribute]
    return choice.value, choice.rule, choice.reason


def test_two_agreeing_sources_outvote_the_most_trusted_one() -> None:
    crm = record("crm", first_name="Marc", last_name="Foquuet")
    events = record("events", first_name="Marc", last_name="Fouquet")
    mail = record("email_platform", first_name="Marc", last_name="Fouquet")
    chosen = choose([crm, events, mail])
    assert shown(chosen, "last_name") == ("Fouquet", "agreement", "agreement 2 of 3")
    assert chosen["last_name"].record_id == events.record_id  # the most trusted who says so
    assert shown(chosen, "first_name") == ("Marc", "agreement", "agreement 3 of 3")
    assert chosen["display_name"].value == "Marc Fouquet"


def test_a_tie_falls_back_to_trust_then_recency_then_completeness() -> None:
    chosen = choose(
        [
            record("email_platform", NEW, email="a@x.org", phone="+33 1 11 11 11 11"),
            record("crm", email="b@x.org", city="Berlin"),
            record("events", phone="+33 1 22 22 22 22", city="Bonn"),
            record("events", NEW, phone="+33 1 33 33 33 33"),
            record("call_centre", postal_code="75001"),
            record("call_centre", postal_code="75002", specialty="Cardiology", city="Lyon"),
        ]
    )
    assert shown(chosen, "email") == ("b@x.org", "trust", "most trusted source")
    assert shown(chosen, "phone") == ("+33 1 33 33 33 33", "recency", "most recent")
    assert shown(chosen, "postal_code") == ("75002", "completeness", "most complete record")
    assert shown(chosen, "city") == ("Berlin", "trust", "most trusted source")


def test_a_lone_value_is_kept_from_its_only_source() -> None:
    crm = record("crm", first_name="Ana", last_name="Silva")
    events = record("events", first_name="Ana", last_name="Silva", phone="+351 21 000 0000")
    chosen = choose([crm, events])
    assert shown(chosen, "phone") == ("+351 21 000 0000", "only_source", "only source")
    assert chosen["phone"].record_id == events.record_id
    alone = choose([record("crm", first_name="Ana", last_name="Silva")])
    assert shown(alone, "last_name") == ("Silva", "only_source", "only source")


def test_a_record_with_first_and_last_name_swapped_votes_the_right_way_round() -> None:
    swapped = record("crm", first_name="Akhtar", last_name="Oliver")
    others = [
        record(system, first_name="Oliver", last_name="Akhtar")
        for system in ("events", "email_platform", "call_centre")
    ]
    chosen = choose([swapped, *others])
    assert (chosen["first_name"].value, chosen["last_name"].value) == ("Oliver", "Akhtar")
    assert chosen["last_name"].reason == "agreement 4 of 4, 1 with first and last name swapped"
    assert chosen["display_name"].value == "Oliver Akhtar"


def test_two_records_that_differ_only_in_name_order_are_left_to_trust() -> None:
    # One of them is right and nothing says which: no record is turned round.
    chosen = choose(
        [
            record("events", first_name="Ford", last_name="Lorraine"),
            record("crm", first_name="Lorraine", last_name="Ford"),
        ]
    )
    assert shown(chosen, "first_name") == ("Lorraine", "trust", "most trusted source")
    assert chosen["last_name"].value == "Ford"


def test_accents_and_case_agree_and_the_accented_spelling_is_shown() -> None:
    chosen = choose(
        [
            record("crm", first_name="Jean", last_name="GERARD"),
            record("events", first_name="Jean", last_name="Gerard"),
            record("email_platform", first_name="Jean", last_name="Gérard"),
        ]
    )
    assert shown(chosen, "last_name") == ("Gérard", "agreement", "agreement 3 of 3")
    umlauts = choose(
        [
            record("crm", first_name="Anna", last_name="Mueller"),
            record("events", first_name="Anna", last_name="Muller"),
            record("call_centre", first_name="Anna", last_name="Müller"),
        ]
    )
    assert shown(umlauts, "last_name") == ("Müller", "agreement", "agreement 3 of 3")


def test_among_accented_spellings_the_one_most_sources_write_is_shown() -> None:
    chosen = choose(
        [
            record("crm", first_name="José", last_name="Vinã"),
            record("events", first_name="José", last_name="Viña"),
            record("call_centre", first_name="José", last_name="Viña"),
            record("email_platform", first_name="Jose", last_name="Vina"),
        ]
    )
    assert shown(chosen, "last_name") == ("Viña", "agreement", "agreement 4 of 4")
    assert shown(chosen, "first_name") == ("José", "agreement", "agreement 4 of 4")


def test_an_accent_one_record_keeps_in_an_initial_or_a_slip_is_the_persons() -> None:
    # Systems drop accents; nobody types one by mistake. É. and a misspelt Étiennne both
    # say the É of the Etienne two other systems give without it.
    chosen = choose(
        [
            record("crm", first_name="Étiennne", last_name="Besson"),
            record("events", first_name="Etienne", last_name="Besson"),
            record("email_platform", first_name="Etienne", last_name="Besson"),
            record("medical_information", first_name="É.", last_name="Besson"),
        ]
    )
    value, rule, reason = shown(chosen, "first_name")
    assert (value, rule) == ("Étienne", "agreement")
    assert reason == "agreement 2 of 4; accents as the person's records write it"
    assert chosen["display_name"].value == "Étienne Besson"
    # An initial of another letter, or another name, lends nothing.
    other = choose(
        [
            record("crm", first_name="Etienne", last_name="Besson"),
            record("events", first_name="Etienne", last_name="Besson"),
            record("medical_information", first_name="Á.", last_name="Besson"),
            record("call_centre", first_name="Élodie", last_name="Besson"),
        ]
    )
    assert other["first_name"].value == "Etienne"


def test_a_name_written_out_wins_a_tie_against_an_initial_of_another_letter() -> None:
    chosen = choose(
        [
            record("medical_information", first_name="K.", last_name="Delattre"),
            record("email_platform", first_name="Catherine", last_name="Delattre"),
        ]
    )
    assert shown(chosen, "first_name") == (
        "Catherine",
        "agreement",
        "agreement 1 of 2, written out against an initial",
    )
    # Records that differ in order as well (B. Joe against Joe Baker) say nothing of it.
    turned = choose(
        [
            record("medical_information", first_name="B.", last_name="Joe"),
            record("call_centre", first_name="Joe", last_name="Baker"),
        ]
    )
    assert shown(turned, "first_name") == ("B.", "trust", "most trusted source")


def test_a_tie_between_two_spellings_goes_to_the_one_the_store_writes() -> None:
    from cpxm.identity.standardise import build
    from cpxm.identity.survivorship import _folded

    store = build(
        [("Maria", "Weber")] * 40
        + [("Marina", "Weber")] * 40
        + [(f"Given{i}", f"Family{i}") for i in range(1_000)],
        _folded,
    )
    pair = [
        record("call_centre", first_name="Mariia", last_name="Niemeier"),
        record("email_platform", first_name="Maria", last_name="Niemeier"),
    ]
    chosen = choose(pair, population=store)
    assert shown(chosen, "first_name") == (
        "Maria",
        "agreement",
        "agreement 1 of 2, as 40 records of the store spell it",
    )
    # Without a population (or one too small) the tie goes to trust.
    assert choose(pair)["first_name"].value == "Mariia"


def test_a_doubled_hyphen_is_not_shown_when_a_clean_spelling_agrees() -> None:
    chosen = choose(
        [
            record("crm", first_name="Klaus--Jürgen", last_name="Scholz"),
            record("events", first_name="Klaus-Jürgen", last_name="Scholz"),
        ]
    )
    assert chosen["first_name"].value == "Klaus-Jürgen"


def test_capitals_are_written_as_a_name() -> None:
    chosen = choose([record("crm", first_name="Zacharie", last_name="LE ROUX")])
    assert chosen["last_name"].value == "Le Roux"
    assert chosen["last_name"].reason == "only source, capitals written as a name"
    assert chosen["display_name"].value == "Zacharie Le Roux"
    mixed = choose(
        [
            record("crm", first_name="Zacharie", last_name="LE ROUX"),
            record("events", first_name="Zacharie", last_name="Le Roux"),
        ]
    )
    assert shown(mixed, "last_name") == ("Le Roux", "agreement", "agreement 2 of 2")


def test_e_mail_addresses_agree_whatever_their_letter_case() -> None:
    chosen = choose(
        [
            record("crm", email="a.silva@clinic.pt"),
            record("events", email="A.Silva@Clinic.PT"),
            record("email_platform", email="A.SILVA@CLINIC.PT"),
            record("medical_information", email="ana.silva@mail.pt"),
        ]
    )
    assert shown(chosen, "email") == ("a.silva@clinic.pt", "agreement", "agreement 3 of 4")
    # Imported records keep addresses in lower case already.
    assert golden_values({"email": "A.Silva@Clinic.PT"}, set())["email"] == "a.silva@clinic.pt"


def test_initials_and_nicknames_agree_with_the_full_name_and_never_show() -> None:
    chosen = choose(
        [
            record("crm", first_name="W.", last_name="Jones"),
            record("events", first_name="Bill", last_name="Jones"),
            record("email_platform", first_name="William", last_name="Jones"),
        ]
    )
    assert shown(chosen, "first_name") == ("William", "agreement", "agreement 3 of 3")
    ambiguous = choose(
        [
            record("crm", first_name="C.", last_name="Fonseca"),
            record("events", first_name="Candelas", last_name="Fonseca"),
            record("email_platform", first_name="Candelas", last_name="Fonseca"),
            record("call_centre", first_name="Caandelas", last_name="Fonseca"),
            record("medical_information", first_name="C.", last_name="Fonseca"),
        ]
    )
    # Two full names start with C: the initials take no side, and the two agreeing win.
    assert shown(ambiguous, "first_name") == ("Candelas", "agreement", "agreement 2 of 5")


def test_a_tie_between_spellings_goes_to_the_one_in_the_e_mail_address() -> None:
    chosen = choose(
        [
            record("crm", first_name="Gregory", last_name="Ramgel"),
            record(
                "email_platform", first_name="Gregory", last_name="Rangel", email="g.rangel@h.org"
            ),
        ]
    )
    # The address spells the surname: the slip is put right before the records vote.
    assert shown(chosen, "last_name") == (
        "Rangel",
        "agreement",
        "agreement 2 of 2; spelt as in the e-mail",
    )
    tie = choose(
        [
            record("crm", first_name="Gregory", last_name="Ramgel"),
            record("events", first_name="Gregory", last_name="Rangel"),
        ],
        population=None,
    )
    assert tie["last_name"].rule == "trust"
    # Two different names, each in the address, are no slip of the keyboard: trust decides.
    swapped = choose(
        [
            record("crm", first_name="Drew", last_name="Buckley", email="drew.buckley@h.org"),
            record("events", first_name="Buckley", last_name="Drew"),
        ]
    )
    assert (swapped["first_name"].value, swapped["first_name"].rule) == ("Drew", "trust")


def test_a_full_name_field_is_split_to_agree_with_the_others() -> None:
    assert golden_values({"name": "Dr Zacharie Le Roux", "type": "hcp"}, set())["last_name"] == (
        "Le Roux"
    )
    assert golden_values({"attendee": "Fouquet, Marc"}, set())["first_name"] == "Marc"
    chosen = choose(
        [
            record("crm", first_name="Marc", last_name="Foquuet"),
            record("events", **golden_values({"name": "Dr Marc Fouquet"}, set())),
            record("call_centre", **golden_values({"name": "Fouquet, Marc"}, set())),
        ]
    )
    assert (chosen["last_name"].value, chosen["last_name"].rule) == ("Fouquet", "agreement")


def test_codes_and_phones_agree_on_what_they_say() -> None:
    chosen = choose(
        [
            record("crm", phone="+49 30 1234567", postal_code="SW1A 1AA"),
            record("events", phone="030 1234567", postal_code="sw1a1aa"),
            record("email_platform", phone="+49 40 7654321", postal_code="EC1A 1BB"),
        ]
    )
    assert shown(chosen, "phone") == ("+49 30 1234567", "agreement", "agreement 2 of 3")
    assert shown(chosen, "postal_code") == ("SW1A 1AA", "agreement", "agreement 2 of 3")


PEOPLE = [
    ("crm", {"type": "hcp", "first_name": "Marc", "last_name": "Foquuet", "email": "m@x.fr"}),
    ("events", {"type": "hcp", "name": "Marc Fouquet", "email": "m@x.fr"}),
    ("email_platform", {"type": "hcp", "first": "Marc", "last": "Fouquet", "email": "M@X.FR"}),
]


def test_resolve_stores_the_reason_with_each_value(
    session: Session, client: TestClient, client_as: Callable[[str], TestClient]
) -> None:
    make_taxonomy(session)
    records = [
        SourceRecord(source_system=system, source_id=f"{system}-1", attributes=attributes)
        for system, attributes in PEOPLE
    ]
    session.add_all(records)
    session.flush()
    service.resolve(session)
    owners = {r.stakeholder_id for r in records}
    assert len(owners) == 1
    golden = session.get(Stakeholder, owners.pop())
    assert golden is not None
    assert (golden.first_name, golden.last_name, golden.display_name, golden.email) == (
        "Marc",
        "Fouquet",
        "Marc Fouquet",
        "m@x.fr",
    )
    why = {
        p.attribute: (p.rule, p.reason)
        for p in session.scalars(
            select(AttributeProvenance).where(AttributeProvenance.stakeholder_id == golden.id)
        )
    }
    assert why["last_name"] == ("agreement", "agreement 2 of 3")
    assert why["email"] == ("agreement", "agreement 3 of 3")
    assert why["type"] == ("agreement", "agreement 3 of 3")
    # A steward reads the same through the API, attribute by attribute, with each record.
    answer = client.get(f"/api/v1/identity/stakeholders/{golden.id}/provenance").json()
    rows = {row["attribute"]: row for row in answer["attributes"]}
    assert rows["last_name"]["reason"] == "agreement 2 of 3"
    assert rows["last_name"]["source_system"] == "events"  # the most trusted who says Fouquet
    assert [row["attribute"] for row in answer["attributes"]][:3] == [
        "type",
        "first_name",
        "last_name",
    ]
    assert client.get("/api/v1/identity/stakeholders/999999/provenance").status_code == 404
    viewer = client_as("viewer").get(f"/api/v1/identity/stakeholders/{golden.id}/provenance")
    assert viewer.status_code == 403

    # The CRM is corrected: refreshed, the golden record's reason follows.
    records[0].attributes = {**records[0].attributes, "last_name": "Fouquet"}
    session.flush()
    assert refresh_golden_records(session, stakeholder_ids=[golden.id]) == 1
    reason = session.scalar(
        select(AttributeProvenance.reason).where(
            AttributeProvenance.stakeholder_id == golden.id,
            AttributeProvenance.attribute == "last_name",
        )
    )
    assert reason == "agreement 3 of 3"


def test_a_patient_source_gives_its_type_and_says_why(session: Session) -> None:
    make_taxonomy(session)
    golden = make_stakeholder(session)
    session.add_all(
        SourceRecord(
            source_system=system,
            source_id=f"{system}-7",
            stakeholder_id=golden.id,
            attributes={"type": kind, "first_name": "Rosa", "last_name": "Lind"},
        )
        for system, kind in (("crm", "hcp"), ("events", "hcp"), ("patient_support", "patient"))
    )
    session.flush()
    refresh_golden_records(session, stakeholder_ids=[golden.id])
    session.refresh(golden)
    reason = session.scalar(
        select(AttributeProvenance.reason).where(
            AttributeProvenance.stakeholder_id == golden.id, AttributeProvenance.attribute == "type"
        )
    )
    assert (golden.type, reason) == ("patient", "patient in 1 of 3 sources: its protections apply")
