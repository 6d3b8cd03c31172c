from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.errors import DomainError
from cpxm.feedback.models import FeedbackAnalysis, FeedbackTheme
from cpxm.safety import service
from cpxm.safety.models import SafetyCase, SafetyCaseEvent
from cpxm.safety.screening import screen_items, screen_pending, screen_response
from cpxm.stakeholders.models import Consent
from tests.auth.signing import signer, signing_user
from tests.factories import (
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)
from tests.safety.helpers import make_feedback

NOW = datetime(2026, 11, 23, 12, 0)


def test_affirmed_event_opens_a_case_with_clock_and_elements(session: Session) -> None:
    make_taxonomy(session)
    patient = make_stakeholder(session, type="patient", country_code="DE")
    item = make_feedback(
        session,
        "Since starting Oncoxx I get headaches every day. Call me on +49 171 2345678.",
        stakeholder_id=patient.id,
        received_at=datetime(2026, 12, 24, 9, 30),
    )

    report, cases = screen_items(session, items=[item], now=datetime(2026, 12, 24, 10, 0))

    assert report.analysed == 1 and report.cases_opened == 1
    case = cases[0]
    assert case.kind == "ae" and case.context == "affirmed"
    assert case.product_code == "onco_x"  # misspelt "Oncoxx" found by fuzzy matching
    assert (case.has_patient, case.has_reporter, case.has_product, case.has_event) == (
        True,
        True,
        True,
        True,
    )
    # 24 Dec 2026 is a Thursday; 25 and 26 Dec are German holidays, 27 Dec a Sunday.
    assert case.due_at == datetime(2026, 12, 28, 9, 30)
    assert item.analysis_status == "done"
    analysis = session.get(FeedbackAnalysis, item.id)
    assert analysis is not None
    assert analysis.safety_kinds == ["ae"]
    assert "[PHONE]" in (analysis.redacted_text or "")
    assert "2345678" not in (analysis.redacted_text or "")
    assert case.verbatim == item.text  # PV keeps the whole text


def test_context_is_labelled_and_only_reportable_mentions_open_cases(session: Session) -> None:
    make_taxonomy(session)
    negated = make_feedback(session, "No side effects at all with Oncox, which is a relief.")
    hypothetical = make_feedback(session, "If I get nausea on Oncox, who should I call?")
    family = make_feedback(session, "My mother had a rash after starting Oncox.")
    family_history = make_feedback(session, "My mother had breast cancer, so I worry.")

    report, cases = screen_items(
        session, items=[negated, hypothetical, family, family_history], now=NOW
    )

    assert report.analysed == 4
    assert [case.feedback_item_id for case in cases] == [family.id]
    assert cases[0].context == "other_person"
    contexts = {
        item.id: session.get(FeedbackAnalysis, item.id).safety_contexts  # type: ignore[union-attr]
        for item in (negated, hypothetical)
    }
    assert contexts == {negated.id: ["negated"], hypothetical.id: ["hypothetical"]}


def test_one_case_per_kind_and_never_twice_for_the_same_item(session: Session) -> None:
    make_taxonomy(session)
    item = make_feedback(
        session, "The Immuny pen leaked and I took a double dose by mistake; now I feel dizzy."
    )
    _, cases = screen_items(session, items=[item], now=NOW)
    assert sorted(case.kind for case in cases) == ["ae", "pc", "srs"]
    item.analysis_status = "pending"
    _, again = screen_items(session, items=[item], now=NOW)
    assert again == []
    assert (
        len(session.scalars(select(SafetyCase).where(SafetyCase.feedback_item_id == item.id)).all())
        == 3
    )


def test_themes_are_queryable_rows(session: Session) -> None:
    item = make_feedback(
        session, "Prior authorisation takes weeks and the product was out of stock."
    )
    screen_items(session, items=[item], now=NOW)
    themes = set(
        session.scalars(
            select(FeedbackTheme.theme_code).where(FeedbackTheme.feedback_item_id == item.id)
        )
    )
    assert {"access_reimbursement", "supply_availability"} <= themes


def test_sweep_takes_pending_items_only(session: Session) -> None:
    first = make_feedback(session, "Great webinar.")
    second = make_feedback(session, "I had hives after the infusion.")
    assert screen_pending(session).analysed >= 2
    assert first.analysis_status == second.analysis_status == "done"
    assert screen_pending(session).analysed == 0


def test_acknowledge_confirm_reject_and_escalation(session: Session) -> None:
    item = make_feedback(session, "I developed a rash after the injection.", received_at=NOW)
    (case,) = screen_items(session, items=[item], now=NOW)[1]
    assert case.due_at == datetime(2026, 11, 24, 12, 0)

    assert service.escalate_overdue(session, now=datetime(2026, 11, 24, 11, 0)) == []
    assert service.escalate_overdue(session, now=datetime(2026, 11, 24, 13, 0)) == [case]
    assert case.escalation_level == 1
    assert service.escalate_overdue(session, now=datetime(2026, 11, 24, 14, 0)) == []
    assert service.escalate_overdue(session, now=datetime(2026, 11, 25, 13, 0)) == [case]
    assert case.escalation_level == 2

    officer = signing_user(session, "pv_officer")
    with pytest.raises(DomainError, match="needs its reason"):
        signer(session, officer, reason=" ")
    service.acknowledge(session, case_id=case.id, user_id=None, now=datetime(2026, 11, 25, 14, 0))
    assert case.status == "acknowledged"
    with pytest.raises(DomainError):
        service.acknowledge(session, case_id=case.id, user_id=None)
    service.decide(
        session,
        case_id=case.id,
        decision="confirmed",
        signer=signer(session, officer, reason="valid"),
    )
    assert case.status == "confirmed" and case.decided_at is not None
    events = session.scalars(
        select(SafetyCaseEvent.event_type)
        .where(SafetyCaseEvent.case_id == case.id)
        .order_by(SafetyCaseEvent.id)
    ).all()
    assert events == ["opened", "escalated", "escalated", "acknowledged", "confirmed"]


def test_thank_you_page_screening_and_contact_permission(session: Session) -> None:
    make_taxonomy(session)
    survey = make_survey(session)
    question = make_question(session, survey=survey, question_type="text")
    respondent = make_stakeholder(session, type="patient")
    response = make_response(session, survey=survey, stakeholder=respondent)
    make_feedback(
        session,
        "Since my second Immuny injection I keep vomiting.",
        stakeholder_id=respondent.id,
        response_id=response.id,
    )
    del question

    cases = screen_response(session, response_id=response.id)
    assert [case.kind for case in cases] == ["ae"]
    assert cases[0].survey_id == survey.id

    service.record_contact_permission(session, response_id=response.id, allowed=True, now=NOW)
    assert cases[0].contact_permission is True
    assert cases[0].contact_permission_at == NOW
    # The permission is the person's safety_followup consent too.
    consents = session.scalars(
        select(Consent).where(
            Consent.stakeholder_id == respondent.id, Consent.purpose == "safety_followup"
        )
    ).all()
    assert [(c.status, c.recorded_at) for c in consents] == [("granted", NOW)]
