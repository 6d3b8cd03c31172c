"""The responses and feedback behind a figure: the one place analytics show individual records.

Everything else in analytics is aggregate. This module returns record-level rows (who answered,
what they scored, what they wrote); ``responses_for_viewer`` passes them through
``cpxm.access.shield_analytics_rows``, which decides who is named and whose words are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import ibis
from sqlalchemy.orm import Session

from cpxm.access import Principal, shield_analytics_rows
from cpxm.access.confidential import confidential_survey_ids, refuse_confidential_figures
from cpxm.analytics.facts import Slice
from cpxm.analytics.metrics import OVERALL, MetricQuery, answers_for, validate_query
from cpxm.analytics.query import as_datetime, fetch, table
from cpxm.errors import FieldError, field_error


@dataclass(frozen=True)
class ResponseRow:
    response_id: int
    answered_at: datetime | None
    survey: str
    stakeholder_id: int | None
    stakeholder: str
    stakeholder_type: str | None
    question_type: str
    value: float
    comment: str | None
    # The feedback item the comment is: its provenance decides who may read it.
    comment_feedback_id: int | None = None
    # A patient's pseudonymous key, for roles that may not see identity (then no stakeholder_id).
    stakeholder_key: str | None = None


def period_bounds(key: str, grain: str) -> tuple[date, date]:
    """The first and last day of the period starting on ``key``."""
    start = date.fromisoformat(key)
    if grain == "week":
        end = start + timedelta(days=6)
    else:
        months = start.month - 1 + (1 if grain == "month" else 3)
        end = date(start.year + months // 12, months % 12 + 1, 1) - timedelta(days=1)
    return start, end


def narrowed(query: MetricQuery, *, segment_key: str | None, period_key: str | None) -> MetricQuery:
    """The query restricted to one segment value and/or one period of the report."""
    slice_ = query.slice
    if segment_key is not None and segment_key != OVERALL:
        if query.segment is None:
            raise FieldError(
                [field_error("segment_key", "segment_key needs a segment dimension", segment_key)]
            )
        slice_ = slice_.with_filter(query.segment, segment_key)
    if period_key is not None:
        if query.grain is None:
            raise FieldError([field_error("period_key", "period_key needs a grain", period_key)])
        try:
            start, end = period_bounds(period_key, query.grain)
        except ValueError:
            raise FieldError(
                [field_error("period_key", "period_key is a date, YYYY-MM-DD", period_key)]
            ) from None
        start = max(start, slice_.date_from) if slice_.date_from else start
        end = min(end, slice_.date_to) if slice_.date_to else end
        slice_ = Slice(slice_.filters, start, end)
    return MetricQuery(
        metric=query.metric,
        question_id=query.question_id,
        slice=slice_,
        min_n=query.min_n,
    )


def responses_behind(
    session: Session,
    *,
    query: MetricQuery,
    segment_key: str | None = None,
    period_key: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ResponseRow], int]:
    """The answers a figure counts (newest first) and how many there are, whole: only
    ``responses_for_viewer`` may hand them to a person."""
    narrowed_query = narrowed(query, segment_key=segment_key, period_key=period_key)
    scale = validate_query(session, narrowed_query)
    refuse_confidential_figures(
        session,
        survey_codes=narrowed_query.slice.values("survey"),
        question_id=narrowed_query.question_id,
    )
    answers = answers_for(narrowed_query, scale, ())
    confidential = confidential_survey_ids(session)
    if confidential:
        # Answers are records here: a confidential survey's never are, whoever asks.
        answers = answers.filter(~answers.survey_id.isin(confidential))
    total = int(fetch(session, answers.aggregate(n=answers.count()))[0]["n"])

    page = answers.order_by(ibis.desc("answered_at"), ibis.desc("response_id")).limit(
        limit, offset=offset
    )
    stakeholders = table("stakeholders")
    people = stakeholders.select(
        s_id=stakeholders.id, s_name=stakeholders.display_name, s_type=stakeholders.type
    )
    surveys = table("surveys")
    survey_names = surveys.select(sv_id=surveys.id, survey=surveys.name)
    feedback = table("feedback_items")
    # One comment per response, with the id of the item it is: the item's provenance (who,
    # which department, what the safety screening found) decides who may read it.
    latest = (
        feedback.filter(feedback.response_id.notnull())
        .group_by(f_response=feedback.response_id)
        .aggregate(comment_feedback_id=feedback.id.max())
    )
    texts = feedback.select(c_id=feedback.id, comment=feedback.text)
    comments = latest.join(texts, latest.comment_feedback_id == texts.c_id).select(
        "f_response", "comment", "comment_feedback_id"
    )
    detailed = (
        page.left_join(people, page.stakeholder_id == people.s_id)
        .join(survey_names, page.survey_id == survey_names.sv_id)
        .left_join(comments, page.response_id == comments.f_response)
        .select(
            "response_id",
            "answered_at",
            "survey",
            "stakeholder_id",
            "s_name",
            "s_type",
            "question_type",
            "value",
            "comment",
            "comment_feedback_id",
        )
        .order_by(ibis.desc("answered_at"), ibis.desc("response_id"))
    )
    rows = []
    for row in fetch(session, detailed):
        stakeholder_id = row["stakeholder_id"]
        rows.append(
            ResponseRow(
                response_id=int(row["response_id"]),
                answered_at=as_datetime(row["answered_at"]),
                survey=row["survey"],
                stakeholder_id=None if stakeholder_id is None else int(stakeholder_id),
                stakeholder="(anonymous)" if stakeholder_id is None else row["s_name"],
                stakeholder_type=row["s_type"],
                question_type=row["question_type"],
                value=float(row["value"]),
                comment=row["comment"],
                comment_feedback_id=None
                if row["comment_feedback_id"] is None
                else int(row["comment_feedback_id"]),
            )
        )
    return rows, total


def responses_for_viewer(
    session: Session, principal: Principal, **arguments: Any
) -> tuple[list[ResponseRow], int]:
    """``responses_behind`` as ``principal`` may see it (``cpxm.access`` decides and audits)."""
    rows, total = responses_behind(session, **arguments)
    return shield_analytics_rows(
        session, principal, rows, comment_field="comment", via="analytics drill-down"
    ), total
