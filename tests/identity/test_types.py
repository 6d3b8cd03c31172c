"""People of incompatible types are never linked by the model alone (issue 16 item 4).

An employee never merges with an external person; a patient or caregiver with an HCP only by a
person's decision, and such pairs are queued marked as a type conflict; a golden record with a
patient source takes the patient type (and so the patient protections).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.errors import DomainError
from cpxm.identity import service
from cpxm.identity.models import MatchPair
from cpxm.identity.normalise import normalise, type_conflict
from cpxm.stakeholders.models import Stakeholder
from tests.factories import make_taxonomy

from .test_service import FILLER, _load, _owner

ANNA = {
    "first_name": "Anna",
    "last_name": "Müller",
    "email": "anna.mueller@klinik.de",
    "phone": "+49 30 1234567",
    "postal_code": "10115",
    "city": "Berlin",
    "birth_date": "1971-03-04",
}


def _anna(system: str, type_: str | None, **extra: Any) -> tuple[str, dict[str, Any]]:
    attributes = ANNA | extra
    if type_ is not None:
        attributes["type"] = type_
    return system, attributes


def _pairs(session: Session) -> list[MatchPair]:
    return list(session.scalars(select(MatchPair).where(MatchPair.status == "pending")))


def test_type_conflicts_are_named_by_the_two_types() -> None:
    def record(type_: str | None) -> Any:
        return normalise(1, "crm", {"first_name": "A", "last_name": "B", "type": type_})

    assert type_conflict(record("hcp"), record("investigator")) is None
    assert type_conflict(record("hcp"), record(None)) is None
    assert type_conflict(record("patient"), record("hcp")) == "hcp vs patient"
    assert type_conflict(record("caregiver"), record("patient")) == "caregiver vs patient"
    assert type_conflict(record("employee"), record("site_staff")) == "employee vs site_staff"
    # Systems' own words for a type are read as the store's.
    consumer = normalise(2, "medical_information", {"name": "A B", "requester_type": "Consumer"})
    assert consumer.stakeholder_type == "patient"


def test_an_employee_is_never_merged_with_an_hcp(session: Session, client: TestClient) -> None:
    make_taxonomy(session)
    records = _load(session, [_anna("crm", "hcp"), _anna("hr", "employee"), *FILLER])
    service.resolve(session)
    assert _owner(session, records[0]) != _owner(session, records[1])
    [pair] = _pairs(session)
    assert pair.type_conflict == "employee vs hcp"
    [listed] = client.get("/api/v1/identity/review").json()["items"]
    assert listed["type_conflict"] == "employee vs hcp"
    refused = client.post(f"/api/v1/identity/review/{pair.id}/accept")
    assert refused.status_code == 400 and "never merged" in refused.json()["detail"]
    page = client.get("/identity/review").text
    assert "Type conflict: employee vs hcp" in page
    assert f"/identity/review/{pair.id}/accept" not in page
    with pytest.raises(DomainError, match="never merged"):
        service.decide_pair(session, pair_id=pair.id, accept=True)
    service.decide_pair(session, pair_id=pair.id, accept=False)
    again = service.resolve(session)
    assert again.review_pairs == 0
    assert _owner(session, records[0]) != _owner(session, records[1])


def test_a_record_without_a_type_does_not_chain_an_employee_to_an_hcp(session: Session) -> None:
    make_taxonomy(session)
    records = _load(
        session,
        [_anna("crm", "hcp"), _anna("events", None), _anna("hr", "employee"), *FILLER],
    )
    service.resolve(session)
    owners = [_owner(session, record) for record in records[:3]]
    assert owners[0] != owners[2]
    assert owners[1] in (owners[0], owners[2])
    assert {pair.type_conflict for pair in _pairs(session)} >= {"employee vs hcp"}


def test_a_patient_and_an_hcp_merge_only_by_review_and_keep_patient_protection(
    session: Session,
) -> None:
    make_taxonomy(session)
    records = _load(session, [_anna("crm", "hcp"), _anna("patient_support", "patient"), *FILLER])
    service.resolve(session)
    assert _owner(session, records[0]) != _owner(session, records[1])
    [pair] = _pairs(session)
    assert pair.type_conflict == "hcp vs patient"
    assert pair.match_probability >= service.DEFAULT_THRESHOLD_MATCH
    service.decide_pair(session, pair_id=pair.id, accept=True)
    owner = _owner(session, records[0])
    assert owner == _owner(session, records[1])
    golden = session.get(Stakeholder, owner)
    assert golden is not None
    session.refresh(golden)
    # The CRM is trusted more, but any patient source makes the golden record a patient's.
    assert golden.type == "patient"


def test_weak_evidence_across_types_is_not_queued(session: Session) -> None:
    make_taxonomy(session)
    # The same name and nothing else: two people, whom nobody needs to look at.
    patient = {"first_name": "Anna", "last_name": "Müller", "city": "Bonn", "type": "patient"}
    hcp = {"first_name": "Anna", "last_name": "Müller", "city": "Berlin", "type": "hcp"}
    records = _load(session, [("crm", hcp), ("patient_support", patient), *FILLER])
    run = service.resolve(session, threshold_review=0.01)
    assert _owner(session, records[0]) != _owner(session, records[1])
    assert run.pairs_scored >= 1 and _pairs(session) == []
