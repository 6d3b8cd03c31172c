"""The responses and feedback behind a figure: the one place analytics show individual records.

Everything else in analytics is aggregate. This module returns record-level rows (who answered,
what they scored, what they wrote), so access policy applies here: patients and caregivers are
shown whole only when the viewer may see patient-identifiable data (and each such read is
audited); otherwise they appear under their pseudonym and their comments are withheld.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import ibis
from sqlalchemy.orm import Session

from cpxm.access import Domain, Principal, pseudonym
from cpxm.access.audit import record_read
from cpxm.analytics.facts import Slice
from cpxm.analytics.metrics import OVERALL, MetricQuery, answers_for, validate_query
from cpxm.analytics.query import as_datetime, fetch, table
from cpxm.errors import FieldError, field_error
from cpxm.stakeholders.models import PATIENT_IDENTIFIABLE_TYPES

WITHHELD = "(withheld: patient-identifiable)"


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
    show_patient_identity: bool = False,
) -> tuple[list[ResponseRow], int]:
    """The answers a figure counts (newest first) and how many there are.

    ``show_patient_identity`` must come from the viewer's access policy; without it patients
    and caregivers read as their type, and their comments are withheld.
    """
    narrowed_query = narrowed(query, segment_key=segment_key, period_key=period_key)
    scale = validate_query(session, narrowed_query)
    answers = answers_for(narrowed_query, scale, ())
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
    comments = (
        feedback.filter(feedback.response_id.notnull())
        .group_by(f_response=feedback.response_id)
        .aggregate(comment=feedback.text.max())
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
        )
        .order_by(ibis.desc("answered_at"), ibis.desc("response_id"))
    )
    rows = []
    for row in fetch(session, detailed):
        stakeholder_type = row["s_type"]
        hidden = stakeholder_type in PATIENT_IDENTIFIABLE_TYPES and not show_patient_identity
        if row["stakeholder_id"] is None:
            name = "(anonymous)"
        elif hidden:
            name = pseudonym(int(row["stakeholder_id"]))
        else:
            name = row["s_name"]
        rows.append(
            ResponseRow(
                response_id=int(row["response_id"]),
                answered_at=as_datetime(row["answered_at"]),
                survey=row["survey"],
                stakeholder_id=None if hidden else row["stakeholder_id"],
                stakeholder=name,
                stakeholder_type=stakeholder_type,
                question_type=row["question_type"],
                value=float(row["value"]),
                comment=WITHHELD if hidden and row["comment"] else row["comment"],
            )
        )
    return rows, total


def responses_for_viewer(
    session: Session, principal: Principal, **arguments: Any
) -> tuple[list[ResponseRow], int]:
    """``responses_behind`` as ``principal`` may see it: patients whole (and the read audited)
    only for roles with the patient-identifiable domain."""
    allowed = principal.can_see(Domain.PATIENT_IDENTIFIABLE)
    rows, total = responses_behind(session, show_patient_identity=allowed, **arguments)
    if allowed:
        record_read(
            session,
            principal,
            entity_type="stakeholders",
            entity_ids=sorted(
                {
                    row.stakeholder_id
                    for row in rows
                    if row.stakeholder_id is not None
                    and row.stakeholder_type in PATIENT_IDENTIFIABLE_TYPES
                }
            ),
            purpose="analytics drill-down",
        )
    return rows, total
