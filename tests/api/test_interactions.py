from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.interactions.models import Interaction
from tests.factories import make_interaction, make_stakeholder, make_taxonomy


def _valid_payload(stakeholder_id: int, **overrides: Any) -> dict[str, Any]:
    """A payload that the API accepts, with ``overrides`` applied (any field may be replaced)."""
    payload: dict[str, Any] = {
        "stakeholder_id": stakeholder_id,
        "occurred_at": "2025-03-14T09:30:00",
        "channel": "face_to_face",
        "department": "medical_affairs",
        "interaction_type": "msl_visit",
        "direction": "outbound",
        "product": "onco_x",
        "therapeutic_area": "oncology",
        "lifecycle_phase": "commercial",
        "notes": "Discussed the new dosing schedule.",
    }
    payload.update(overrides)
    return payload


def test_list_is_newest_first_with_the_envelope(client: TestClient, session: Session) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session)
    for day in (3, 1, 2):
        make_interaction(session, stakeholder=hcp, occurred_at=datetime(2025, 1, day, 12))

    body = client.get("/api/v1/interactions", params={"limit": 2}).json()

    assert body["total"] == 3
    assert (body["limit"], body["offset"]) == (2, 0)
    assert [item["occurred_at"] for item in body["items"]] == [
        "2025-01-03T12:00:00Z",
        "2025-01-02T12:00:00Z",
    ]
    assert {"channel", "department", "occurred_at"} <= set(body["items"][0])


def test_each_filter_narrows_the_list(client: TestClient, session: Session) -> None:
    make_taxonomy(session)
    anna = make_stakeholder(session)
    ben = make_stakeholder(session)
    visit = make_interaction(
        session,
        stakeholder=anna,
        occurred_at=datetime(2025, 2, 10, 9),
        channel_code="face_to_face",
        department_code="medical_affairs",
        interaction_type="msl_visit",
        product_code="onco_x",
        therapeutic_area_code="oncology",
        lifecycle_phase_code="clinical",
    )
    mail = make_interaction(
        session,
        stakeholder=ben,
        occurred_at=datetime(2025, 3, 5, 9),
        channel_code="email",
        department_code="sales",
        interaction_type="newsletter",
        product_code="immu_y",
        therapeutic_area_code="immunology",
        lifecycle_phase_code="commercial",
    )

    def ids(**params: str | int) -> set[int]:
        response = client.get("/api/v1/interactions", params=params)
        assert response.status_code == 200, response.text
        assert response.json()["total"] == len(response.json()["items"])
        return {item["id"] for item in response.json()["items"]}

    assert ids(stakeholder_id=anna.id) == {visit.id}
    assert ids(channel="email") == {mail.id}
    assert ids(department="medical_affairs") == {visit.id}
    assert ids(interaction_type="newsletter") == {mail.id}
    assert ids(product="onco_x") == {visit.id}
    assert ids(therapeutic_area="immunology") == {mail.id}
    assert ids(lifecycle_phase="clinical") == {visit.id}
    assert ids(occurred_from="2025-03-01T00:00:00") == {mail.id}
    assert ids(occurred_to="2025-03-05T09:00:00") == {visit.id}  # exclusive upper bound
    assert ids(occurred_from="2025-02-10T09:00:00", occurred_to="2025-03-06") == {visit.id, mail.id}
    assert ids(occurred_from="2025-02-10T10:00:00+01:00") == {visit.id, mail.id}  # 09:00 UTC
    assert ids(channel="email", department="medical_affairs") == set()


def test_get_one_and_404(client: TestClient, session: Session) -> None:
    make_taxonomy(session)
    interaction = make_interaction(session, stakeholder=make_stakeholder(session), notes="hello")

    found = client.get(f"/api/v1/interactions/{interaction.id}")
    missing = client.get("/api/v1/interactions/987654321")

    assert found.json()["notes"] == "hello"
    assert found.json()["channel"] == "email"
    assert missing.status_code == 404
    assert missing.json() == {"detail": "interaction 987654321 not found"}


def test_create_stores_and_answers_201_with_the_object(
    client: TestClient, session: Session
) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session)

    response = client.post("/api/v1/interactions", json=_valid_payload(hcp.id))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["channel"] == "face_to_face"
    assert body["department"] == "medical_affairs"
    assert body["occurred_at"] == "2025-03-14T09:30:00Z"
    assert body["created_at"]
    stored = session.get(Interaction, body["id"])
    assert stored is not None
    assert (stored.stakeholder_id, stored.product_code) == (hcp.id, "onco_x")
    assert client.get(f"/api/v1/interactions/{body['id']}").json() == body


