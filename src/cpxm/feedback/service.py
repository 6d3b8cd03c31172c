"""Feedback in the store: record it, keep its analysis, and read it back as a role may see it.

The analysis itself is ``cpxm.text``; opening safety cases from it is ``cpxm.safety.screening``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, case, cast, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from cpxm.access import cells
from cpxm.db import one_of
from cpxm.errors import DomainError, FieldError, NotFoundError, field_error
from cpxm.feedback import writer
from cpxm.feedback.models import FEEDBACK_SOURCES, FeedbackAnalysis, FeedbackItem, FeedbackTheme
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Stakeholder
from cpxm.stakeholders.service import golden_ids
from cpxm.surveys.models import Response
from cpxm.text import ProductCatalogue, TextAnalysis, build_catalogue
from cpxm.text.themes import theme_labels
from cpxm.textmatch import contains_text, record_number
from cpxm.timeutil import to_naive_utc, utc_now
from cpxm.workspace.models import Channel, Product


def load_catalogue(session: Session) -> ProductCatalogue:
    """The product names to look for: the store's products plus the configured aliases."""
    rows = session.execute(select(Product.code, Product.name, Product.generic_name)).all()
    return build_catalogue((code, name, generic) for code, name, generic in rows)


def known_names(session: Session, stakeholder_ids: Iterable[int | None]) -> dict[int, list[str]]:
    """Names of the writers, so a text that signs with them is redacted even without a cue."""
    ids = {stakeholder_id for stakeholder_id in stakeholder_ids if stakeholder_id is not None}
    if not ids:
        return {}
    rows = session.execute(
        select(
            Stakeholder.id, Stakeholder.display_name, Stakeholder.first_name, Stakeholder.last_name
        ).where(one_of(session, Stakeholder.id, ids))
    ).all()
    names: dict[int, list[str]] = {}
    for stakeholder_id, display, first, last in rows:
        found = [display] if display and " " in display else []
        found += [name for name in (last, first) if name and len(name) >= 3]
        names[stakeholder_id] = found
    return names


def store_analysis(
    session: Session, *, item: FeedbackItem, analysis: TextAnalysis, now: datetime | None = None
) -> FeedbackAnalysis:
    """Keep ``analysis`` as the item's analysis (replacing an earlier one) and mark it done."""
    now = now or utc_now()
    session.execute(delete(FeedbackTheme).where(FeedbackTheme.feedback_item_id == item.id))
    existing = session.get(FeedbackAnalysis, item.id)
    record = existing or FeedbackAnalysis(feedback_item_id=item.id)
    record.language = analysis.language
    record.sentiment_label = analysis.sentiment.label
    record.sentiment_score = analysis.sentiment.score
    record.themes = analysis.themes
    record.redacted_text = analysis.redacted_text
    record.pii_kinds = analysis.pii_kinds
    record.safety_kinds = analysis.safety.kinds
    record.safety_contexts = analysis.safety.contexts
    record.safety_mentions = [mention.as_dict() for mention in analysis.safety.mentions]
    record.analysed_at = now
    record.error = None
    if existing is None:
        session.add(record)
    session.add_all(
        FeedbackTheme(feedback_item_id=item.id, theme_code=code) for code in analysis.themes
    )
    item.analysis_status = "done"
    if item.language is None and analysis.language:
        item.language = analysis.language
    return record


