"""Silent disengagement: stakeholders whose contact with the company fell away without a word.

A detractor who says so gets a case; one who simply stops engaging does not. Per stakeholder,
interactions in the last ``recent_days`` before ``as_of`` are compared with the
``baseline_days`` before that, as rates per day. Flagged: a baseline of at least
``min_baseline`` interactions (so a drop is evidence, not noise), a recent rate at most
``max_ratio`` of it, no complete survey response in the recent window, and never a detractor
NPS answer (0-6): they did not tell us. People who object to profiling (GDPR Art. 21) are left
out, neither checked nor flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

import ibis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.access import Principal, hidden_person_types, shield_analytics_rows
from cpxm.access.purposes import objecting
from cpxm.analytics.query import as_datetime, fetch, table
from cpxm.errors import FieldError, field_error
from cpxm.interactions.models import Interaction
from cpxm.timeutil import as_aware_utc

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class DisengagementQuery:
    recent_days: int = 120
    baseline_days: int = 365
    max_ratio: float = 0.35  # recent rate / baseline rate
    min_baseline: int = 12  # interactions in the baseline window
    stakeholder_type: str | None = None
    as_of: date | None = None  # default: the day of the latest interaction
    limit: int = 500
    exclude_types: tuple[str, ...] = ()  # stakeholder types the viewer may not see


@dataclass(frozen=True)
class SilentStakeholder:
    stakeholder_id: int
    stakeholder_type: str
    baseline: int  # interactions in the baseline window
    recent: int  # interactions in the recent window
    rate_ratio: float  # recent rate per day / baseline rate per day
    lowest_nps: float | None  # their lowest NPS answer ever (None: never answered)
    last_response_at: datetime | None  # UTC


@dataclass(frozen=True)
class SilentDisengagement:
    query: DisengagementQuery
    as_of: date
    checked: int  # stakeholders with enough baseline contact to judge
    flagged: list[SilentStakeholder]  # steepest drop first, at most query.limit


def _aware(moment: datetime | None) -> datetime | None:
    # The store keeps naive UTC; JSON readers need the offset (RFC 3339).
    return as_aware_utc(moment) if moment is not None else None


def _validate(query: DisengagementQuery) -> None:
    errors = []
    if not 7 <= query.recent_days <= 730:
        errors.append(field_error("recent_days", "between 7 and 730", query.recent_days))
    if not 7 <= query.baseline_days <= 1460:
        errors.append(field_error("baseline_days", "between 7 and 1460", query.baseline_days))
    if not 0 <= query.max_ratio < 1:
        errors.append(field_error("max_ratio", "at least 0 and below 1", query.max_ratio))
    # Bounded above too: a number beyond 64 bits cannot even be compared in the query.
    if not 1 <= query.min_baseline <= 1_000_000:
        errors.append(field_error("min_baseline", "between 1 and 1000000", query.min_baseline))
    if not 1 <= query.limit <= 10_000:
        errors.append(field_error("limit", "between 1 and 10000", query.limit))
    if errors:
        raise FieldError(errors)


def silent_disengagement(session: Session, query: DisengagementQuery) -> SilentDisengagement:
    """Stakeholders whose interaction rate dropped sharply while they stayed silent."""
    _validate(query)
    as_of = query.as_of
    if as_of is None:
        latest = session.scalar(select(func.max(Interaction.occurred_at)))
        as_of = latest.date() if latest is not None else date.today()
    end = datetime.combine(as_of + timedelta(days=1), time.min)
    recent_start = end - timedelta(days=query.recent_days)
    baseline_start = recent_start - timedelta(days=query.baseline_days)

    interactions = table("interactions")
    window = interactions.filter(
        interactions.occurred_at >= ibis.literal(baseline_start),
        interactions.occurred_at < ibis.literal(end),
    )
    is_recent = window.occurred_at >= ibis.literal(recent_start)
    per_person = window.group_by(stakeholder_id=window.stakeholder_id).aggregate(
        recent=is_recent.ifelse(1, 0).sum(), baseline=is_recent.ifelse(0, 1).sum()
    )
    judged = per_person.filter(per_person.baseline >= query.min_baseline)
    # recent / recent_days <= max_ratio * baseline / baseline_days, without dividing.
    dropped = judged.filter(
        judged.recent * query.baseline_days <= query.max_ratio * query.recent_days * judged.baseline
    )

    responses = table("responses")
    complete = responses.filter(responses.status == "complete", responses.stakeholder_id.notnull())
    answered_at = complete.submitted_at.fill_null(complete.started_at)
    recently = complete.filter(answered_at >= ibis.literal(recent_start)).stakeholder_id
    last_response = complete.group_by(r_stakeholder=complete.stakeholder_id).aggregate(
        last_response_at=answered_at.max()
    )
    answers = table("answers")
    questions = table("questions")
    nps = answers.filter(
        answers.question_id.isin(questions.filter(questions.question_type == "nps").id),
        answers.value_number.between(0, 10),
    )
    scored = nps.join(complete, nps.response_id == complete.id)
    lowest = scored.group_by(n_stakeholder=scored.stakeholder_id).aggregate(
        lowest_nps=scored.value_number.min()
    )
    stakeholders = table("stakeholders")
    people = stakeholders.select(p_id=stakeholders.id, stakeholder_type=stakeholders.type)
    if query.stakeholder_type is not None:
        people = people.filter(people.stakeholder_type == query.stakeholder_type)
    if query.exclude_types:
        people = people.filter(~people.stakeholder_type.isin(query.exclude_types))
    # Profiling: people who object (GDPR Art. 21) are not judged at all.
    objectors = sorted(objecting(session))
    if objectors:
        people = people.filter(~people.p_id.isin(objectors))

    silent = (
        dropped.filter(~dropped.stakeholder_id.isin(recently))
        .join(people, dropped.stakeholder_id == people.p_id)
        .left_join(lowest, dropped.stakeholder_id == lowest.n_stakeholder)
        .left_join(last_response, dropped.stakeholder_id == last_response.r_stakeholder)
    )
    silent = silent.filter(silent.lowest_nps.isnull() | (silent.lowest_nps >= 7))
    ratio = (silent.recent * query.baseline_days) / (silent.baseline * query.recent_days)
    listed = (
        silent.select(
            "stakeholder_id",
            "stakeholder_type",
            "baseline",
            "recent",
            "lowest_nps",
            "last_response_at",
            rate_ratio=ratio,
        )
        .order_by(ibis.asc("rate_ratio"), ibis.desc("baseline"), ibis.asc("stakeholder_id"))
        .limit(query.limit)
    )
    checked_people = judged.join(people, judged.stakeholder_id == people.p_id)
    (checked,) = fetch(session, checked_people.aggregate(n=checked_people.count()))
    flagged = [
        SilentStakeholder(
            stakeholder_id=int(row["stakeholder_id"]),
            stakeholder_type=str(row["stakeholder_type"]),
            baseline=int(row["baseline"]),
            recent=int(row["recent"]),
            rate_ratio=float(row["rate_ratio"]),
            lowest_nps=float(row["lowest_nps"]) if row["lowest_nps"] is not None else None,
            last_response_at=_aware(as_datetime(row["last_response_at"])),
        )
        for row in fetch(session, listed)
    ]
    return SilentDisengagement(query, as_of, int(checked["n"] or 0), flagged)


def silent_for_viewer(
    session: Session, principal: Principal, query: DisengagementQuery
) -> SilentDisengagement:
    """The list as ``principal`` may see it: people of the types ``cpxm.access`` hides from the
    role are left out (a profiling list of pseudonyms would still single them out), and the reads
    of those shown are audited."""
    hidden = hidden_person_types(principal)
    if hidden:
        query = replace(query, exclude_types=tuple(sorted({*query.exclude_types, *hidden})))
    result = silent_disengagement(session, query)
    flagged = shield_analytics_rows(
        session, principal, result.flagged, comment_field=None, via="analytics silent disengagement"
    )
    return replace(result, flagged=flagged)
