"""What waiting costs: how the time a stakeholder waits for the company shows up later.

Two questions every service team asks, answered from interactions (and survey answers) alone:

- **Time to contact**: from a start (say ``psp_enrolment``) to the first contact of another type
  after it (say ``psp_onboarding_call``), how many days, and how much a survey score given after
  that contact moves per day of waiting (least squares with its interval).
- **Late answers**: each request (say a ``medical_inquiry``) is paired with the next answer of
  the answer type (``medical_inquiry_response``) to the same stakeholder; answers later than
  ``late_after_days`` are late. Engagement after the answer (the stakeholder's interactions in
  the following ``window_days``, the answer itself excluded) is compared, late versus on time,
  as a rate ratio with its interval.

The database pairs and reduces (sums per group); Python turns a few rows into estimates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.access import cells
from cpxm.analytics import stats
from cpxm.analytics.query import fetch, table
from cpxm.errors import FieldError, field_error
from cpxm.interactions.models import Interaction
from cpxm.surveys.models import SCORE_SCALES

SECONDS_PER_DAY = 86_400
WAIT_BUCKETS = ((0, 3), (3, 7), (7, 14), (14, 30), (30, 100_000))  # days, [low, high)


@dataclass(frozen=True)
class TimeToContactQuery:
    start_type: str  # interaction_type that starts the clock (the stakeholder's first one)
    end_type: str  # the first interaction of this type at or after the start stops it
    survey: str  # the survey whose score is read after the contact
    question_type: str = "csat"  # nps, csat or ces in that survey
    min_n: int = 30


@dataclass(frozen=True)
class TimeToContact:
    query: TimeToContactQuery
    stakeholders: int  # with a start and a contact after it
    mean_days: float | None
    answered: int  # of those, with a score given after the contact
    per_day: stats.Slope | None  # score points per day of waiting (None under min_n)
    # (days, answers, mean score); both None where the bucket would describe fewer people than
    # the workspace's minimum cell size (with complements, as ``answered`` is shown)
    by_wait: list[tuple[str, int | None, float | None]]


def _types_exist(session: Session, names: dict[str, str]) -> None:
    known = set(
        session.scalars(
            select(Interaction.interaction_type)
            .where(Interaction.interaction_type.in_(list(names.values())))
            .distinct()
        )
    )
    errors = [
        field_error(field, f"no interactions of type {value!r}", value, kind="not_found")
        for field, value in names.items()
        if value not in known
    ]
    if errors:
        raise FieldError(errors)


def _typed(interaction_type: str, prefix: str) -> ir.Table:
    interactions = table("interactions")
    chosen = interactions.filter(interactions.interaction_type == interaction_type)
    return chosen.select(
        **{
            f"{prefix}_id": chosen.id,
            f"{prefix}_stakeholder": chosen.stakeholder_id,
            f"{prefix}_epoch": chosen.occurred_at.epoch_seconds(),
        }
    )


def time_to_contact(session: Session, query: TimeToContactQuery) -> TimeToContact:
    """Days from each stakeholder's first start to the next contact, and the score after it."""
    if query.question_type not in SCORE_SCALES:
        raise FieldError(
            [field_error("question_type", "one of nps, csat, ces", query.question_type)]
        )
    _types_exist(session, {"start_type": query.start_type, "end_type": query.end_type})
    floor = cells.min_cell_size(session)
    query = replace(query, min_n=max(query.min_n, floor))
    starts = _typed(query.start_type, "s")
    first_start = starts.group_by(stakeholder_id=starts.s_stakeholder).aggregate(
        started=starts.s_epoch.min()
    )
    ends = _typed(query.end_type, "e")
    paired = first_start.join(
        ends,
        [first_start.stakeholder_id == ends.e_stakeholder, ends.e_epoch >= first_start.started],
    )
    waits = paired.group_by("stakeholder_id", "started").aggregate(contacted=paired.e_epoch.min())
    waits = waits.mutate(days=(waits.contacted - waits.started) / SECONDS_PER_DAY)
    (overall,) = fetch(session, waits.aggregate(n=waits.count(), days=waits.days.mean()))

    answers = table("answers")
    questions = table("questions")
    responses = table("responses")
    surveys = table("surveys")
    low, high = SCORE_SCALES[query.question_type]
    chosen = questions.filter(
        questions.question_type == query.question_type,
        questions.survey_id.isin(surveys.filter(surveys.code == query.survey).id),
    )
    complete = responses.filter(responses.status == "complete").select(
        r_id=responses.id,
        r_stakeholder=responses.stakeholder_id,
        r_epoch=responses.submitted_at.fill_null(responses.started_at).epoch_seconds(),
    )
    valid = answers.filter(
        answers.question_id.isin(chosen.id), answers.value_number.between(low, high)
    ).select(a_response=answers.response_id, score=answers.value_number)
    scored = valid.join(complete, valid.a_response == complete.r_id)
    after = waits.join(
        scored,
        [waits.stakeholder_id == scored.r_stakeholder, scored.r_epoch >= waits.contacted],
    )
    x, y = after.days, after.score
    (sums,) = fetch(
        session,
        after.aggregate(
            n=after.count(),
            sum_x=x.sum(),
            sum_y=y.sum(),
            sum_xx=(x * x).sum(),
            sum_yy=(y * y).sum(),
            sum_xy=(x * y).sum(),
        ),
    )
    answered = int(sums["n"] or 0)
    per_day = None
    if answered >= query.min_n:
        per_day = stats.simple_regression(
            answered, *(float(sums[name] or 0.0) for name in
                        ("sum_x", "sum_y", "sum_xx", "sum_yy", "sum_xy"))
        )  # fmt: skip
    bucket = ibis.literal(len(WAIT_BUCKETS) - 1)
    for index, (_, upper) in reversed(list(enumerate(WAIT_BUCKETS))):
        bucket = (after.days < upper).ifelse(index, bucket)
    grouped = after.group_by(bucket=bucket).aggregate(n=after.count(), mean=after.score.mean())
    found = {int(row["bucket"]): row for row in fetch(session, grouped)}
    by_wait: list[tuple[str, int | None, float | None]] = []
    counts = [int(found[index]["n"]) if index in found else 0 for index in range(len(WAIT_BUCKETS))]
    hidden = cells.suppressed(counts, min_n=floor)
    for index, (lower, upper) in enumerate(WAIT_BUCKETS):
        row = found.get(index)
        label = f"{lower}-{upper}" if upper < 100_000 else f"{lower}+"
        count = counts[index]
        if index in hidden:
            by_wait.append((label, None, None))
            continue
        by_wait.append((label, count, float(row["mean"]) if row and count else None))
    stakeholders = int(overall["n"] or 0)
    return TimeToContact(
        query=query,
        stakeholders=stakeholders,
        mean_days=float(overall["days"])
        if overall["days"] is not None and stakeholders >= floor
        else None,
        answered=answered,
        per_day=per_day,
        by_wait=by_wait,
    )


