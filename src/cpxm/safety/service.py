"""Safety cases: opened from feedback, worked by PV officers, escalated when the clock runs out.

Service functions take a session, flush and never commit; the request or job owns the
transaction.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cpxm.auth import signatures
from cpxm.auth.signatures import Signer
from cpxm.cases.notifications import active_users_with_roles, notify, people_of
from cpxm.errors import DomainError, NotFoundError
from cpxm.feedback.models import FeedbackItem
from cpxm.governance import service as governance
from cpxm.safety import triage
from cpxm.safety.calendar import due_after_one_business_day, escalation_level
from cpxm.safety.models import CASE_KINDS, CASE_STATUSES, SafetyCase, SafetyCaseEvent
from cpxm.stakeholders.models import Consent, Stakeholder
from cpxm.surveys.models import Response
from cpxm.text.safety import SafetyMention
from cpxm.timeutil import utc_now
from cpxm.workspace.models import Product

# Where a reporter's country is unknown, the clock follows this calendar (ISO country code).
DEFAULT_COUNTRY_ENV = "CPXM_PV_DEFAULT_COUNTRY"
_FIRST_PERSON = re.compile(
    r"(?<!\w)(?:i|i'm|i've|i'd|me|my|myself|ich|mir|mich|mein\w*|je|j'|moi|mon|ma|mes|yo|me|mi|"
    r"mis)(?!\w)|私|僕|自分",
    re.IGNORECASE,
)
_PATIENT_QUALIFIER = re.compile(
    r"(?<!\w)(?:\d{1,3}[- ]?(?:years?|yrs?|y/o|yo)|male|female|man|woman|boy|girl|mr|mrs|ms|"
    r"aged|initials|participant \w+|patient \w*\d+|pregnant|caller|pt)(?!\w)",
    re.IGNORECASE,
)


class CaseStateError(DomainError):
    status_code = 409


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    kind: str | None = None
    overdue: bool = False
    survey_id: int | None = None
    study_code: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None


def open_cases(
    session: Session,
    *,
    item: FeedbackItem,
    mentions: Sequence[SafetyMention],
    pii_kinds: Sequence[str] = (),
    now: datetime | None = None,
) -> list[SafetyCase]:
    """One case per reportable kind in ``mentions`` that the item has no case for yet."""
    now = now or utc_now()
    reportable = [mention for mention in mentions if mention.reportable]
    if not reportable:
        return []
    existing = set(
        session.scalars(select(SafetyCase.kind).where(SafetyCase.feedback_item_id == item.id)).all()
    )
    opened: list[SafetyCase] = []
    for kind in CASE_KINDS:
        kind_mentions = [mention.as_dict() for mention in reportable if mention.kind == kind]
        if not kind_mentions or kind in existing:
            continue
        case = _new_case(
            session, item=item, kind=kind, mentions=kind_mentions, pii_kinds=pii_kinds, now=now
        )
        _record(session, case, "opened", None, now, {"subtypes": case.subtypes})
        opened.append(case)
    return opened


# The subtype a case opened by hand gets when screening found no words of its kind.
_SUBTYPE_BY_HAND = {"ae": "adverse_event", "pc": "quality_defect", "srs": "special_situation"}


def open_case_by_hand(
    session: Session,
    *,
    feedback_item_id: int,
    kind: str,
    user_id: int | None,
    reason: str | None,
    now: datetime | None = None,
) -> SafetyCase:
    """A PV officer opens a case from any feedback item, saying why.

    The case carries the item's stored mentions of that kind (if screening found any) and is
    due like any other: from when the company received the text, so a late decision shows late.
    """
    if kind not in CASE_KINDS:
        raise DomainError(f"kind is '{kind}', expected one of {', '.join(CASE_KINDS)}")
    if not (reason and reason.strip()):
        raise DomainError("say why you open the case (reason), for the audit trail")
    note = reason.strip()
    now = now or utc_now()
    item = session.get(FeedbackItem, feedback_item_id)
    if item is None:
        raise NotFoundError("feedback item", feedback_item_id)
    existing = session.scalar(
        select(SafetyCase.id).where(
            SafetyCase.feedback_item_id == feedback_item_id, SafetyCase.kind == kind
        )
    )
    if existing is not None:
        raise CaseStateError(f"feedback item {feedback_item_id} already has {kind} case {existing}")
    mentions = [m for m in triage.stored_mentions(session, feedback_item_id) if m["kind"] == kind]
    case = _new_case(session, item=item, kind=kind, mentions=mentions, now=now, origin="pv")
    entry = triage.resolve_by_case(session, case=case, user_id=user_id, note=note, now=now)
    _record(
        session,
        case,
        "opened",
        user_id,
        now,
        {
            "subtypes": case.subtypes,
            "by_hand": True,
            "reason": note,
            "triage_id": entry.id if entry else None,
        },
    )
    session.flush()
    return case


def open_case_from_triage(
    session: Session,
    *,
    triage_id: int,
    user_id: int | None,
    reason: str | None,
    now: datetime | None = None,
) -> SafetyCase:
    """PV disagrees with the screening: open the case the triage entry stands for."""
    entry = triage.get_triage_item(session, triage_id)
    if entry.status != "pending":
        raise triage.TriageStateError(f"triage entry {triage_id} is already {entry.status}")
    return open_case_by_hand(
        session,
        feedback_item_id=entry.feedback_item_id,
        kind=entry.kind,
        user_id=user_id,
        reason=reason,
        now=now,
    )


def _new_case(
    session: Session,
    *,
    item: FeedbackItem,
    kind: str,
    mentions: Sequence[dict[str, Any]],
    now: datetime,
    pii_kinds: Sequence[str] = (),
    origin: str = "screening",
) -> SafetyCase:
    stakeholder = session.get(Stakeholder, item.stakeholder_id) if item.stakeholder_id else None
    survey_id = (
        session.scalar(select(Response.survey_id).where(Response.id == item.response_id))
        if item.response_id
        else None
    )
    country = (stakeholder.country_code if stakeholder else None) or (
        os.environ.get(DEFAULT_COUNTRY_ENV, "").strip().upper() or None
    )
    # Awareness is when the company received the text, never later than now.
    aware_at = min(item.received_at, now)
    product_code = next((m["product_code"] for m in mentions if m.get("product_code")), None)
    product_written = next(
        (m["product_written"] for m in mentions if m.get("product_written")), None
    )
    case = SafetyCase(
        feedback_item_id=item.id,
        kind=kind,
        subtypes=sorted({m["subtype"] for m in mentions}) or [_SUBTYPE_BY_HAND[kind]],
        verbatim=item.text,
        product_code=product_code,
        product_written=product_written,
        event_terms=list(dict.fromkeys(m["term"] for m in mentions)),
        context=_case_context(mentions),
        mentions=list(mentions),
        has_patient=_has_patient(item.text, mentions, stakeholder),
        has_reporter=item.stakeholder_id is not None
        or bool({"email", "phone", "person"} & set(pii_kinds)),
        has_product=product_code is not None or product_written is not None,
        has_event=True,
        reporter_stakeholder_id=item.stakeholder_id,
        source_kind=item.source_kind,
        survey_id=survey_id,
        response_id=item.response_id,
        study_code=_study_code(session, product_code),
        country_code=country,
        aware_at=aware_at,
        due_at=due_after_one_business_day(aware_at, country),
        created_at=now,
        status="open",
        escalation_level=0,
        origin=origin,
    )
    session.add(case)
    session.flush()
    return case


def _case_context(mentions: Sequence[dict[str, Any]]) -> str:
    contexts = {mention["context"] for mention in mentions}
    for context in ("affirmed", "other_person", "historical"):
        if context in contexts:
            return context
    return mentions[0]["context"] if mentions else "affirmed"


def _has_patient(
    text: str, mentions: Sequence[dict[str, Any]], stakeholder: Stakeholder | None
) -> bool:
    if any(mention["context"] == "other_person" for mention in mentions):
        return True
    if stakeholder is not None and stakeholder.type in ("patient", "caregiver"):
        return True
    return bool(_FIRST_PERSON.search(text) or _PATIENT_QUALIFIER.search(text))


def _study_code(session: Session, product_code: str | None) -> str | None:
    if product_code is None:
        return None
    phase = session.scalar(select(Product.lifecycle_phase_code).where(Product.code == product_code))
    return product_code if phase == "clinical" else None


def _record(
    session: Session,
    case: SafetyCase,
    event_type: str,
    user_id: int | None,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        SafetyCaseEvent(
            case_id=case.id,
            occurred_at=now,
            actor_user_id=user_id,
            event_type=event_type,
            details=details,
        )
    )


def get_case(session: Session, case_id: int) -> SafetyCase:
    case = session.get(SafetyCase, case_id)
    if case is None:
        raise NotFoundError("safety case", case_id)
    return case


def case_events(session: Session, case_id: int) -> list[SafetyCaseEvent]:
    return list(
        session.scalars(
            select(SafetyCaseEvent)
            .where(SafetyCaseEvent.case_id == case_id)
            .order_by(SafetyCaseEvent.occurred_at, SafetyCaseEvent.id)
        )
    )


def acknowledge(
    session: Session, *, case_id: int, user_id: int | None, now: datetime | None = None
) -> SafetyCase:
    """PV has seen the case: the one-business-day clock is met if this is before ``due_at``."""
    now = now or utc_now()
    case = get_case(session, case_id)
    if case.status != "open":
        raise CaseStateError(f"safety case {case_id} is {case.status}, not open")
    case.status = "acknowledged"
    case.acknowledged_at = now
    case.acknowledged_by = user_id
    _record(session, case, "acknowledged", user_id, now, {"on_time": now <= case.due_at})
    session.flush()
    return case


def decide(
    session: Session,
    *,
    case_id: int,
    decision: str,
    signer: Signer,
    now: datetime | None = None,
) -> SafetyCase:
    """Confirm (a valid case for the safety database) or reject, under the signer's electronic
    signature; the reason they signed with is the decision's note."""
    if decision not in ("confirmed", "rejected"):
        raise DomainError(f"decision is '{decision}', expected 'confirmed' or 'rejected'")
    now = now or utc_now()
    case = get_case(session, case_id)
    if case.status in ("confirmed", "rejected"):
        raise CaseStateError(f"safety case {case_id} is already {case.status}")
    if case.status == "open":
        # Deciding implies having seen it; the acknowledgement time is the decision time.
        acknowledge(session, case_id=case_id, user_id=signer.user_id, now=now)
    case.status = decision
    case.decided_at = now
    case.decided_by = signer.user_id
    case.decision_note = signer.reason
    session.flush()
    signature = signatures.sign(
        session,
        signer=signer,
        record_kind="safety_cases",
        record_id=case.id,
        action=decision.removesuffix("ed"),
        state=signatures.record_state(case),
    )
    _record(
        session,
        case,
        decision,
        signer.user_id,
        now,
        {"note": case.decision_note, "signature_id": signature.id, "meaning": signer.meaning},
    )
    session.flush()
    return case


