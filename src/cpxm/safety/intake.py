"""Opening safety cases: from screening's reportable mentions, or by a PV officer's hand.

A case is one feedback item and kind; its clock, seriousness and hand-off due date are set as
it opens (``cpxm.safety.calendar``, ``cpxm.safety.seriousness``). Service functions take a
session, flush and never commit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.errors import DomainError, NotFoundError
from cpxm.feedback.models import FeedbackItem
from cpxm.safety import seriousness, triage
from cpxm.safety.calendar import due_after_one_business_day, handoff_due
from cpxm.safety.models import CASE_KINDS, SafetyCase
from cpxm.safety.service import CaseStateError, record_event
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.models import Response
from cpxm.text.safety import SafetyMention
from cpxm.timeutil import utc_now
from cpxm.workspace.models import Product

# Reports of the same reporter, kind, product and event this many days apart (or fewer) are
# one case and its follow-up.
FOLLOW_UP_WINDOW_ENV = "CPXM_PV_FOLLOWUP_WINDOW_DAYS"
DEFAULT_FOLLOW_UP_DAYS = 30
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
        record_event(session, case, "opened", None, now, {"subtypes": case.subtypes})
        _link_if_follow_up(session, case, now)
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
    record_event(
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
    _link_if_follow_up(session, case, now)
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
    # Seriousness and the hand-off clock concern what goes to the safety database; a product
    # complaint goes to Quality (an injury it caused is its own AE case).
    criteria = seriousness.assess([item.text]) if kind != "pc" else []
    level = seriousness.level(criteria)
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
        seriousness=criteria,
        seriousness_level=level,
        seriousness_by="screening",
        handoff_due_at=None if kind == "pc" else handoff_due(aware_at, level, country),
        lot_number=lot_number(item.text) if kind == "pc" else None,
        version=1,
    )
    session.add(case)
    session.flush()
    return case


_LOT = re.compile(
    r"(?<!\w)(?:lot|batch|charge|lote|lotto|ロット)(?:\s*(?:no\.?|number|nr\.?|n°|#|num\.?))?"
    r"\s*[:#]?\s*([A-Z0-9](?:[A-Z0-9./-]{1,30}[A-Z0-9])?)",
    re.IGNORECASE,
)


def lot_number(text: str) -> str | None:
    """The lot or batch number a complaint gives ("lot AB1234", "batch no. 22-017"), if any."""
    for match in _LOT.finditer(text):
        candidate = match.group(1)
        if any(char.isdigit() for char in candidate):  # "batch of pens" is not a number
            return candidate[:60]
    return None


def _link_if_follow_up(session: Session, case: SafetyCase, now: datetime) -> None:
    master = follow_up_target(session, case=case)
    if master is not None:
        attach_follow_up(
            session, case=case, master=master, user_id=None, now=now, details={"automatic": True}
        )


def follow_up_window() -> timedelta:
    """How far apart two reports may be to count as one case and its follow-up."""
    configured = os.environ.get(FOLLOW_UP_WINDOW_ENV, "").strip()
    days = int(configured) if configured.isdigit() else DEFAULT_FOLLOW_UP_DAYS
    return timedelta(days=days)


def follow_up_target(session: Session, *, case: SafetyCase) -> SafetyCase | None:
    """The open case ``case`` follows up: same reporter, kind, product and event, in the window.

    Only a known reporter can be matched (an anonymous text could be anyone's); the product
    matches by catalogue code, or by the written name when neither has a code; the event when
    the two share an event term. Rejected cases are not followed up; the latest match wins, and
    a follow-up hangs off the first case of its chain.
    """
    if case.reporter_stakeholder_id is None or not case.event_terms:
        return None
    window = follow_up_window()
    candidates = session.scalars(
        select(SafetyCase)
        .where(
            SafetyCase.id != case.id,
            SafetyCase.reporter_stakeholder_id == case.reporter_stakeholder_id,
            SafetyCase.kind == case.kind,
            SafetyCase.status != "rejected",
            SafetyCase.aware_at >= case.aware_at - window,
            SafetyCase.aware_at <= case.aware_at + window,
        )
        .order_by(SafetyCase.aware_at.desc(), SafetyCase.id.desc())
    )
    events = {term.lower() for term in case.event_terms}
    for candidate in candidates:
        if _same_product(candidate, case) and events & {t.lower() for t in candidate.event_terms}:
            if candidate.follow_up_of is not None:
                return session.get(SafetyCase, candidate.follow_up_of)
            return candidate
    return None


def _same_product(one: SafetyCase, other: SafetyCase) -> bool:
    if one.product_code or other.product_code:
        return one.product_code == other.product_code
    return (one.product_written or "").lower() == (other.product_written or "").lower()


def attach_follow_up(
    session: Session,
    *,
    case: SafetyCase,
    master: SafetyCase,
    user_id: int | None,
    now: datetime,
    details: dict[str, Any],
) -> None:
    """Make ``case`` the next version of ``master``'s case, with an event on both."""
    latest = session.scalar(
        select(func.max(SafetyCase.version)).where(SafetyCase.follow_up_of == master.id)
    )
    case.follow_up_of = master.id
    case.version = max(latest or 1, master.version) + 1
    record_event(
        session,
        case,
        "linked_as_follow_up",
        user_id,
        now,
        {"of_case": master.id, "version": case.version, **details},
    )
    record_event(
        session,
        master,
        "follow_up_linked",
        user_id,
        now,
        {"case": case.id, "version": case.version, **details},
    )
    session.flush()


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


def link_follow_up(
    session: Session,
    *,
    case_id: int,
    master_case_id: int,
    user_id: int | None,
    reason: str | None,
    now: datetime | None = None,
) -> SafetyCase:
    """PV links a case to another as its follow-up (a new version of that case), saying why."""
    note = _reason(reason)
    now = now or utc_now()
    case = _get(session, case_id)
    master = _get(session, master_case_id)
    if master.follow_up_of is not None:
        master = _get(session, master.follow_up_of)  # follow-ups hang off the first case
    if session.scalar(select(SafetyCase.id).where(SafetyCase.follow_up_of == case.id).limit(1)):
        raise CaseStateError(f"safety case {case_id} has follow-ups of its own; unlink them first")
    if master.id == case.id:
        raise DomainError(f"safety case {case_id} cannot follow up itself")
    if case.follow_up_of is not None:
        raise CaseStateError(
            f"safety case {case_id} already follows up case {case.follow_up_of}; unlink it first"
        )
    if master.kind != case.kind:
        raise DomainError(
            f"safety case {case_id} is {case.kind} and case {master.id} is {master.kind}: "
            "a follow-up is of the same kind"
        )
    attach_follow_up(
        session, case=case, master=master, user_id=user_id, now=now, details={"reason": note}
    )
    return case


def unlink_follow_up(
    session: Session,
    *,
    case_id: int,
    user_id: int | None,
    reason: str | None,
    now: datetime | None = None,
) -> SafetyCase:
    """PV separates a follow-up from the case it was linked to: a case of its own again."""
    note = _reason(reason)
    now = now or utc_now()
    case = _get(session, case_id)
    if case.follow_up_of is None:
        raise CaseStateError(f"safety case {case_id} is not a follow-up")
    master = _get(session, case.follow_up_of)
    case.follow_up_of = None
    case.version = 1
    for target, event_type, details in (
        (case, "unlinked_from", {"of_case": master.id, "reason": note}),
        (master, "follow_up_unlinked", {"case": case.id, "reason": note}),
    ):
        record_event(session, target, event_type, user_id, now, details)
    session.flush()
    return case


def follow_ups(session: Session, case_id: int) -> list[SafetyCase]:
    """A case's follow-ups, by version."""
    return list(
        session.scalars(
            select(SafetyCase)
            .where(SafetyCase.follow_up_of == case_id)
            .order_by(SafetyCase.version, SafetyCase.id)
        )
    )


def _get(session: Session, case_id: int) -> SafetyCase:
    case = session.get(SafetyCase, case_id)
    if case is None:
        raise NotFoundError("safety case", case_id)
    return case


def _reason(reason: str | None) -> str:
    if not (reason and reason.strip()):
        raise DomainError("say why (reason), for the audit trail")
    return reason.strip()
