"""What a person needs to decide a review pair: both records side by side, field by field.

The model compares normalised values (``cpxm.identity.normalise``), so agreement is judged on
those: ``Müller`` and ``MUELLER`` agree, ``+49 30 1234567`` and ``030 1234567`` agree. The raw
values are shown as each system stored them, so the person sees what the systems say.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.identity.models import MatchPair, MergeEvent, SourceRecord
from cpxm.identity.normalise import Normalised, normalise
from cpxm.identity.service import list_review

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


def review_items(session: Session, *, limit: int, offset: int) -> tuple[list[ReviewItem], int]:
    """Pending pairs, most likely first, each with both records compared field by field."""
    pairs, total = list_review(session, limit=limit, offset=offset)
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
    return items, total


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
