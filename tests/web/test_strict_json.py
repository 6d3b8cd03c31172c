"""JSON that Python can parse but no JSON client could have meant: a 422 that says what is
wrong, never a 500, on a JSON API and on the respondent's JSON submit alike."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cpxm.auth.service import create_team
from cpxm.errors import describe_integrity_error
from cpxm.web.strict_json import MAX_DEPTH
from tests.factories import make_stakeholder, make_taxonomy

FEEDBACK = '{"source_kind": "web_form", "text": %s, "stakeholder_id": %s}'

UNANSWERABLE = {
    "NaN": FEEDBACK % ('"ok"', "NaN"),
    "Infinity": FEEDBACK % ('"ok"', "-Infinity"),
    "1e400": FEEDBACK % ('"ok"', "1e400"),
    "lone surrogate": FEEDBACK % ('"\\ud800 broken"', "null"),
    "100,000 nested": "[" * 100_000,
    "nested past the limit": FEEDBACK % ('"ok"', "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)),
    "a 5,000-digit integer": FEEDBACK % ('"ok"', "9" * 5000),
}


@pytest.mark.parametrize("name", list(UNANSWERABLE))
def test_unanswerable_json_is_a_422_with_its_reason(client: TestClient, name: str) -> None:
    body = UNANSWERABLE[name].encode()
    answer = client.post(
        "/api/v1/feedback", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["detail"]
    assert error["type"] == "json_invalid"
    assert error["msg"] and error["loc"] == ["body"]


@pytest.mark.parametrize("body", [b"{not json", b'{"text": "J\xf6rg"}', b'{"text": '])
def test_text_that_is_not_json_is_refused_as_before(client: TestClient, body: bytes) -> None:
    answer = client.post(
        "/api/v1/feedback", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["detail"]


@pytest.mark.parametrize("name", ["NaN", "lone surrogate", "100,000 nested"])
def test_respondent_json_submit_refuses_it_too(anonymous_client: TestClient, name: str) -> None:
    answer = anonymous_client.post(
        "/s/" + "A" * 22,
        content=UNANSWERABLE[name].encode(),
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 422, answer.text


def test_surrogate_pairs_and_ordinary_json_pass_unchanged(
    client: TestClient, session: Session
) -> None:
    make_taxonomy(session)
    person = make_stakeholder(session, type="hcp", country_code="DE")
    session.commit()
    answer = client.post(
        "/api/v1/feedback",
        content=(FEEDBACK % ('"Great \\ud83d\\ude00 service, 1.5e3 times"', person.id)).encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert answer.status_code == 201, answer.text
    stored = client.get(f"/api/v1/feedback/{answer.json()['id']}").json()
    assert stored["text"] == "Great \N{GRINNING FACE} service, 1.5e3 times"


def test_a_json_body_larger_than_the_limit_is_refused(client: TestClient) -> None:
    from cpxm.web import strict_json

    body = b'{"text": "' + b"x" * (strict_json.MAX_JSON_BYTES + 1) + b'"}'
    answer = client.post(
        "/api/v1/feedback", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413


def test_constraint_failures_name_their_field(session: Session) -> None:
    create_team(session, name="Field DE")
    session.flush()
    with pytest.raises(IntegrityError) as duplicate, session.begin_nested():
        session.execute(text("INSERT INTO teams (name) VALUES ('Field DE')"))
    status, item = describe_integrity_error(duplicate.value)
    assert (status, item["type"], item["loc"]) == (409, "unique", ["body", "name"])

    with pytest.raises(IntegrityError) as dangling, session.begin_nested():
        session.execute(
            text("INSERT INTO teams (name, department_code) VALUES ('Ghost', 'no_such')")
        )
    status, item = describe_integrity_error(dangling.value)
    assert (status, item["type"]) == (422, "foreign_key")
    if session.get_bind().dialect.name == "postgresql":
        # PostgreSQL says which key; SQLite only that some foreign key failed.
        assert item["loc"] == ["body", "department_code"]