def reclassify(
    session: Session, *, case_id: int, kind: str, signer: Signer, now: datetime | None = None
) -> SafetyCase:
    """Change what a case is (adverse event, product complaint, special situation), signed.

    A pen that leaked and hurt nobody is a product complaint, not an adverse event; the case
    keeps its clock and trail. Refused when the item already has a case of that kind.
    """
    if kind not in CASE_KINDS:
        raise DomainError(f"kind is '{kind}', expected one of {', '.join(CASE_KINDS)}")
    now = now or utc_now()
    case = get_case(session, case_id)
    if case.kind == kind:
        raise CaseStateError(f"safety case {case_id} is already {_KIND_NAMES[kind]}")
    other = session.scalar(
        select(SafetyCase.id).where(
            SafetyCase.feedback_item_id == case.feedback_item_id, SafetyCase.kind == kind
        )
    )
    if other is not None:
        raise CaseStateError(
            f"feedback item {case.feedback_item_id} already has {_KIND_NAMES[kind]} case "
            f"{other}: decide that one instead"
        )
    previous = case.kind
    case.kind = kind
    session.flush()
    signature = signatures.sign(
        session,
        signer=signer,
        record_kind="safety_cases",
        record_id=case.id,
        action="reclassify",
        state=signatures.record_state(case),
    )
    _record(
        session,
        case,
        "reclassified",
        signer.user_id,
        now,
        {
            "from": previous,
            "to": kind,
            "note": signer.reason,
            "signature_id": signature.id,
            "meaning": signer.meaning,
        },
    )
    session.flush()
    return case