@dataclass(frozen=True)
class LateAnswerQuery:
    request_type: str = "medical_inquiry"
    answer_type: str = "medical_inquiry_response"
    late_after_days: float = 10.0
    window_days: int = 90
    as_of: date | None = None  # the end of observation (default: the latest interaction)
    min_n: int = 30


@dataclass(frozen=True)
class EngagementGroup:
    answers: int  # answered requests whose window ended by as_of
    mean_delay_days: float | None
    interactions_after: float | None  # mean interactions in the window after the answer


@dataclass(frozen=True)
class LateAnswers:
    query: LateAnswerQuery
    requests: int  # requests of the type
    answered: int  # with an answer after them
    late_percent: float | None
    late: EngagementGroup
    on_time: EngagementGroup
    rate_ratio: float | None  # late / on time; 1 = no difference
    ci_low: float | None
    ci_high: float | None
    p_value: float | None


def late_answers(session: Session, query: LateAnswerQuery) -> LateAnswers:
    """Requests paired with their answers; engagement after late versus on-time answers."""
    errors = []
    if query.late_after_days <= 0:
        errors.append(field_error("late_after_days", "must be positive", query.late_after_days))
    if not 1 <= query.window_days <= 730:
        errors.append(field_error("window_days", "between 1 and 730", query.window_days))
    if errors:
        raise FieldError(errors)
    _types_exist(session, {"request_type": query.request_type, "answer_type": query.answer_type})
    as_of = query.as_of
    if as_of is None:
        latest = session.scalar(select(func.max(Interaction.occurred_at)))
        as_of = latest.date() if latest is not None else date.today()
    end_of_observation = datetime.combine(as_of + timedelta(days=1), time.min)

    requests = _typed(query.request_type, "q")
    replies = _typed(query.answer_type, "a")
    paired = requests.join(
        replies,
        [requests.q_stakeholder == replies.a_stakeholder, replies.a_epoch >= requests.q_epoch],
    )
    answered = paired.group_by("q_id", "q_stakeholder", "q_epoch").aggregate(
        a_epoch=paired.a_epoch.min()
    )
    delay = (answered.a_epoch - answered.q_epoch) / SECONDS_PER_DAY
    answered = answered.mutate(delay=delay, late=(delay > query.late_after_days).ifelse(1, 0))
    (counts,) = fetch(
        session,
        answered.aggregate(n=answered.count(), late=answered.late.sum()),
    )
    (total_requests,) = fetch(session, requests.aggregate(n=requests.count()))

    window = query.window_days * SECONDS_PER_DAY
    observed = answered.filter(
        answered.a_epoch + window
        <= ibis.literal(end_of_observation).cast("timestamp").epoch_seconds()
    )
    interactions = table("interactions")
    later = interactions.select(
        f_stakeholder=interactions.stakeholder_id,
        f_epoch=interactions.occurred_at.epoch_seconds(),
    )
    following = observed.left_join(
        later,
        [
            observed.q_stakeholder == later.f_stakeholder,
            later.f_epoch > observed.a_epoch,
            later.f_epoch <= observed.a_epoch + window,
        ],
    )
    per_answer = following.group_by("q_id", "late", "delay").aggregate(
        after=following.f_epoch.count()
    )
    grouped = per_answer.group_by("late").aggregate(
        n=per_answer.count(),
        delay=per_answer.delay.mean(),
        total=per_answer.after.sum(),
        total_squares=(per_answer.after * per_answer.after).sum(),
    )
    groups = {int(row["late"]): row for row in fetch(session, grouped)}

    def group(flag: int) -> tuple[EngagementGroup, stats.Moments]:
        row = groups.get(flag)
        if row is None:
            return EngagementGroup(0, None, None), stats.ZERO
        moments = stats.Moments(int(row["n"]), float(row["total"]), float(row["total_squares"]))
        return (
            EngagementGroup(moments.n, float(row["delay"]), moments.mean if moments.n else None),
            moments,
        )

    late, late_moments = group(1)
    on_time, on_time_moments = group(0)
    ratio = ci_low = ci_high = p_value = None
    if (
        min(late_moments.n, on_time_moments.n) >= query.min_n
        and late_moments.total > 0
        and on_time_moments.total > 0
    ):
        # Delta method on the log of the ratio of two means.
        first, second = late_moments.mean, on_time_moments.mean
        ratio = first / second
        log_se = math.sqrt(
            late_moments.variance / late_moments.n / first**2
            + on_time_moments.variance / on_time_moments.n / second**2
        )
        ci_low = ratio * math.exp(-stats.Z_95 * log_se)
        ci_high = ratio * math.exp(stats.Z_95 * log_se)
        p_value = stats.two_sided_p(math.log(ratio) / log_se) if log_se > 0 else 0.0
    answered_n = int(counts["n"] or 0)
    return LateAnswers(
        query=query,
        requests=int(total_requests["n"] or 0),
        answered=answered_n,
        late_percent=100 * int(counts["late"] or 0) / answered_n if answered_n else None,
        late=late,
        on_time=on_time,
        rate_ratio=ratio,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
    )
