from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import make_affiliation, make_stakeholder, make_taxonomy


def test_list_answers_the_pagination_envelope_with_the_total_of_all_matches(
    client: TestClient, session: Session
) -> None:
    for number in range(5):
        make_stakeholder(session, display_name=f"Dr Page {number}")

    body = client.get("/api/v1/stakeholders", params={"limit": 2, "offset": 1}).json()

    assert body["total"] == 5
    assert (body["limit"], body["offset"]) == (2, 1)
    assert [item["display_name"] for item in body["items"]] == ["Dr Page 1", "Dr Page 2"]
    assert body["items"][0]["type"] == "hcp"


def test_limit_is_capped_and_offset_must_not_be_negative(client: TestClient) -> None:
    too_many = client.get("/api/v1/stakeholders", params={"limit": 501})
    negative = client.get("/api/v1/stakeholders", params={"offset": -1})

    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["query", "limit"]
    assert negative.status_code == 422
    assert negative.json()["detail"][0]["loc"] == ["query", "offset"]


def test_filters_narrow_the_list(client: TestClient, session: Session) -> None:
    make_taxonomy(session)
    oncologist = make_stakeholder(
        session,
        display_name="Dr Anna Weber",
        country_code="DE",
        specialty="Oncology",
        therapeutic_areas=("oncology",),
    )
    french = make_stakeholder(session, display_name="Dr Luc Martin", country_code="FR")
    patient = make_stakeholder(session, type="patient", display_name="Pat Ient", country_code="DE")
    pharmacy = make_stakeholder(session, type="pharmacy", display_name="Apotheke am Markt")

    def ids(**params: str) -> set[int]:
        response = client.get("/api/v1/stakeholders", params=params)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert ids(type="patient") == {patient.id}
    assert ids(kind="organisation") == {pharmacy.id}
    assert ids(country="de") == {oncologist.id, patient.id}
    assert ids(specialty="oncology") == {oncologist.id}
    assert ids(therapeutic_area="oncology") == {oncologist.id}
    assert ids(q="martin") == {french.id}
    assert ids(q="%") == set()  # wildcards are searched for literally
    assert ids(type="hcp", country="FR") == {french.id}


def test_unknown_type_filter_is_a_validation_error(client: TestClient) -> None:
    response = client.get("/api/v1/stakeholders", params={"type": "wizard"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "type"]


def test_get_shows_interests_channel_preferences_and_affiliations(
    client: TestClient, session: Session
) -> None:
    make_taxonomy(session)
    site = make_stakeholder(session, type="clinical_site", display_name="Charité Site 12")
    investigator = make_stakeholder(
        session,
        type="investigator",
        display_name="Prof Kim Lee",
        therapeutic_areas=("oncology", "immunology"),
        channel_preferences=("email", "face_to_face"),
    )
    make_affiliation(session, person=investigator, organisation=site, role="principal_investigator")

    body = client.get(f"/api/v1/stakeholders/{investigator.id}").json()
    site_body = client.get(f"/api/v1/stakeholders/{site.id}").json()

    assert body["type"] == "investigator"
    assert body["therapeutic_interests"] == ["immunology", "oncology"]
    assert body["channel_preferences"] == [
        {"channel": "email", "rank": 1},
        {"channel": "face_to_face", "rank": 2},
    ]
    assert [(a["organisation_name"], a["role"]) for a in body["affiliations"]] == [
        ("Charité Site 12", "principal_investigator")
    ]
    assert [a["person_name"] for a in site_body["affiliations"]] == ["Prof Kim Lee"]


def test_get_unknown_stakeholder_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/stakeholders/999999")

    assert response.status_code == 404
    assert response.json() == {"detail": "stakeholder 999999 not found"}


def test_lists_show_golden_records_and_merged_ids_still_answer(
    client: TestClient, session: Session
) -> None:
    golden = make_stakeholder(session, display_name="Dr Anna Weber")
    # A record merged into another one that was itself merged later: the chain ends at golden.
    earlier = make_stakeholder(session, display_name="Dr Anna Weber (events)")
    earlier.status, earlier.merged_into_id = "merged", golden.id
    oldest = make_stakeholder(session, display_name="Dr A. Weber (crm)")
    oldest.status, oldest.merged_into_id = "merged", earlier.id
    session.flush()

    def listed(**params: str) -> tuple[int, list[tuple[int, str, int | None]]]:
        response = client.get("/api/v1/stakeholders", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        items = [(i["id"], i["status"], i["merged_into"]) for i in body["items"]]
        return body["total"], items

    one_old_link = client.get(f"/api/v1/stakeholders/{oldest.id}").json()

    assert listed() == (1, [(golden.id, "active", None)])
    assert listed(q="weber") == (1, [(golden.id, "active", None)])
    assert listed(status="merged") == (
        2,
        [(oldest.id, "merged", golden.id), (earlier.id, "merged", golden.id)],
    )
    assert listed(status="all", q="anna")[0] == 2
    assert (one_old_link["status"], one_old_link["merged_into"]) == ("merged", golden.id)
    assert client.get(f"/api/v1/stakeholders/{golden.id}").json()["merged_into"] is None
    assert client.get("/api/v1/stakeholders", params={"status": "gone"}).status_code == 422
