"""The respondent pages, /s/{token}: pages, partial save and resume, and every kind of bad input."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.feedback.models import FeedbackItem
from cpxm.surveys.models import Invitation, Response
from tests.surveys.helpers import (
    make_invitation,
    setup_survey,
)


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_invitation_pages_save_resume_and_finish(client: TestClient, session: Session) -> None:
    survey = setup_survey(session)
    invitation = make_invitation(session, survey)
    first = client.get(f"/s/{invitation.token}")
    assert first.status_code == 200
    assert "Dear Ada" in first.text  # the name is piped into the introduction
    assert 'lang="en"' in first.text
    assert "Page 1 of 3" in first.text

    saved = client.post(
        f"/s/{invitation.token}",
        data={"page": "1", "action": "next", "q_nps": "9", "q_reason": "Helpful MSL."},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/s/{invitation.token}?page=2"
    # Leaving and coming back resumes at page 2 with page 1's answers kept.
    resumed = client.get(f"/s/{invitation.token}")
    assert "Page 2 of 3" in resumed.text
    back = client.get(f"/s/{invitation.token}?page=1")
    assert 'value="9"\n        checked' in back.text or re.search(r'value="9"\s+checked', back.text)
    assert "Helpful MSL." in back.text
    session.expire_all()
    response = session.scalars(
        select(Response).where(Response.invitation_id == invitation.id)
    ).one()
    assert response.status == "partial"
    assert session.get(Invitation, invitation.id).status == "started"  # type: ignore[union-attr]

    client.post(
        f"/s/{invitation.token}",
        data={"page": "2", "action": "next", "q_csat": "4"},
        follow_redirects=False,
    )
    done = client.post(
        f"/s/{invitation.token}",
        data={"page": "3", "action": "submit", "q_nurse_access": "always"},
        follow_redirects=False,
    )
    assert done.headers["location"] == f"/s/{invitation.token}/thanks"
    thanks = client.get(f"/s/{invitation.token}/thanks")
    assert "Thank you, Ada" in thanks.text
    session.expire_all()
    assert response.status == "complete" and response.submitted_at is not None
    assert response.survey_version == 1 and response.stakeholder_id == invitation.stakeholder_id
    # The finished link cannot be used again.
    again = client.get(f"/s/{invitation.token}")
    assert again.status_code == 409 and "already answered" in again.text
    comment = session.scalars(
        select(FeedbackItem).where(FeedbackItem.response_id == response.id)
    ).one()
    assert comment.text == "Helpful MSL." and comment.source_kind == "survey_comment"
    assert (
        comment.analysis_status == "pending" and comment.stakeholder_id == invitation.stakeholder_id
    )
