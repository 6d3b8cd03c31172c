"""Cases: opening (by hand and by the scanner, idempotently), routing by the RACI matrix, SLA in
business hours, reminders and escalation, closure with resolution codes and service recovery."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.cases import scan, service
from cpxm.cases.models import Case, CaseScanWatermark
from cpxm.cases.sla import add_business_hours, business_hours_between
from cpxm.errors import DomainError
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.workspace.models import Country, Notification
from tests.cases.helpers import Org, make_org
from tests.factories import make_question, make_response, make_stakeholder, make_survey

MONDAY_10 = datetime(2026, 11, 16, 10, 0)


@pytest.fixture
def org(session: Session) -> Org:
    return make_org(session)


def _events(session: Session, case: Case) -> list[str]:
    return [e.event_type for e in service.case_events(session, case_id=case.id)]


def _inbox(session: Session, user_id: int) -> list[str]:
    return list(
        session.scalars(
            select(Notification.subject)
            .where(Notification.user_id == user_id)
            .order_by(Notification.id)
        )
    )


def test_business_hours_skip_nights_weekends_and_holidays() -> None:
    friday_16 = datetime(2026, 11, 20, 16, 0)
    assert add_business_hours(friday_16, 4) == datetime(2026, 11, 23, 12, 0)
    # 24 December 2026 is a Thursday; 25 and 26 are German holidays, 27 a Sunday.
    assert add_business_hours(datetime(2026, 12, 24, 16, 0), 4, "DE") == datetime(
        2026, 12, 28, 12, 0
    )
    assert business_hours_between(friday_16, datetime(2026, 11, 23, 12, 0)) == 4.0


def test_business_hours_are_counted_in_the_countrys_time_zone_and_holidays(
    session: Session, org: Org
) -> None:
    session.add_all(
        [
            Country(code="JP", name="Japan", default_language="ja"),
            Country(code="US", name="United States", default_language="en"),
        ]
    )
    session.flush()
    tokyo = make_stakeholder(session, type="hcp", country_code="JP")
    new_york = make_stakeholder(session, type="hcp", country_code="US")
    # Friday 20 November 2026, 17:30 local time in each city, as UTC.
    friday_evening_tokyo = datetime(2026, 11, 20, 8, 30)  # JST is UTC+9
    friday_evening_new_york = datetime(2026, 11, 20, 22, 30)  # EST is UTC-5

    def urgent_case(stakeholder_id: int, now: datetime) -> Case:  # 4 business hours
        return service.open_case(
            session,
            case_type="detractor",
            priority="urgent",
            title="NPS 0",
            stakeholder_id=stakeholder_id,
            now=now,
        ).case

    in_tokyo = urgent_case(tokyo.id, friday_evening_tokyo)
    in_new_york = urgent_case(new_york.id, friday_evening_new_york)

    # Monday 23 November is Labour Thanksgiving Day in Japan: Tuesday 09:00-13:00 JST.
    assert in_tokyo.due_at == datetime(2026, 11, 24, 4, 0)
    # New York works that Monday: 09:00-13:00 EST.
    assert in_new_york.due_at == datetime(2026, 11, 23, 18, 0)
    # Tokyo's business day is over long before New York's starts: 17:30 JST counts nothing.
    assert business_hours_between(friday_evening_tokyo, datetime(2026, 11, 20, 9, 0), "JP") == 0
    assert business_hours_between(datetime(2026, 11, 20, 14, 0), friday_evening_new_york, "US") == 8
    # A country the store does not know counts in the default zone, UTC, without holidays.
    assert add_business_hours(datetime(2026, 11, 20, 16, 0), 4, "ZZ") == datetime(
        2026, 11, 23, 12, 0
    )


def test_a_case_is_routed_to_the_responsible_team_and_informs(session: Session, org: Org) -> None:
    hcp = make_stakeholder(session, type="hcp", country_code="DE")
    opened = service.open_case(
        session, case_type="detractor", title="NPS 2", stakeholder_id=hcp.id, now=MONDAY_10
    )
    case = opened.case
    assert opened.created
    assert (case.team_id, case.assignee_user_id) == (org.team.id, None)
    assert case.accountable_user_id == org.lead.id
    assert case.sla_business_hours == 16
    # 16 business hours from Monday 10:00: 7 on Monday, 8 on Tuesday, 1 on Wednesday.
    assert case.due_at == datetime(2026, 11, 18, 10, 0)
    assert _events(session, case) == ["opened", "routed", "informed"]
    # Responsible team members are notified, and the Informed.
    assert _inbox(session, org.agent.id) == [f"New case {case.id}: NPS 2"]
    assert _inbox(session, org.teammate.id) == [f"New case {case.id}: NPS 2"]
    assert _inbox(session, org.watcher.id) == [f"Case {case.id} opened: NPS 2"]
    assert _inbox(session, org.lead.id) == []


def test_without_a_responsible_the_leads_are_told(session: Session, org: Org) -> None:
    case = service.open_case(session, case_type="medical_inquiry", title="Dosing").case
    assert case.team_id is None and case.assignee_user_id is None
    assert _events(session, case) == ["opened", "unrouted"]
    assert any("nobody responsible" in s for s in _inbox(session, org.lead.id))


def test_breach_escalates_once_to_the_accountable_and_reminders_come_first(
    session: Session, org: Org
) -> None:
    case = service.open_case(
        session, case_type="complaint", title="Broken pen", priority="high", now=MONDAY_10
    ).case
    assert case.assignee_user_id == org.agent.id
    assert case.due_at == datetime(2026, 11, 17, 10, 0)  # 8 business hours
    early = service.sweep_slas(session, now=datetime(2026, 11, 16, 12, 0))
    assert early.reminded == [] and early.escalated == []
    soon = service.sweep_slas(session, now=datetime(2026, 11, 17, 9, 0))
    assert soon.reminded == [case.id]
    assert service.sweep_slas(session, now=datetime(2026, 11, 17, 9, 30)).reminded == []
    late = service.sweep_slas(session, now=datetime(2026, 11, 17, 11, 0))
    assert late.escalated == [case.id]
    assert case.escalation_level == 1
    assert any("breached its SLA" in s for s in _inbox(session, org.lead.id))
    assert service.sweep_slas(session, now=datetime(2026, 11, 18, 11, 0)).escalated == []
    assert _events(session, case)[-2:] == ["reminded", "escalated"]


def test_closing_needs_a_resolution_code_and_old_recovery_links_still_count(
    session: Session, org: Org
) -> None:
    hcp = make_stakeholder(session, type="hcp")
    case = service.open_case(
        session, case_type="detractor", title="NPS 5", stakeholder_id=hcp.id
    ).case
    with pytest.raises(DomainError, match="unknown resolution code 'fixed'"):
        service.close_case(session, case=case, actor_user_id=org.agent.id, resolution_code="fixed")
    service.close_case(
        session, case=case, actor_user_id=org.agent.id, resolution_code="resolved_explained"
    )
    assert case.status == "closed" and case.resolution_code == "resolved_explained"
    with pytest.raises(service.CaseStateError, match="reopen it first"):
        service.start_case(session, case=case, actor_user_id=None)
    # Cases closed before re-surveys were survey invitations hold a /r/ token; answers count.
    for number, closed in enumerate((case, _closed_before_upgrade(session, hcp.id))):
        closed.recovery_token, closed.recovery_sent_at = f"old-link-{number}", closed.closed_at
    service.record_recovery_answer(session, token="old-link-0", score=9)
    with pytest.raises(service.CaseStateError, match="already answered"):
        service.record_recovery_answer(session, token="old-link-0", score=2)
    with pytest.raises(DomainError, match="from 0 to 10"):
        service.record_recovery_answer(session, token="old-link-1", score=11)
    service.record_recovery_answer(session, token="old-link-1", score=3)
    figures = service.recovery_figures(session)
    assert (figures.surveyed, figures.answered, figures.recovered) == (2, 2, 1)
    assert figures.recovery_rate == 0.5
    assert "recovery_answered" in _events(session, case)


def _closed_before_upgrade(session: Session, stakeholder_id: int) -> Case:
    case = service.open_case(
        session, case_type="detractor", title="NPS 1", stakeholder_id=stakeholder_id
    ).case
    return service.close_case(session, case=case, actor_user_id=None, resolution_code="no_response")


def test_scan_opens_one_case_per_source_and_only_for_what_needs_it(
    session: Session, org: Org
) -> None:
    survey = make_survey(session, name="Field experience")
    nps = make_question(session, survey=survey, question_type="nps")
    csat = make_question(session, survey=survey, question_type="csat", position=2)
    people = [make_stakeholder(session, type="hcp", country_code="DE") for _ in range(4)]
    detractor = make_response(
        session, survey=survey, stakeholder=people[0], answers={nps: 3, csat: 1}
    )
    make_response(session, survey=survey, stakeholder=people[1], answers={nps: 9, csat: 5})
    unhappy = make_response(
        session, survey=survey, stakeholder=people[2], answers={nps: 8, csat: 2}
    )
    complaint_item = FeedbackItem(
        source_kind="call_centre_log",
        text="The pen arrived cracked",
        received_at=MONDAY_10,
        stakeholder_id=people[3].id,
        analysis_status="done",
    )
    negative_item = FeedbackItem(
        source_kind="web_form",
        text="Nobody answers the phone",
        received_at=MONDAY_10,
        analysis_status="done",
    )
    off_theme = FeedbackItem(
        source_kind="web_form",
        text="The logo is ugly",
        received_at=MONDAY_10,
        analysis_status="done",
    )
    session.add_all([complaint_item, negative_item, off_theme])
    session.flush()
    session.add_all(
        [
            FeedbackAnalysis(
                feedback_item_id=complaint_item.id,
                sentiment_label="negative",
                themes=["product_quality"],
                safety_kinds=["pc"],
                analysed_at=MONDAY_10,
                redacted_text="The pen arrived cracked",
            ),
            FeedbackAnalysis(
                feedback_item_id=negative_item.id,
                sentiment_label="negative",
                themes=["responsiveness"],
                safety_kinds=[],
                analysed_at=MONDAY_10,
            ),
            FeedbackAnalysis(
                feedback_item_id=off_theme.id,
                sentiment_label="negative",
                themes=["digital_experience"],
                safety_kinds=[],
                analysed_at=MONDAY_10,
            ),
        ]
    )
    session.flush()
    report = scan.scan(session, now=MONDAY_10)
    cases = {c.source_key: c for c in session.scalars(select(Case))}
    assert set(cases) == {
        f"response:{detractor.id}",
        f"response:{unhappy.id}",
        f"feedback:{complaint_item.id}:complaint",
        f"feedback:{negative_item.id}:negative",
    }
    assert cases[f"response:{detractor.id}"].case_type == "detractor"
    assert cases[f"response:{detractor.id}"].priority == "high"
    assert cases[f"response:{unhappy.id}"].case_type == "low_score"
    assert cases[f"feedback:{complaint_item.id}:complaint"].assignee_user_id == org.agent.id
    assert len(report.opened) == 4 and report.already_open == 1  # NPS 3 and CSAT 1, one case
    # A second scan reads nothing new; reading everything again opens nothing twice.
    assert scan.scan(session).opened == []
    for mark in session.scalars(select(CaseScanWatermark)):
        mark.last_id, mark.last_seen_at = 0, None
    again = scan.scan(session)
    assert again.opened == [] and again.already_open == 5
    assert session.scalar(select(func.count()).select_from(Case)) == 4


def test_a_case_on_a_merged_id_belongs_to_its_golden_record(session: Session, org: Org) -> None:
    golden = make_stakeholder(session)
    merged = make_stakeholder(session, status="merged", merged_into_id=golden.id)

    opened = service.open_case(
        session, case_type="complaint", title="Rep never called back", stakeholder_id=merged.id
    )

    assert opened.case.stakeholder_id == golden.id
