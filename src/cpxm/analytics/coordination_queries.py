"""The coordination page's queries, shared by the page (over the facts) and the summary it
keeps (:mod:`cpxm.analytics.coordination_summary`), so one expression defines each figure.

A ping-pong episode is N or more distinct departments contacting one stakeholder (outbound)
within D days. It is found without a self-join: ordered by time per stakeholder, a running
maximum per department keeps the last time each department made contact, and a contact is in
an episode when at least N of those times fall in the D days up to it. Consecutive such contacts
less than D days apart are one episode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir

from cpxm.analytics.facts import EMPLOYEE_SURVEY_KINDS, GRAINS, NONE_KEY, Slice
from cpxm.analytics.query import table
from cpxm.errors import FieldError, field_error

SECONDS_PER_DAY = 86_400
PRESSURE_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 5), (6, 9), (10, 10_000))
BUCKET_LABELS = tuple(
    [f"{low}" if low == high else f"{low}-{high}" for low, high in PRESSURE_BUCKETS[:-1]]
    + [f"{PRESSURE_BUCKETS[-1][0]}+"]
)
# A respondent's or contacted stakeholder's type and country: the summary's cells are kept per
# these, the page's two filters.
PEOPLE_COLUMNS = ("stakeholder_type", "country_code")


@dataclass(frozen=True)
class CoordinationQuery:
    min_departments: int = 3  # N
    window_days: int = 7  # D
    grain: str = "month"
    slice: Slice = field(default_factory=Slice)  # stakeholder filters and the date range
    outcome_survey: str | None = None  # default: every NPS question outside employee surveys
    as_of: date | None = None  # "now" for the affected list; default: the latest contact
    top: int = 25


def outbound(query: CoordinationQuery, *, dated: bool = True) -> ir.Table:
    """Outbound contacts of the sliced stakeholders (stakeholder filters and dates only)."""
    interactions = table("interactions")
    contacts = interactions.filter(interactions.direction == "outbound").select(
        "stakeholder_id", "occurred_at", "department_code", "channel_code"
    )
    if dated and query.slice.date_from is not None:
        start = datetime.combine(query.slice.date_from, time.min)
        contacts = contacts.filter(contacts.occurred_at >= ibis.literal(start))
    if dated and query.slice.date_to is not None:
        end = datetime.combine(query.slice.date_to + timedelta(days=1), time.min)
        contacts = contacts.filter(contacts.occurred_at < ibis.literal(end))
    return stakeholder_filter(contacts, query.slice)


def stakeholder_filter(relation: ir.Table, slice_: Slice) -> ir.Table:
    columns = {"stakeholder_type": "type", "country": "country_code", "specialty": "specialty"}
    wanted = [(columns[d], value) for d, value in slice_.filters if d in columns]
    unsupported = [d for d, _ in slice_.filters if d not in columns]
    if unsupported:
        raise FieldError(
            [field_error(d, "coordination filters by stakeholder_type, country or specialty", d)
             for d in unsupported]
        )  # fmt: skip
    if not wanted:
        return relation
    stakeholders = table("stakeholders")
    chosen = stakeholders.filter(
        *[
            stakeholders[column].isnull() if value == NONE_KEY else stakeholders[column] == value
            for column, value in wanted
        ]
    ).id
    return relation.filter(relation.stakeholder_id.isin(chosen))


def episode_contacts(
    departments: list[str], query: CoordinationQuery, *, since: datetime | None = None
) -> ir.Table:
    """Outbound contacts with ``in_episode`` (>= N departments in the D days up to it),
    ``departments_in_window`` and ``episode_start`` (1 where a new episode begins)."""
    contacts = outbound(query, dated=False)
    if since is not None:
        contacts = contacts.filter(contacts.occurred_at >= ibis.literal(since))
    epoch = contacts.occurred_at.epoch_seconds()
    history = ibis.window(
        group_by=contacts.stakeholder_id, order_by=contacts.occurred_at, rows=(None, 0)
    )
    latest = {
        f"last_{index}": (contacts.department_code == department)
        .ifelse(epoch, ibis.null("int64"))
        .max()
        .over(history)
        for index, department in enumerate(departments)
    }
    with_latest = contacts.mutate(epoch=epoch, **latest)
    horizon = with_latest.epoch - query.window_days * SECONDS_PER_DAY
    in_window = sum(
        (
            (
                with_latest[f"last_{index}"].notnull() & (with_latest[f"last_{index}"] > horizon)
            ).ifelse(1, 0)
            for index in range(len(departments))
        ),
        ibis.literal(0),
    )
    counted = with_latest.select(
        "stakeholder_id", "occurred_at", "epoch", departments_in_window=in_window
    )
    flagged = counted.filter(counted.departments_in_window >= query.min_departments)
    previous = flagged.epoch.lag().over(
        ibis.window(group_by=flagged.stakeholder_id, order_by=flagged.occurred_at)
    )
    return flagged.mutate(
        episode_start=(
            previous.isnull() | (flagged.epoch - previous > query.window_days * SECONDS_PER_DAY)
        ).ifelse(1, 0)
    )


def within_dates(relation: ir.Table, slice_: Slice) -> ir.Table:
    if slice_.date_from is not None:
        start = datetime.combine(slice_.date_from, time.min)
        relation = relation.filter(relation.occurred_at >= ibis.literal(start))
    if slice_.date_to is not None:
        end = datetime.combine(slice_.date_to + timedelta(days=1), time.min)
        relation = relation.filter(relation.occurred_at < ibis.literal(end))
    return relation


def with_people(relation: ir.Table, column: str = "stakeholder_id") -> ir.Table:
    """``relation`` with its stakeholder's type and country (``PEOPLE_COLUMNS``)."""
    stakeholders = table("stakeholders")
    people = stakeholders.select(
        p_id=stakeholders.id,
        stakeholder_type=stakeholders.type,
        country_code=stakeholders.country_code,
    )
    return relation.join(people, relation[column] == people.p_id).drop("p_id")