def store_analyses(
    session: Session,
    *,
    analysed: Sequence[tuple[FeedbackItem, TextAnalysis]],
    now: datetime | None = None,
) -> None:
    """``store_analysis`` for many items at once: a few statements per batch, not per item."""
    if not analysed:
        return
    now = now or utc_now()
    ids = [item.id for item, _ in analysed]
    session.flush()
    session.execute(
        delete(FeedbackTheme).where(one_of(session, FeedbackTheme.feedback_item_id, ids))
    )
    session.execute(
        delete(FeedbackAnalysis).where(one_of(session, FeedbackAnalysis.feedback_item_id, ids))
    )
    session.execute(
        insert(FeedbackAnalysis),
        [
            {
                "feedback_item_id": item.id,
                "language": analysis.language,
                "sentiment_label": analysis.sentiment.label,
                "sentiment_score": analysis.sentiment.score,
                "themes": analysis.themes,
                "redacted_text": analysis.redacted_text,
                "pii_kinds": analysis.pii_kinds,
                "safety_kinds": analysis.safety.kinds,
                "safety_contexts": analysis.safety.contexts,
                "safety_mentions": [mention.as_dict() for mention in analysis.safety.mentions],
                "analysed_at": now,
                "error": None,
            }
            for item, analysis in analysed
        ],
    )
    themes = [
        {"feedback_item_id": item.id, "theme_code": code}
        for item, analysis in analysed
        for code in analysis.themes
    ]
    if themes:
        session.execute(insert(FeedbackTheme), themes)
    # Already-loaded analyses would be stale after the Core statements above.
    for item, analysis in analysed:
        stale = session.identity_map.get(session.identity_key(FeedbackAnalysis, (item.id,)))
        if stale is not None:
            session.expunge(stale)
        item.analysis_status = "done"
        if item.language is None and analysis.language:
            item.language = analysis.language


def store_failure(session: Session, *, item: FeedbackItem, error: str) -> None:
    """An item the analysis could not handle: kept, marked failed, with the reason."""
    record = session.get(FeedbackAnalysis, item.id) or FeedbackAnalysis(feedback_item_id=item.id)
    record.analysed_at = utc_now()
    record.error = error
    session.add(record)
    item.analysis_status = "failed"