def escalate_overdue(session: Session, *, now: datetime | None = None) -> list[SafetyCase]:
    """Raise the escalation level of open cases past their due time, once per business day late.

    Level 1 the moment a case is overdue, 2 a business day later, and so on; each raise is an
    ``escalated`` event, and notifies the Accountable and the Informed for ``safety_case`` in
    the RACI matrix (in the app, and by email where SMTP is configured).
    """
    now = now or utc_now()
    overdue = session.scalars(
        select(SafetyCase).where(SafetyCase.status == "open", SafetyCase.due_at < now)
    ).all()
    escalated = []
    for case in overdue:
        level = escalation_level(case.due_at, now, case.country_code)
        if level > case.escalation_level:
            case.escalation_level = level
            case.escalated_at = now
            notified = _notify_escalation(session, case, level)
            _record(session, case, "escalated", None, now, {"level": level, **notified})
            escalated.append(case)
    session.flush()
    return escalated


def _notify_escalation(session: Session, case: SafetyCase, level: int) -> dict[str, list[int]]:
    """Tell the RACI's Accountable (or, when the matrix names none, every PV officer) and its
    Informed that a case is late; returns who was told, for the case's trail.

    The message names the case, kind, product and clock but never the verbatim: emails leave
    the system, and the case page shows the text to those who may read it.
    """
    reporter_type = (
        session.scalar(
            select(Stakeholder.type).where(Stakeholder.id == case.reporter_stakeholder_id)
        )
        if case.reporter_stakeholder_id
        else None
    )
    area = (
        session.scalar(
            select(Product.therapeutic_area_code).where(Product.code == case.product_code)
        )
        if case.product_code
        else None
    )
    raci = governance.resolve(
        session,
        activity="safety_case",
        country=case.country_code,
        therapeutic_area=area,
        stakeholder_type=reporter_type,
    )
    accountable = people_of(session, raci.accountable) or active_users_with_roles(
        session, ("pv_officer",)
    )
    informed = sorted(set(people_of(session, raci.informed)) - set(accountable))
    product = case.product_written or case.product_code or "product not named"
    late = f"due {case.due_at:%Y-%m-%d %H:%M} UTC and not yet acknowledged"
    link = f"/safety/cases/{case.id}"
    notify(
        session,
        user_ids=accountable,
        subject=f"Safety case {case.id} is overdue (escalation level {level})",
        body=(
            f"A {_KIND_NAMES[case.kind]} case ({product}) was {late}. You are accountable for "
            "safety cases: make sure PV acknowledges it today."
        ),
        link=link,
    )
    notify(
        session,
        user_ids=informed,
        subject=f"For information: safety case {case.id} is overdue (level {level})",
        body=f"A {_KIND_NAMES[case.kind]} case ({product}) was {late}.",
        link=link,
    )
    return {"notified_accountable": sorted(set(accountable)), "notified_informed": informed}