def per_stakeholder_period(
    contacts: ir.Table, grain: str, dimension: str | None = None, by: Sequence[str] = ()
) -> ir.Table:
    """Contacts per (``dimension``'s key,) stakeholder and period, carrying ``by``."""
    keys = {"stakeholder_id": contacts.stakeholder_id}
    if dimension is not None:
        keys["key"] = contacts[dimension]
    return contacts.group_by(
        period=contacts.occurred_at.truncate(GRAINS[grain]), **keys, **{c: contacts[c] for c in by}
    ).aggregate(contacts=contacts.count())


def bucket_of(contacts: ir.IntegerValue) -> ir.StringValue:
    """The distribution's bucket of a stakeholder-period's number of contacts."""
    return ibis.cases(
        *[
            (contacts.between(low, high), label)
            for (low, high), label in zip(PRESSURE_BUCKETS[:-1], BUCKET_LABELS, strict=False)
        ],
        else_=BUCKET_LABELS[-1],
    )


def effect_moments(
    departments: list[str], query: CoordinationQuery, by: Sequence[str] = ()
) -> ir.Table:
    """Moments of NPS answers split by ``exposed``: whether >= N departments contacted the
    respondent in the D days before the response started (the demo manifest's definition),
    grouped also by the respondent's ``by`` (``PEOPLE_COLUMNS``)."""
    answers = table("answers")
    questions = table("questions")
    responses = table("responses")
    surveys = table("surveys")
    nps_questions = questions.filter(questions.question_type == "nps")
    if query.outcome_survey is not None:
        chosen = surveys.filter(surveys.code == query.outcome_survey).id
    else:
        chosen = surveys.filter(~surveys.kind.isin(EMPLOYEE_SURVEY_KINDS)).id
    nps_questions = nps_questions.filter(nps_questions.survey_id.isin(chosen))
    complete = responses.filter(
        responses.status == "complete", responses.stakeholder_id.notnull()
    ).select(
        r_id=responses.id, r_stakeholder=responses.stakeholder_id, r_started=responses.started_at
    )
    valid = answers.filter(
        answers.question_id.isin(nps_questions.id), answers.value_number.between(0, 10)
    ).select(response_id=answers.response_id, score=answers.value_number)
    scored = valid.join(complete, valid.response_id == complete.r_id)
    scored = stakeholder_filter(scored.rename(stakeholder_id="r_stakeholder"), query.slice)
    scored = within_dates(scored.mutate(occurred_at=scored.r_started), query.slice)
    if by:
        scored = with_people(scored)
    contacts = outbound(query, dated=False)
    contacts = contacts.select(
        c_stakeholder=contacts.stakeholder_id,
        c_at=contacts.occurred_at,
        c_department=contacts.department_code,
        c_epoch=contacts.occurred_at.epoch_seconds(),
    )
    response_epoch = scored.r_started.epoch_seconds()
    scored = scored.mutate(r_epoch=response_epoch)
    window = query.window_days * SECONDS_PER_DAY
    paired = scored.left_join(
        contacts,
        [
            scored.stakeholder_id == contacts.c_stakeholder,
            # Implied by the next line; as a plain comparison it lets the (stakeholder,
            # occurred_at) index skip the contacts after the answer.
            contacts.c_at < scored.r_started,
            contacts.c_epoch < scored.r_epoch,
            contacts.c_epoch >= scored.r_epoch - window,
        ],
    )
    per_response = paired.group_by("response_id", "score", *by).aggregate(
        departments=paired.c_department.nunique()
    )
    exposed = (per_response.departments >= query.min_departments).ifelse(1, 0)
    return per_response.group_by(exposed=exposed, **{c: per_response[c] for c in by}).aggregate(
        n=per_response.count(),
        total=per_response.score.sum(),
        total_squares=(per_response.score * per_response.score).sum(),
        promoters=(per_response.score >= 9).ifelse(1, 0).sum(),
        detractors=(per_response.score <= 6).ifelse(1, 0).sum(),
    )