def test_create_for_a_merged_id_records_it_on_the_golden_record(
    client: TestClient, session: Session
) -> None:
    make_taxonomy(session)
    golden = make_stakeholder(session)
    merged = make_stakeholder(session, status="merged", merged_into_id=golden.id)

    response = client.post("/api/v1/interactions", json=_valid_payload(merged.id))

    assert response.status_code == 201, response.text
    assert response.json()["stakeholder_id"] == golden.id
    stored = session.get(Interaction, response.json()["id"])
    assert stored is not None and stored.stakeholder_id == golden.id


def test_create_converts_an_aware_time_to_naive_utc(client: TestClient, session: Session) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session)

    body = client.post(
        "/api/v1/interactions",
        json=_valid_payload(hcp.id, occurred_at="2025-03-14T11:30:00+02:00"),
    ).json()

    assert body["occurred_at"] == "2025-03-14T09:30:00Z"


def _errors_by_field(response: Any) -> dict[str, dict[str, Any]]:
    assert response.status_code == 422, response.text
    return {error["loc"][-1]: error for error in response.json()["detail"]}


def test_unknown_stakeholder_is_rejected(client: TestClient, session: Session) -> None:
    make_taxonomy(session)

    errors = _errors_by_field(client.post("/api/v1/interactions", json=_valid_payload(999999)))

    assert set(errors) == {"stakeholder_id"}
    assert errors["stakeholder_id"]["loc"] == ["body", "stakeholder_id"]
    assert "999999" in errors["stakeholder_id"]["msg"]


def test_unknown_codes_name_the_field_the_value_and_the_allowed_codes(
    client: TestClient, session: Session
) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session)
    payload = _valid_payload(hcp.id, channel="carrier_pigeon", lifecycle_phase="phase_9")

    errors = _errors_by_field(client.post("/api/v1/interactions", json=payload))

    assert set(errors) == {"channel", "lifecycle_phase"}
    assert "carrier_pigeon" in errors["channel"]["msg"]
    assert errors["channel"]["ctx"]["allowed"] == ["email", "face_to_face", "phone"]
    assert "allowed: clinical, commercial, preclinical" in errors["lifecycle_phase"]["msg"]
    assert session.scalar(select(func.count(Interaction.id))) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("department", "legal"), ("product", "nothing"), ("therapeutic_area", "cardiology")],
)
def test_each_unknown_code_field_is_checked(
    client: TestClient, session: Session, field: str, value: str
) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session)

    errors = _errors_by_field(
        client.post("/api/v1/interactions", json=_valid_payload(hcp.id, **{field: value}))
    )

    assert set(errors) == {field}
    assert value in errors[field]["msg"]


def test_employee_must_be_an_employee(client: TestClient, session: Session) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session)
    employee = make_stakeholder(session, type="employee")

    rejected = client.post("/api/v1/interactions", json=_valid_payload(hcp.id, employee_id=hcp.id))
    accepted = client.post(
        "/api/v1/interactions", json=_valid_payload(hcp.id, employee_id=employee.id)
    )

    assert set(_errors_by_field(rejected)) == {"employee_id"}
    assert accepted.status_code == 201
    assert accepted.json()["employee_id"] == employee.id


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"stakeholder_id": "not-a-number"}, "stakeholder_id"),
        ({"occurred_at": "yesterday-ish"}, "occurred_at"),
        ({"notes": "x" * 10_001}, "notes"),
        ({"channel": ""}, "channel"),
        ({"channel_code": "email"}, "channel_code"),
    ],
)
def test_malformed_fields_are_rejected_per_field(
    client: TestClient, session: Session, overrides: dict[str, Any], field: str
) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session)

    payload = _valid_payload(hcp.id)
    payload.update(overrides)

    errors = _errors_by_field(client.post("/api/v1/interactions", json=payload))

    assert field in errors


def test_missing_fields_are_each_reported(client: TestClient) -> None:
    errors = _errors_by_field(client.post("/api/v1/interactions", json={"notes": "only notes"}))

    assert {"stakeholder_id", "occurred_at", "channel", "department", "direction"} <= set(errors)
    assert errors["channel"]["type"] == "missing"


def test_occurred_at_in_the_future_is_rejected_beyond_a_small_tolerance(
    client: TestClient, session: Session
) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(session)
    now = datetime.now(UTC)

    future = client.post(
        "/api/v1/interactions",
        json=_valid_payload(hcp.id, occurred_at=(now + timedelta(hours=2)).isoformat()),
    )
    almost_now = client.post(
        "/api/v1/interactions",
        json=_valid_payload(hcp.id, occurred_at=(now + timedelta(minutes=1)).isoformat()),
    )

    assert "future" in _errors_by_field(future)["occurred_at"]["msg"]
    assert almost_now.status_code == 201