def pending_items(session: Session, *, limit: int) -> list[FeedbackItem]:
    """The oldest pending items, locked: on PostgreSQL a sweep running beside another (a worker
    that just started, the minute's sweep) skips the rows the other is analysing."""
    return list(
        session.scalars(
            select(FeedbackItem)
            .where(FeedbackItem.analysis_status == "pending")
            .order_by(FeedbackItem.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def count_pending(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(FeedbackItem)
            .where(FeedbackItem.analysis_status == "pending")
        )
        or 0
    )


def create_feedback(
    session: Session,
    *,
    source_kind: str,
    text: str,
    received_at: datetime | None = None,
    stakeholder_id: int | None = None,
    channel_code: str | None = None,
    language: str | None = None,
) -> FeedbackItem:
    """A new feedback item, pending analysis; unknown references are reported per field."""
    errors = []
    if source_kind not in FEEDBACK_SOURCES:
        errors.append(
            field_error(
                "source_kind",
                f"unknown source kind '{source_kind}'; allowed: {', '.join(FEEDBACK_SOURCES)}",
                source_kind,
                kind="unknown_code",
            )
        )
    if not text.strip():
        errors.append(field_error("text", "text is empty", text))
    if stakeholder_id is not None and session.get(Stakeholder, stakeholder_id) is None:
        errors.append(
            field_error("stakeholder_id", f"stakeholder {stakeholder_id} not found", stakeholder_id)
        )
    if channel_code is not None and session.get(Channel, channel_code) is None:
        errors.append(
            field_error(
                "channel_code",
                f"unknown channel code '{channel_code}'",
                channel_code,
                kind="unknown_code",
            )
        )
    if errors:
        raise FieldError(errors)
    if stakeholder_id is not None:
        # An id identity resolution merged is recorded on its golden record, as interactions are.
        stakeholder_id = golden_ids(session, stakeholder_ids=[stakeholder_id]).get(
            stakeholder_id, stakeholder_id
        )
    return writer.add_item(
        session,
        source_kind=source_kind,
        text=text,
        received_at=to_naive_utc(received_at) if received_at else utc_now(),
        stakeholder_id=stakeholder_id,
        channel_code=channel_code,
        language=language,
    )


@dataclass(frozen=True)
class FeedbackFilter:
    source_kind: str | None = None
    sentiment: str | None = None
    theme: str | None = None
    safety_kind: str | None = None
    stakeholder_id: int | None = None
    analysis_status: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    # Surveys whose comments the reader may not see as records (confidential ones:
    # cpxm.access.confidential decides).
    hidden_survey_ids: tuple[int, ...] = ()
    # Words in the text (in the redacted text with ``q_in_redacted``), or an item's number.
    q: str | None = None
    q_in_redacted: bool = False
    # Only these items (a search narrowed to the items whose words the reader may read).
    ids: tuple[int, ...] | None = None


def _filtered(query: Any, feedback_filter: FeedbackFilter) -> Any:  # any Select shape
    query = query.outerjoin(FeedbackAnalysis, FeedbackAnalysis.feedback_item_id == FeedbackItem.id)
    if feedback_filter.source_kind:
        query = query.where(FeedbackItem.source_kind == feedback_filter.source_kind)
    if feedback_filter.sentiment:
        query = query.where(FeedbackAnalysis.sentiment_label == feedback_filter.sentiment)
    if feedback_filter.theme:
        query = query.where(
            FeedbackItem.id.in_(
                select(FeedbackTheme.feedback_item_id).where(
                    FeedbackTheme.theme_code == feedback_filter.theme
                )
            )
        )
    if feedback_filter.safety_kind:
        # JSON list membership, portable across SQLite and PostgreSQL: the kinds are a short,
        # fixed vocabulary, so a quoted-substring match on the JSON text is exact.
        query = query.where(
            func.coalesce(cast(FeedbackAnalysis.safety_kinds, Text), "").contains(
                f'"{feedback_filter.safety_kind}"'
            )
        )
    if feedback_filter.stakeholder_id is not None:
        query = query.where(FeedbackItem.stakeholder_id == feedback_filter.stakeholder_id)
    if feedback_filter.analysis_status:
        query = query.where(FeedbackItem.analysis_status == feedback_filter.analysis_status)
    if feedback_filter.received_from is not None:
        query = query.where(FeedbackItem.received_at >= to_naive_utc(feedback_filter.received_from))
    if feedback_filter.received_to is not None:
        query = query.where(FeedbackItem.received_at < to_naive_utc(feedback_filter.received_to))
    if feedback_filter.hidden_survey_ids:
        hidden = select(Response.id).where(
            Response.survey_id.in_(feedback_filter.hidden_survey_ids)
        )
        query = query.where(
            or_(FeedbackItem.response_id.is_(None), FeedbackItem.response_id.not_in(hidden))
        )
    if feedback_filter.q:
        text = feedback_filter.q.strip()
        words = (
            FeedbackAnalysis.redacted_text if feedback_filter.q_in_redacted else FeedbackItem.text
        )
        matches = [contains_text(words, text)]
        if (number := record_number(text)) is not None:
            matches.append(FeedbackItem.id == number)
        query = query.where(or_(*matches))
    return query


def _narrowed(session: Session, query: Any, feedback_filter: FeedbackFilter) -> Any:
    query = _filtered(query, feedback_filter)
    if feedback_filter.ids is not None:
        query = query.where(one_of(session, FeedbackItem.id, feedback_filter.ids))
    return query


FEEDBACK_SORTS = (
    ("newest", "Newest first"),
    ("oldest", "Oldest first"),
    ("negative", "Most negative first"),
    ("positive", "Most positive first"),
)


def _feedback_order(sort: str) -> list[Any]:
    if sort == "oldest":
        return [FeedbackItem.received_at, FeedbackItem.id]
    if sort in ("negative", "positive"):
        score = FeedbackAnalysis.sentiment_score
        # Items not analysed yet (no score) come last either way.
        return [
            score.is_(None),
            score.asc() if sort == "negative" else score.desc(),
            FeedbackItem.received_at.desc(),
            FeedbackItem.id.desc(),
        ]
    if sort != "newest":
        keys = ", ".join(key for key, _label in FEEDBACK_SORTS)
        raise DomainError(f"sort is '{sort}', expected one of {keys}")
    return [FeedbackItem.received_at.desc(), FeedbackItem.id.desc()]


def matching_feedback_ids(session: Session, *, feedback_filter: FeedbackFilter) -> list[int]:
    """Every item matching the filter, by number (a search narrows these by who may read)."""
    return list(
        session.scalars(
            _filtered(select(FeedbackItem.id), feedback_filter).order_by(FeedbackItem.id)
        )
    )


def list_feedback(
    session: Session,
    *,
    feedback_filter: FeedbackFilter | None = None,
    limit: int = 50,
    offset: int = 0,
    sort: str = "newest",
) -> tuple[list[tuple[FeedbackItem, FeedbackAnalysis | None]], int]:
    """A page of feedback, newest first unless ``sort`` says otherwise (``FEEDBACK_SORTS``)."""
    feedback_filter = feedback_filter or FeedbackFilter()
    total = session.scalar(_narrowed(session, select(func.count(FeedbackItem.id)), feedback_filter))
    rows = session.execute(
        _narrowed(session, select(FeedbackItem, FeedbackAnalysis), feedback_filter)
        .order_by(*_feedback_order(sort))
        .limit(limit)
        .offset(offset)
    ).all()
    return [(item, analysis) for item, analysis in rows], int(total or 0)


def get_feedback(
    session: Session, feedback_id: int
) -> tuple[FeedbackItem, FeedbackAnalysis | None]:
    item = session.get(FeedbackItem, feedback_id)
    if item is None:
        raise NotFoundError("feedback item", feedback_id)
    return item, session.get(FeedbackAnalysis, feedback_id)


def theme_summary(
    session: Session,
    *,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    department: str | None = None,
    therapeutic_area: str | None = None,
) -> list[tuple[str, str, int | None, int | None]]:
    """(theme code, label, items, negative items) for every theme, most mentioned first; a
    count that would describe fewer than the workspace's minimum cell size is ``None``.
    Optionally only feedback received in [``received_from``, ``received_to``) about an
    interaction of one department or therapeutic area (the monthly digest's audiences)."""
    labels = theme_labels()
    query = (
        select(
            FeedbackTheme.theme_code,
            func.count(),
            func.sum(case((FeedbackAnalysis.sentiment_label == "negative", 1), else_=0)),
        )
        .join(FeedbackAnalysis, FeedbackAnalysis.feedback_item_id == FeedbackTheme.feedback_item_id)
        .group_by(FeedbackTheme.theme_code)
        .order_by(func.count().desc())
    )
    if received_from or received_to or department or therapeutic_area:
        query = query.join(FeedbackItem, FeedbackItem.id == FeedbackTheme.feedback_item_id)
        if received_from is not None:
            query = query.where(FeedbackItem.received_at >= received_from)
        if received_to is not None:
            query = query.where(FeedbackItem.received_at < received_to)
        if department or therapeutic_area:
            query = query.join(Interaction, Interaction.id == FeedbackItem.interaction_id)
            if department:
                query = query.where(Interaction.department_code == department)
            if therapeutic_area:
                query = query.where(Interaction.therapeutic_area_code == therapeutic_area)
    rows = session.execute(query).all()
    floor = cells.min_cell_size(session)
    return [
        (
            code,
            labels.get(code, code),
            *cells.split_counts(int(count), int(negative or 0), min_n=floor),
        )
        for code, count, negative in rows
    ]


def _suppressed(items: int, negative: int, floor: int) -> tuple[int | None, int | None]:
    return cells.split_counts(items, negative, min_n=floor)


def sources() -> Sequence[str]:
    return FEEDBACK_SOURCES
