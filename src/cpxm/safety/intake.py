"""Opening safety cases: from screening's reportable mentions, or by a PV officer's hand.

A case is one feedback item and kind; its clock, seriousness and hand-off due date are set as
it opens (``cpxm.safety.calendar``, ``cpxm.safety.seriousness``). Service functions take a
session, flush and never commit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
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
        version=1,
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
