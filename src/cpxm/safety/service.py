"""Safety cases: opened from feedback, worked by PV officers, escalated when the clock runs out.

Service functions take a session, flush and never commit; the request or job owns the
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, cast, func, or_, select
from sqlalchemy.orm import Session

from cpxm.auth import signatures
from cpxm.auth.signatures import Signer
from cpxm.cases.notifications import active_users_with_roles, notify, people_of
from cpxm.errors import DomainError, NotFoundError
from cpxm.feedback.models import FeedbackItem
from cpxm.governance import service as governance
from cpxm.interactions.models import Interaction
from cpxm.safety import seriousness
from cpxm.safety.calendar import escalation_level, handoff_due
from cpxm.safety.models import CASE_KINDS, CASE_STATUSES, SafetyCase, SafetyCaseEvent
from cpxm.stakeholders.models import Consent, Stakeholder
from cpxm.surveys.models import Response
from cpxm.textmatch import contains_text, record_number
from cpxm.timeutil import utc_now
from cpxm.workspace.models import Product


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
    kinds: tuple[str, ...] = ()  # any of these kinds (with ``kind``, both must hold)
    serious: bool = False  # only cases with a seriousness criterion
    handoff_overdue: bool = False  # only cases not handed off by their hand-off due date
    # A case number, or words in the product, the event terms or the reporter's words.
    q: str | None = None


def record_event(
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
    record_event(session, case, "acknowledged", user_id, now, {"on_time": now <= case.due_at})
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
    record_event(
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
    # A product complaint goes to Quality (no seriousness, no hand-off clock); anything else
    # gets the hand-off clock its seriousness gives, from first awareness.
    if kind == "pc":
        case.seriousness, case.seriousness_level, case.handoff_due_at = [], 0, None
    elif case.handoff_due_at is None:
        case.handoff_due_at = handoff_due(case.aware_at, case.seriousness_level, case.country_code)
    session.flush()
    signature = signatures.sign(
        session,
        signer=signer,
        record_kind="safety_cases",
        record_id=case.id,
        action="reclassify",
        state=signatures.record_state(case),
    )
    record_event(
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
            record_event(session, case, "escalated", None, now, {"level": level, **notified})
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
    session: Session,
    *,
    response_id: int,
    allowed: bool,
    contact: dict[str, str] | None = None,
    now: datetime | None = None,
) -> list[SafetyCase]:
    """Store a survey respondent's answer to "may the safety team contact you?" on its cases.

    ``contact`` is what an anonymous respondent gave to be reached (name, email, phone): kept
    on the cases as the reporter's identity, which only the safety domain reads.
    """
    now = now or utc_now()
    details = {key: value.strip() for key, value in (contact or {}).items() if value.strip()}
    cases = list(session.scalars(select(SafetyCase).where(SafetyCase.response_id == response_id)))
    for case in cases:
        case.contact_permission = allowed
        case.contact_permission_at = now
        reachable = allowed and bool({"email", "phone"} & set(details))
        if reachable:
            case.reporter_identity = {**details, "source": "survey safety follow-up question"}
            case.has_reporter = True
        record_event(
            session,
            case,
            "contact_permission",
            None,
            now,
            {"allowed": allowed, "contact_details_given": reachable},
        )
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
    if case_filter.kinds:
        for kind in case_filter.kinds:
            if kind not in CASE_KINDS:
                raise DomainError(f"kind is '{kind}', expected one of {', '.join(CASE_KINDS)}")
        query = query.where(SafetyCase.kind.in_(case_filter.kinds))
    if case_filter.serious:
        query = query.where(SafetyCase.seriousness_level > 0)
    if case_filter.handoff_overdue:
        query = query.where(
            SafetyCase.status != "rejected",
            SafetyCase.handed_off_at.is_(None),
            SafetyCase.handoff_due_at < now,
        )
    if case_filter.q:
        text = case_filter.q.strip()
        words = [
            contains_text(SafetyCase.product_code, text),
            contains_text(SafetyCase.product_written, text),
            contains_text(cast(SafetyCase.event_terms, String), text),
            contains_text(SafetyCase.verbatim, text),
        ]
        if (number := record_number(text)) is not None:
            words.append(SafetyCase.id == number)
        query = query.where(or_(*words))
    return query


# How the queue can be ordered: PV works the most serious first; the others help reconcile.
CASE_SORTS = (
    ("priority", "Most serious first"),
    ("due", "Due soonest"),
    ("newest", "Newest first"),
    ("oldest", "Oldest first"),
)


def _order(sort: str) -> list[Any]:
    if sort == "due":
        return [SafetyCase.due_at, SafetyCase.id]
    if sort == "newest":
        return [SafetyCase.aware_at.desc(), SafetyCase.id.desc()]
    if sort == "oldest":
        return [SafetyCase.aware_at, SafetyCase.id]
    if sort != "priority":
        keys = ", ".join(key for key, _label in CASE_SORTS)
        raise DomainError(f"sort is '{sort}', expected one of {keys}")
    return [
        (SafetyCase.status != "open").asc(),
        SafetyCase.seriousness_level.desc(),
        SafetyCase.escalation_level.desc(),
        SafetyCase.due_at,
        SafetyCase.id,
    ]


def list_cases(
    session: Session,
    *,
    case_filter: CaseFilter | None = None,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
    sort: str = "priority",
) -> tuple[list[SafetyCase], int]:
    """The PV queue: by default open cases first; among them fatal or life-threatening, then
    other serious ones; then the most escalated and soonest due (``CASE_SORTS`` for others)."""
    now = now or utc_now()
    case_filter = case_filter or CaseFilter()
    query = _filtered(select(SafetyCase), case_filter, now)
    total = session.scalar(
        _filtered(select(func.count()).select_from(SafetyCase), case_filter, now)
    )
    rows = session.scalars(query.order_by(*_order(sort)).limit(limit).offset(offset)).all()
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
        record_event(session, case, "exported", user_id, now, {"format": fmt})
    session.flush()


def set_seriousness(
    session: Session,
    *,
    case_id: int,
    criteria: Sequence[str],
    user_id: int | None,
    reason: str | None,
    now: datetime | None = None,
) -> SafetyCase:
    """PV confirms or corrects the seriousness criteria (none: not serious), saying why.

    The hand-off due date follows the new level, still counted from first awareness.
    """
    try:
        chosen = seriousness.check_criteria(criteria)
    except ValueError as error:
        raise DomainError(str(error)) from None
    if not (reason and reason.strip()):
        raise DomainError("say why (reason), for the audit trail")
    now = now or utc_now()
    case = get_case(session, case_id)
    if case.kind == "pc" and chosen:
        raise DomainError(
            "a product complaint goes to Quality and has no seriousness; open an AE case for "
            "the harm it caused"
        )
    before = {"criteria": list(case.seriousness), "by": case.seriousness_by}
    case.seriousness = chosen
    case.seriousness_level = seriousness.level(chosen)
    case.seriousness_by = "pv"
    if case.kind != "pc":
        case.handoff_due_at = handoff_due(case.aware_at, case.seriousness_level, case.country_code)
    record_event(
        session,
        case,
        "seriousness_set",
        user_id,
        now,
        {"before": before, "criteria": chosen, "reason": reason.strip()},
    )
    session.flush()
    return case


def record_handoff(
    session: Session,
    *,
    case_id: int,
    reference: str,
    user_id: int | None,
    now: datetime | None = None,
) -> SafetyCase:
    """The case is in the safety database under ``reference``: its hand-off clock is met or not."""
    reference = reference.strip()
    if not reference:
        raise DomainError("give the safety database's case reference")
    now = now or utc_now()
    case = get_case(session, case_id)
    if case.kind == "pc":
        raise CaseStateError(f"safety case {case_id} is a product complaint: it goes to Quality")
    if case.status != "confirmed":
        raise CaseStateError(f"safety case {case_id} is {case.status}; confirm it first")
    if case.handed_off_at is not None:
        raise CaseStateError(
            f"safety case {case_id} was handed off already ({case.safety_db_reference})"
        )
    case.handed_off_at = now
    case.safety_db_reference = reference[:100]
    on_time = case.handoff_due_at is None or now <= case.handoff_due_at
    record_event(
        session, case, "handed_off", user_id, now, {"reference": reference, "on_time": on_time}
    )
    session.flush()
    return case


def intake_counts(
    session: Session,
    *,
    received_from: datetime,
    received_to: datetime,
    department: str | None = None,
    therapeutic_area: str | None = None,
) -> dict[str, int]:
    """How many safety cases of each kind (``CASE_KINDS``) were opened from feedback received
    in [``received_from``, ``received_to``): counts only, for reports outside PV. A department
    counts the feedback about its interactions; a therapeutic area, cases on its products."""
    query = (
        select(SafetyCase.kind, func.count())
        .where(SafetyCase.aware_at >= received_from, SafetyCase.aware_at < received_to)
        .group_by(SafetyCase.kind)
    )
    if department is not None:
        query = (
            query.join(FeedbackItem, FeedbackItem.id == SafetyCase.feedback_item_id)
            .join(Interaction, Interaction.id == FeedbackItem.interaction_id)
            .where(Interaction.department_code == department)
        )
    if therapeutic_area is not None:
        query = query.join(Product, Product.code == SafetyCase.product_code).where(
            Product.therapeutic_area_code == therapeutic_area
        )
    counts = dict.fromkeys(CASE_KINDS, 0)
    for kind, count in session.execute(query):
        counts[kind] = int(count)
    return counts