_KIND_NAMES = {"ae": "adverse event", "pc": "product complaint", "srs": "special situation"}


def record_contact_permission(
    session: Session, *, response_id: int, allowed: bool, now: datetime | None = None
) -> list[SafetyCase]:
    """Store a survey respondent's answer to "may the safety team contact you?" on its cases."""
    now = now or utc_now()
    cases = list(session.scalars(select(SafetyCase).where(SafetyCase.response_id == response_id)))
    for case in cases:
        case.contact_permission = allowed
        case.contact_permission_at = now
        _record(session, case, "contact_permission", None, now, {"allowed": allowed})
    respondent = session.scalar(select(Response.stakeholder_id).where(Response.id == response_id))
    if cases and respondent is not None:
        # The answer is a consent like any other, so the person's consents (and their export)
        # show it, and a later "no" is the latest word for the purpose.
        session.add(
            Consent(
                stakeholder_id=respondent,
                purpose="safety_followup",
                channel_code=None,
                status="granted" if allowed else "withdrawn",
                recorded_at=now,
                source="survey safety follow-up question",
            )
        )
    session.flush()
    return cases


def _filtered(query: Select[Any], case_filter: CaseFilter, now: datetime) -> Select[Any]:
    if case_filter.status:
        if case_filter.status not in CASE_STATUSES:
            raise DomainError(
                f"status is '{case_filter.status}', expected one of {', '.join(CASE_STATUSES)}"
            )
        query = query.where(SafetyCase.status == case_filter.status)
    if case_filter.kind:
        if case_filter.kind not in CASE_KINDS:
            raise DomainError(
                f"kind is '{case_filter.kind}', expected one of {', '.join(CASE_KINDS)}"
            )
        query = query.where(SafetyCase.kind == case_filter.kind)
    if case_filter.overdue:
        query = query.where(SafetyCase.status == "open", SafetyCase.due_at < now)
    if case_filter.survey_id is not None:
        query = query.where(SafetyCase.survey_id == case_filter.survey_id)
    if case_filter.study_code:
        query = query.where(SafetyCase.study_code == case_filter.study_code)
    if case_filter.received_from is not None:
        query = query.where(SafetyCase.aware_at >= case_filter.received_from)
    if case_filter.received_to is not None:
        query = query.where(SafetyCase.aware_at < case_filter.received_to)
    return query


