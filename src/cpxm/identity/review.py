"""What a person needs to decide a review pair: both records side by side, field by field.

The model compares normalised values (``cpxm.identity.normalise``), so agreement is judged on
those: ``Müller`` and ``MUELLER`` agree, ``+49 30 1234567`` and ``030 1234567`` agree. The raw
values are shown as each system stored them, so the person sees what the systems say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, String, cast, func, or_, select
from sqlalchemy.orm import Session

from cpxm.errors import DomainError
from cpxm.identity.models import MatchPair, MergeEvent, SourceRecord
from cpxm.identity.normalise import Normalised, normalise
from cpxm.textmatch import contains_text

# Compared field -> label, in the order the page shows them.
COMPARED_FIELDS = {
    "stakeholder_type": "Type",
    "first_name": "First name",
    "last_name": "Last name",
    "dob": "Date of birth",
    "email": "E-mail",
    "phone": "Phone",
    "address": "Street",
    "postal_code": "Postcode",
    "city": "City",
    "professional_id": "Professional id",
}


@dataclass(frozen=True)
class FieldComparison:
    label: str
    left: str | None
    right: str | None

    @property
    def verdict(self) -> str:
        """``agree``, ``disagree`` or ``missing`` (one side does not know)."""
        if self.left is None or self.right is None:
            return "missing"
        return "agree" if self.left == self.right else "disagree"


@dataclass(frozen=True)
class ReviewItem:
    pair: MatchPair
    left: SourceRecord
    right: SourceRecord
    fields: list[FieldComparison]

    @property
    def agreeing(self) -> int:
        return sum(1 for field in self.fields if field.verdict == "agree")

    @property
    def disagreeing(self) -> int:
        return sum(1 for field in self.fields if field.verdict == "disagree")


def compare_records(left: Normalised, right: Normalised) -> list[FieldComparison]:
    return [
        FieldComparison(label, getattr(left, name), getattr(right, name))
        for name, label in COMPARED_FIELDS.items()
    ]


REVIEW_SORTS = (
    ("likely", "Most likely first"),
    ("unlikely", "Least likely first"),
    ("newest", "Newest first"),
)


@dataclass(frozen=True)
class ReviewFilter:
    """Which pending pairs: ``q`` in either record's source id or attributes (a name, an email),
    ``conflicts`` only pairs of different stakeholder types."""

    q: str | None = None
    conflicts: bool = False
    sort: str = "likely"


def _pending(review_filter: ReviewFilter) -> Select[Any]:
    query = select(MatchPair).where(MatchPair.status == "pending")
    if review_filter.conflicts:
        query = query.where(MatchPair.type_conflict.is_not(None))
    if review_filter.q:
        text = review_filter.q.strip()
        found = select(SourceRecord.id).where(
            or_(
                contains_text(SourceRecord.source_id, text),
                # Attributes are JSON text with characters unescaped (``cpxm.db.store_json``).
                contains_text(cast(SourceRecord.attributes, String), text),
            )
        )
        query = query.where(
            or_(MatchPair.record_low_id.in_(found), MatchPair.record_high_id.in_(found))
        )
    return query


def _review_order(sort: str) -> list[Any]:
    orders: dict[str, list[Any]] = {
        "likely": [MatchPair.match_probability.desc(), MatchPair.id],
        "unlikely": [MatchPair.match_probability, MatchPair.id],
        "newest": [MatchPair.id.desc()],
    }
    if sort not in orders:
        raise DomainError(f"sort is '{sort}', expected one of {', '.join(orders)}")
    return orders[sort]


def review_items(
    session: Session, *, limit: int, offset: int, review_filter: ReviewFilter | None = None
) -> tuple[list[ReviewItem], int]:
    """Pending pairs (most likely first unless the filter says otherwise), each with both
    records compared field by field."""
    review_filter = review_filter or ReviewFilter()
    query = _pending(review_filter)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pairs = list(
        session.scalars(
            query.order_by(*_review_order(review_filter.sort)).limit(limit).offset(offset)
        )
    )
    ids = {pair.record_low_id for pair in pairs} | {pair.record_high_id for pair in pairs}
    records = {
        record.id: record
        for record in session.scalars(select(SourceRecord).where(SourceRecord.id.in_(ids)))
    }
    items = []
    for pair in pairs:
        left, right = records[pair.record_low_id], records[pair.record_high_id]
        fields = compare_records(
            normalise(left.id, left.source_system, left.attributes or {}),
            normalise(right.id, right.source_system, right.attributes or {}),
        )
        items.append(ReviewItem(pair=pair, left=left, right=right, fields=fields))
    return items, int(total)


def recent_decisions(session: Session, *, limit: int = 20) -> list[tuple[MatchPair, int | None]]:
    """Pairs people decided, latest first, with the merge an accepted pair made (to undo it)."""
    pairs = list(
        session.scalars(
            select(MatchPair)
            .where(MatchPair.status != "pending", MatchPair.decided_at.is_not(None))
            .order_by(MatchPair.decided_at.desc(), MatchPair.id.desc())
            .limit(limit)
        )
    )
    merges = dict(
        session.execute(
            select(MergeEvent.match_pair_id, MergeEvent.id).where(
                MergeEvent.match_pair_id.in_([pair.id for pair in pairs]),
                MergeEvent.undone_at.is_(None),
            )
        ).all()
    )
    return [(pair, merges.get(pair.id)) for pair in pairs]
