"""Late safety cases notify the RACI's Accountable and Informed, in the app and by email."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.auth.service import create_team, create_user
from cpxm.cases import notifications
from cpxm.governance.service import load_matrix
from cpxm.safety import service
from cpxm.safety.screening import screen_items
from cpxm.workspace.models import Notification, User
from tests.factories import make_stakeholder, make_taxonomy
from tests.safety.helpers import make_feedback
from tests.smtp import Inbox

RECEIVED = datetime(2026, 11, 23, 10, 0)  # a Monday; due a business day later
# Due Tuesday 10:00; by Thursday noon: level 1, plus one at Wednesday and Thursday 10:00.
LATE = datetime(2026, 11, 26, 12, 0)
VERBATIM = "Since my second Immuny injection I have had palpitations at night."


MATRIX = """
raci:
  - activity: safety_case
    responsible: team:PV DE
    accountable: user:pv.head@example.org
    informed: [team:Medical DE, user:pv.head@example.org]
"""


def _overdue_case(session: Session) -> int:
    patient = make_stakeholder(session, type="patient", country_code="DE")
    item = make_feedback(session, VERBATIM, stakeholder_id=patient.id, received_at=RECEIVED)
    (case,) = screen_items(session, items=[item], now=RECEIVED)[1]
    return case.id


def _inbox_of(session: Session) -> dict[str, list[str]]:
    rows = session.execute(
        select(Notification.user_id, Notification.subject).order_by(Notification.id)
    ).all()
    users: dict[int, str] = {
        row.id: row.email for row in session.execute(select(User.id, User.email))
    }
    found: dict[str, list[str]] = {}
    for user_id, subject in rows:
        found.setdefault(users[user_id], []).append(subject)
    return found


def test_escalation_notifies_accountable_and_informed_by_app_and_email(
    session: Session,
    smtp: Inbox,
) -> None:
    make_taxonomy(session)
    pv_team = create_team(session, name="PV DE", country_code="DE")
    medical = create_team(session, name="Medical DE", country_code="DE")
    create_user(session, email="pv.head@example.org", role="pv_officer")
    create_user(session, email="pv.agent@example.org", role="pv_officer", team_id=pv_team.id)
    create_user(session, email="msl@example.org", role="medical", team_id=medical.id)
    load_matrix(session, text=MATRIX)
    case_id = _overdue_case(session)

    (escalated,) = service.escalate_overdue(session, now=LATE)
    assert escalated.id == case_id and escalated.escalation_level == 3

    inbox = _inbox_of(session)
    assert inbox["pv.head@example.org"] == [
        f"Safety case {case_id} is overdue (escalation level 3)"
    ]  # accountable and informed: told once, as the one accountable
    assert inbox["msl@example.org"] == [
        f"For information: safety case {case_id} is overdue (level 3)"
    ]
    assert "pv.agent@example.org" not in inbox  # Responsible is the queue, not this message
    trail = service.case_events(session, case_id)
    assert trail[-1].event_type == "escalated"
    assert trail[-1].details is not None and len(trail[-1].details["notified_accountable"]) == 1

    assert notifications.send_pending_emails(session) == 2
    mails = {message["To"]: message for message in smtp.messages}
    assert set(mails) == {"pv.head@example.org", "msl@example.org"}
    accountable_mail = mails["pv.head@example.org"].as_string()
    assert f"/safety/cases/{case_id}" in accountable_mail
    assert "palpitations" not in accountable_mail  # the verbatim stays in the app

    # The same level is not announced twice.
    assert service.escalate_overdue(session, now=LATE) == []
    assert sum(len(subjects) for subjects in _inbox_of(session).values()) == 2


def test_without_a_safety_case_row_every_pv_officer_is_told(session: Session) -> None:
    make_taxonomy(session)
    create_user(session, email="pv.one@example.org", role="pv_officer")
    create_user(session, email="pv.two@example.org", role="pv_officer")
    create_user(session, email="rep@example.org", role="commercial")
    case_id = _overdue_case(session)

    service.escalate_overdue(session, now=LATE)

    inbox = _inbox_of(session)
    assert set(inbox) == {"pv.one@example.org", "pv.two@example.org"}
    assert inbox["pv.one@example.org"] == [f"Safety case {case_id} is overdue (escalation level 3)"]
