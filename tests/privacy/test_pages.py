"""The admin's data-protection page for one person: every right through the form."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cpxm.access.purposes import objecting
from cpxm.stakeholders.models import Stakeholder
from tests.factories import make_stakeholder, make_taxonomy


def test_the_page_exercises_each_right(
    session: Session, client: TestClient, client_as: Callable[[str], TestClient]
) -> None:
    make_taxonomy(session)
    person = make_stakeholder(
        session, type="patient", display_name="Ana Lopez", first_name="Ana", last_name="Lopez"
    )
    session.commit()
    path = f"/admin/privacy/{person.id}"

    assert client_as("cx_lead").get(path).status_code == 403
    page = client.get(path)
    assert page.status_code == 200 and "Ana Lopez" in page.text
    assert page.headers["cache-control"] == "no-store"
    exported = client.get(f"{path}/export.json")
    assert exported.status_code == 200 and exported.json()["golden_record"]["id"] == person.id

    bad = client.post(
        path,
        data={"action": "rectify", "email": "nope", "reason": "Art. 16"},
        follow_redirects=True,
    )
    assert "is not an email address" in bad.text
    fixed = client.post(
        path,
        data={"action": "rectify", "city": "Lyon", "reason": "Art. 16 letter"},
        follow_redirects=True,
    )
    assert "rectified: city" in fixed.text
    objected = client.post(
        path, data={"action": "object", "reason": "Art. 21 letter"}, follow_redirects=True
    )
    assert "objection recorded" in objected.text and "(standing)" in objected.text
    assert person.id in objecting(session)
    unconfirmed = client.post(
        path, data={"action": "erase", "reason": "Art. 17"}, follow_redirects=True
    )
    assert "type erase to confirm" in unconfirmed.text
    erased = client.post(
        path,
        data={"action": "erase", "reason": "Art. 17 letter", "confirm": "erase"},
        follow_redirects=True,
    )
    assert "erased (erasure" in erased.text
    session.expire_all()
    gone = session.get(Stakeholder, person.id)
    assert gone is not None and gone.first_name is None and gone.city is None