def list_cases(
    session: Session,
    *,
    case_filter: CaseFilter | None = None,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> tuple[list[SafetyCase], int]:
    """The PV queue: open cases first, most escalated and soonest due at the top."""
    now = now or utc_now()
    case_filter = case_filter or CaseFilter()
    query = _filtered(select(SafetyCase), case_filter, now)
    total = session.scalar(
        _filtered(select(func.count()).select_from(SafetyCase), case_filter, now)
    )
    open_first = (SafetyCase.status != "open").asc()
    rows = session.scalars(
        query.order_by(
            open_first, SafetyCase.escalation_level.desc(), SafetyCase.due_at, SafetyCase.id
        )
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), int(total or 0)


def all_cases(
    session: Session, *, case_filter: CaseFilter | None = None, now: datetime | None = None
) -> list[SafetyCase]:
    now = now or utc_now()
    query = _filtered(select(SafetyCase), case_filter or CaseFilter(), now)
    return list(session.scalars(query.order_by(SafetyCase.aware_at, SafetyCase.id)))


def mark_exported(
    session: Session, *, cases: Sequence[SafetyCase], user_id: int | None, fmt: str
) -> None:
    now = utc_now()
    for case in cases:
        if case.exported_at is None:
            case.exported_at = now
        _record(session, case, "exported", user_id, now, {"format": fmt})
    session.flush()
