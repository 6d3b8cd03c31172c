"""The PV triage list: every safety mention that opened no case, until PV decides on it.

Screening opens a case only for what happened to a real person (see ``cpxm.text.safety``). What
it screens out (negated, hypothetical, about another person, historical, too uncertain) is
kept here, one entry per feedback item and kind, so PV sees the sentence and the reason and
either opens a case from it or dismisses it with a reason. Both actions are recorded on the
entry (who, when, why) and, for a request or a command run with a token, in the audit log.

Service functions take a session, flush and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, cast, func, or_, select
from sqlalchemy.orm import Session

from cpxm.errors import DomainError, NotFoundError
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.safety.models import (
    CASE_KINDS,
    TRIAGE_REASONS,
    TRIAGE_STATUSES,
    SafetyCase,
    SafetyTriageItem,
)
from cpxm.text.safety import SafetyMention
from cpxm.textmatch import contains_text, record_number
from cpxm.timeutil import utc_now


class TriageStateError(DomainError):
    status_code = 409


@dataclass(frozen=True)
class TriageFilter:
    """Which entries: ``q`` finds a part of the sentence, the words found or the product (as
    coded or as written), or an entry or feedback number (``#12``)."""

    status: str | None = "pending"
    reason: str | None = None
    kind: str | None = None
    product_code: str | None = None
    source_kind: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    q: str | None = None


# The list's sorts (key, label), the default first: PV works the newest mentions first, as the
# reporting clock of a case opened from one runs from when it was received.
TRIAGE_SORTS = (
    ("newest", "Newest first"),
    ("oldest", "Oldest first"),
    ("product", "Product, then newest"),
)


def mention_reason(mention: dict[str, Any]) -> str:
    """Why a mention opened no case: the detector's reason, else its context (or
    ``low_confidence`` when the context would have been reportable)."""
    reason = mention.get("reason")
    if reason in TRIAGE_REASONS:
        return str(reason)
    context = mention.get("context")
    return str(context) if context in TRIAGE_REASONS else "low_confidence"


def record_screened_out(
    session: Session,
    *,
    item: FeedbackItem,
    mentions: Sequence[SafetyMention],
    now: datetime | None = None,
) -> list[SafetyTriageItem]:
    """Put each kind in ``mentions`` that has no case for ``item`` on the triage list."""
    if not mentions:
        return []
    now = now or utc_now()
    with_case = set(
        session.scalars(select(SafetyCase.kind).where(SafetyCase.feedback_item_id == item.id))
    )
    listed = set(
        session.scalars(
            select(SafetyTriageItem.kind).where(SafetyTriageItem.feedback_item_id == item.id)
        )
    )
    added = []
    for kind in CASE_KINDS:
        of_kind = [mention.as_dict() for mention in mentions if mention.kind == kind]
        if not of_kind or kind in with_case or kind in listed:
            continue
        first = of_kind[0]
        named = next((mention for mention in of_kind if mention["product_code"]), first)
        entry = SafetyTriageItem(
            feedback_item_id=item.id,
            kind=kind,
            reason=mention_reason(first),
            reasons=sorted({mention_reason(mention) for mention in of_kind}),
            sentence=first["sentence"],
            term=str(first["term"])[:200],
            product_code=named["product_code"],
            product_written=named["product_written"],
            source_kind=item.source_kind,
            received_at=item.received_at,
            mentions=of_kind,
            created_at=now,
            status="pending",
        )
        session.add(entry)
        added.append(entry)
    session.flush()
    return added


def _check(value: str | None, allowed: Sequence[str], name: str) -> None:
    if value is not None and value not in allowed:
        raise DomainError(f"{name} is '{value}', expected one of {', '.join(allowed)}")


def _filtered(query: Select[Any], triage_filter: TriageFilter) -> Select[Any]:
    _check(triage_filter.status, TRIAGE_STATUSES, "status")
    _check(triage_filter.reason, TRIAGE_REASONS, "reason")
    _check(triage_filter.kind, CASE_KINDS, "kind")
    if triage_filter.status:
        query = query.where(SafetyTriageItem.status == triage_filter.status)
    if triage_filter.reason:
        # Any of the entry's reasons (a JSON list of fixed words, so its text is exact on
        # both engines); the value was checked against TRIAGE_REASONS above.
        query = query.where(
            cast(SafetyTriageItem.reasons, String).like(f'%"{triage_filter.reason}"%')
        )
    if triage_filter.kind:
        query = query.where(SafetyTriageItem.kind == triage_filter.kind)
    if triage_filter.product_code:
        query = query.where(SafetyTriageItem.product_code == triage_filter.product_code)
    if triage_filter.source_kind:
        query = query.where(SafetyTriageItem.source_kind == triage_filter.source_kind)
    if triage_filter.received_from is not None:
        query = query.where(SafetyTriageItem.received_at >= triage_filter.received_from)
    if triage_filter.received_to is not None:
        query = query.where(SafetyTriageItem.received_at < triage_filter.received_to)
    if triage_filter.q and triage_filter.q.strip():
        text = triage_filter.q.strip()
        words = [
            contains_text(SafetyTriageItem.sentence, text),
            contains_text(SafetyTriageItem.term, text),
            contains_text(SafetyTriageItem.product_code, text),
            contains_text(SafetyTriageItem.product_written, text),
        ]
        if (number := record_number(text)) is not None:
            words.append(SafetyTriageItem.id == number)
            words.append(SafetyTriageItem.feedback_item_id == number)
        query = query.where(or_(*words))
    return query


def _triage_order(sort: str) -> list[Any]:
    orders: dict[str, list[Any]] = {
        "newest": [SafetyTriageItem.received_at.desc(), SafetyTriageItem.id.desc()],
        "oldest": [SafetyTriageItem.received_at, SafetyTriageItem.id],
        "product": [
            SafetyTriageItem.product_code.is_(None),
            SafetyTriageItem.product_code,
            SafetyTriageItem.received_at.desc(),
            SafetyTriageItem.id.desc(),
        ],
    }
    if sort not in orders:
        raise DomainError(f"sort is '{sort}', expected one of {', '.join(orders)}")
    return orders[sort]


def list_triage(
    session: Session,
    *,
    triage_filter: TriageFilter | None = None,
    limit: int = 50,
    offset: int = 0,
    sort: str = "newest",
) -> tuple[list[SafetyTriageItem], int]:
    """One page of the triage list, newest first unless ``sort`` (one of
    :data:`TRIAGE_SORTS`) says otherwise, and how many match in all."""
    triage_filter = triage_filter or TriageFilter()
    total = session.scalar(
        _filtered(select(func.count()).select_from(SafetyTriageItem), triage_filter)
    )
    rows = session.scalars(
        _filtered(select(SafetyTriageItem), triage_filter)
        .order_by(*_triage_order(sort))
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


def triage_counts(session: Session) -> dict[str, int]:
    """Pending entries per reason, for the page's summary."""
    rows = session.execute(
        select(SafetyTriageItem.reason, func.count())
        .where(SafetyTriageItem.status == "pending")
        .group_by(SafetyTriageItem.reason)
    )
    return {reason: int(count) for reason, count in rows}


def get_triage_item(session: Session, triage_id: int) -> SafetyTriageItem:
    entry = session.get(SafetyTriageItem, triage_id)
    if entry is None:
        raise NotFoundError("triage entry", triage_id)
    return entry


def _pending(session: Session, triage_id: int) -> SafetyTriageItem:
    entry = get_triage_item(session, triage_id)
    if entry.status != "pending":
        raise TriageStateError(f"triage entry {triage_id} is already {entry.status}")
    return entry


def _reason_given(note: str | None, what: str) -> str:
    if not (note and note.strip()):
        raise DomainError(f"say why you {what} (reason), for the audit trail")
    return note.strip()


def dismiss(
    session: Session,
    *,
    triage_id: int,
    user_id: int | None,
    reason: str | None,
    now: datetime | None = None,
) -> SafetyTriageItem:
    """PV agrees no case is needed: recorded with who, when and why."""
    note = _reason_given(reason, "dismiss it")
    entry = _pending(session, triage_id)
    entry.status = "dismissed"
    entry.resolved_at = now or utc_now()
    entry.resolved_by = user_id
    entry.resolution_note = note
    session.flush()
    return entry


def resolve_by_case(
    session: Session,
    *,
    case: SafetyCase,
    user_id: int | None,
    note: str,
    now: datetime,
) -> SafetyTriageItem | None:
    """Close the triage entry (if any) for a case opened by hand."""
    entry = session.scalar(
        select(SafetyTriageItem).where(
            SafetyTriageItem.feedback_item_id == case.feedback_item_id,
            SafetyTriageItem.kind == case.kind,
        )
    )
    if entry is None or entry.status == "case_opened":
        return entry
    entry.status = "case_opened"
    entry.resolved_at = now
    entry.resolved_by = user_id
    entry.resolution_note = note
    entry.case_id = case.id
    return entry


def stored_mentions(session: Session, feedback_item_id: int) -> list[dict[str, Any]]:
    """The mentions screening stored for an item (empty when it found none or is pending)."""
    mentions = session.scalar(
        select(FeedbackAnalysis.safety_mentions).where(
            FeedbackAnalysis.feedback_item_id == feedback_item_id
        )
    )
    return list(mentions or [])
