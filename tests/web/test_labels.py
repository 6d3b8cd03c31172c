"""Pages say what the workspace's taxonomy says: a code it names shows under that name
('sms' is 'SMS', 'mail' is 'Postal mail'), on every page that humanises a code."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cpxm.workspace.models import TherapeuticArea
from tests.factories import make_stakeholder, make_taxonomy


def test_a_code_the_taxonomy_names_shows_under_that_name(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    make_taxonomy(session)
    session.add(TherapeuticArea(code="cns", name="Neuroscience (CNS)"))
    session.flush()
    person = make_stakeholder(session, therapeutic_areas=("cns",))
    session.commit()
    page = client_as("cx_lead").get(f"/stakeholders/{person.id}")
    assert page.status_code == 200
    assert "Neuroscience (CNS)" in page.text
    assert ">Cns<" not in page.text
