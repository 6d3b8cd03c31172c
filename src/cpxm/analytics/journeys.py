"""Journey analytics: stage funnel, time between stages, drop-offs, common paths, moments of
truth, and the peak-end view of a relationship score.

A stakeholder reaches a stage with their first interaction tagged with it. The database pivots
first arrivals into one row per stakeholder and reduces them; Python reads a few dozen rows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.access import cells
from cpxm.analytics import stats
from cpxm.analytics.coordination import _dated, _stakeholder_filter
from cpxm.analytics.facts import Slice, validate_slice
from cpxm.analytics.query import fetch, table
from cpxm.analytics.touch_summaries import peak_end_touches, touch_summaries_fresh
from cpxm.errors import FieldError, field_error
from cpxm.journeys.models import Journey, JourneyStage

SECONDS_PER_DAY = 86_400
DAY_BUCKETS = ((0, 7), (8, 30), (31, 90), (91, 100_000))


@dataclass(frozen=True)
class JourneyQuery:
    journey: str | None = None  # a journey code; default: the first
    slice: Slice = field(default_factory=Slice)  # stakeholder filters and dates
    min_n: int = 30


@dataclass(frozen=True)
class StageRow:
    code: str
    name: str
    position: int
    is_moment_of_truth: bool  # as the journey definition marks it
    reached: int  # stakeholders whose interactions reached the stage
    reached_percent: float  # of those who reached the first stage (or any stage)
    continued: int  # of those, how many reached the next stage afterwards
    dropped: int
    drop_off_percent: float | None
    mean_days_to_next: float | None
    days_to_next: list[tuple[str, int]]  # buckets of days to the next stage
    satisfied_continue_percent: float | None  # among CSAT 4-5 after a touchpoint at the stage
    dissatisfied_continue_percent: float | None  # among CSAT 1-3
    truth_effect: float | None  # difference in points; large = a moment of truth
    truth_p_value: float | None


@dataclass(frozen=True)
class PathRow:
    path: str
    stakeholders: int
    percent: float


@dataclass(frozen=True)
class PeakEnd:
    """score = a + b_last x quality(last touch) + b_prior x mean quality(other touches, 30 days)."""

    n: int
    last_touch_weight: float | None
    last_touch_ci: tuple[float, float] | None
    prior_touches_weight: float | None
    prior_touches_ci: tuple[float, float] | None
    by_last_quality: list[tuple[str, int, float]]  # (quality, answers, mean score)


@dataclass(frozen=True)
class JourneyReport:
    query: JourneyQuery
    journey_code: str
    journey_name: str
    stakeholders: int  # reached at least one stage
    stages: list[StageRow]
    paths: list[PathRow]
    peak_end: PeakEnd


def journeys(session: Session) -> list[tuple[str, str]]:
    rows = session.execute(select(Journey.code, Journey.name).order_by(Journey.id)).all()
    return [(row.code, row.name) for row in rows]


def _stages(session: Session, journey_code: str | None) -> tuple[str, str, list[JourneyStage]]:
    statement = select(Journey.id, Journey.code, Journey.name).order_by(Journey.id).limit(1)
    if journey_code:
        statement = statement.where(Journey.code == journey_code)
    journey = session.execute(statement).first()
    if journey is None:
        raise FieldError(
            [field_error("journey", "no such journey", journey_code, kind="not_found")]
        )
    stages = list(
        session.scalars(
            select(JourneyStage)
            .where(JourneyStage.journey_id == journey.id)
            .order_by(JourneyStage.position)
        )
    )
    return journey.code, journey.name, stages


def _first_arrivals(stages: list[JourneyStage], query: JourneyQuery) -> ir.Table:
    """One row per stakeholder: epoch seconds of the first interaction at each stage."""
    interactions = table("interactions")
    tagged = interactions.filter(
        interactions.journey_stage_id.isin([stage.id for stage in stages])
    ).select("stakeholder_id", "occurred_at", "journey_stage_id")
    tagged = _dated(_stakeholder_filter(tagged, query.slice), query.slice)
    # The earliest time first, in seconds after: one conversion per stakeholder and stage
    # rather than one per interaction (SQLite converts ISO text, a quarter of the query).
    firsts = tagged.group_by("stakeholder_id").aggregate(
        **{
            f"s{index}": (tagged.journey_stage_id == stage.id)
            .ifelse(tagged.occurred_at, ibis.null("timestamp"))
            .min()
            for index, stage in enumerate(stages)
        }
    )
    return firsts.select(
        "stakeholder_id",
        **{f"s{index}": firsts[f"s{index}"].epoch_seconds() for index in range(len(stages))},
    )


def journey_report(session: Session, query: JourneyQuery) -> JourneyReport:
    # No comparison on fewer people than the workspace's minimum cell size, whatever was asked.
    query = replace(query, min_n=cells.floor(session, query.min_n))
    validate_slice(session, query.slice)
    code, name, stages = _stages(session, query.journey)
    if not stages:
        raise FieldError([field_error("journey", "the journey has no stages", code)])
    wide = _first_arrivals(stages, query)
    count = len(stages)
    metrics: dict[str, ir.Value] = {"stakeholders": wide.count()}
    for index in range(count):
        reached = wide[f"s{index}"]
        metrics[f"reached_{index}"] = reached.notnull().ifelse(1, 0).sum()
        if index + 1 < count:
            following = wide[f"s{index + 1}"]
            continued = reached.notnull() & following.notnull() & (following >= reached)
            days = (following - reached) / SECONDS_PER_DAY
            metrics[f"continued_{index}"] = continued.ifelse(1, 0).sum()
            metrics[f"days_{index}"] = continued.ifelse(days, ibis.null("float64")).sum()
            for low, high in DAY_BUCKETS:
                metrics[f"bucket_{index}_{low}"] = (
                    (continued & days.between(low, high + 0.999999)).ifelse(1, 0).sum()
                )
    path = ibis.literal("")
    for index, stage in enumerate(stages):
        path = path + wide[f"s{index}"].notnull().ifelse(f"{stage.code} > ", "")
    in_order = ibis.literal(True)
    for index in range(count - 1):
        first, second = wide[f"s{index}"], wide[f"s{index + 1}"]
        in_order = in_order & (first.isnull() | second.isnull() | (second >= first))
    # One pass over the stakeholders: the funnel's sums per path (a few dozen rows) add up to
    # the totals, so the paths and the funnel do not each build the first arrivals again.
    by_path = fetch(session, wide.group_by(path=path, in_order=in_order).aggregate(**metrics))
    totals: dict[str, Any] = {name: sum(row[name] or 0 for row in by_path) for name in metrics}
    total = int(totals["stakeholders"] or 0)
    floor = cells.min_cell_size(session)
    paths = [
        PathRow(
            path=row["path"].rstrip(" >") + ("" if row["in_order"] else " (out of order)"),
            stakeholders=int(row["stakeholders"]),
            percent=100 * int(row["stakeholders"]) / total if total else 0.0,
        )
        for row in sorted(
            by_path, key=lambda row: (-int(row["stakeholders"]), row["path"], bool(row["in_order"]))
        )[:10]
        # A path walked by fewer people than the minimum cell size describes those people.
        if int(row["stakeholders"]) >= floor
    ]
    truths = _moments_of_truth(session, stages, wide, query)
    first_reached = int(totals["reached_0"] or 0) or total
    rows = []
    for index, stage in enumerate(stages):
        reached = int(totals[f"reached_{index}"] or 0)
        continued = int(totals.get(f"continued_{index}") or 0)
        has_next = index + 1 < count
        truth = truths.get(index)
        rows.append(
            StageRow(
                code=stage.code,
                name=stage.name,
                position=stage.position,
                is_moment_of_truth=stage.is_moment_of_truth,
                reached=reached,
                reached_percent=100 * reached / first_reached if first_reached else 0.0,
                continued=continued,
                dropped=reached - continued if has_next else 0,
                drop_off_percent=100 * (reached - continued) / reached
                if has_next and reached
                else None,
                mean_days_to_next=float(totals[f"days_{index}"]) / continued
                if has_next and continued
                else None,
                days_to_next=[
                    (
                        f"{low}-{high}" if high < 100_000 else f"{low}+",
                        int(totals[f"bucket_{index}_{low}"] or 0),
                    )
                    for low, high in DAY_BUCKETS
                ]
                if has_next
                else [],
                satisfied_continue_percent=truth[0] if truth else None,
                dissatisfied_continue_percent=truth[1] if truth else None,
                truth_effect=truth[2] if truth else None,
                truth_p_value=truth[3] if truth else None,
            )
        )
    return JourneyReport(
        query=query,
        journey_code=code,
        journey_name=name,
        stakeholders=total,
        stages=rows,
        paths=paths,
        peak_end=peak_end(session, query),
    )


def _moments_of_truth(
    session: Session, stages: list[JourneyStage], wide: ir.Table, query: JourneyQuery
) -> dict[int, tuple[float, float, float, float]]:
    """Per stage: how many went on to the next stage after a satisfied (CSAT 4-5) versus a
    dissatisfied (1-3) transactional answer about a touchpoint at the stage, and the p-value of
    the difference. The bigger the gap, the more that stage's experience decides what follows."""
    answers = table("answers")
    questions = table("questions")
    responses = table("responses")
    invitations = table("invitations")
    interactions = table("interactions")
    csat = answers.filter(
        answers.question_id.isin(questions.filter(questions.question_type == "csat").id),
        answers.value_number.between(1, 5),
    ).select(a_id=answers.id, a_response=answers.response_id, score=answers.value_number)
    complete = responses.filter(responses.status == "complete").select(
        r_id=responses.id, r_invitation=responses.invitation_id
    )
    links = invitations.select(i_id=invitations.id, trigger=invitations.trigger_interaction_id)
    touches = interactions.select(
        x_id=interactions.id,
        x_stakeholder=interactions.stakeholder_id,
        x_stage=interactions.journey_stage_id,
        x_epoch=interactions.occurred_at.epoch_seconds(),
    )
    answered = (
        csat.join(complete, csat.a_response == complete.r_id)
        .join(links, complete.r_invitation == links.i_id)
        .join(touches, links.trigger == touches.x_id)
    )
    leading = {stage.id: index for index, stage in enumerate(stages[:-1])}
    if not leading:
        return {}
    # DISTINCT (a no-op: each row is one answer) makes SQLite materialise the few answers at
    # these stages before joining them to the stakeholders' arrivals. Left to itself, its
    # planner walked every complete response once per stakeholder: 130 s at demo scale 1.
    at_stages = (
        answered.filter(answered.x_stage.isin(list(leading)))
        .select("a_id", "x_stakeholder", "x_stage", "x_epoch", "score")
        .distinct()
    )
    joined = at_stages.join(wide, at_stages.x_stakeholder == wide.stakeholder_id)
    # Every stage in one pass: an answer at a stage went on when the next stage followed it.
    went_on = ibis.cases(
        *[
            (
                joined.x_stage == stage_id,
                joined[f"s{index + 1}"].notnull() & (joined[f"s{index + 1}"] >= joined.x_epoch),
            )
            for stage_id, index in leading.items()
        ],
        else_=False,
    ).ifelse(1, 0)
    satisfied = (joined.score >= 4).ifelse(1, 0)
    grouped = joined.group_by(stage=joined.x_stage, satisfied=satisfied).aggregate(
        n=joined.count(), went_on=went_on.sum()
    )
    counts = {(int(row["stage"]), int(row["satisfied"])): row for row in fetch(session, grouped)}
    results: dict[int, tuple[float, float, float, float]] = {}
    for stage_id, index in leading.items():
        happy, unhappy = counts.get((stage_id, 1)), counts.get((stage_id, 0))
        if not happy or not unhappy:
            continue
        happy_n, unhappy_n = int(happy["n"]), int(unhappy["n"])
        if min(happy_n, unhappy_n) < query.min_n:
            continue
        first = stats.share_estimate(int(happy["went_on"]), happy_n)
        second = stats.share_estimate(int(unhappy["went_on"]), unhappy_n)
        results[index] = (
            first.value,
            second.value,
            first.value - second.value,
            stats.difference_p_value(first, second),
        )
    return results


def peak_end(session: Session, query: JourneyQuery, survey: str | None = None) -> PeakEnd:
    """Relationship NPS answers regressed on the quality of the last touch before answering and
    the mean quality of the other touches in the 30 days before (the peak-end rule: the end
    weighs more than the rest)."""
    summarised = touch_summaries_fresh(session)
    (row,) = fetch(session, _peak_end_moments(survey, query.slice, summarised))
    by_last_quality = sorted(
        (name, int(row[f"n_{name}"]), float(row[f"total_{name}"]) / int(row[f"n_{name}"]))
        for name in _QUALITY_NAMES.values()
        if row[f"n_{name}"]
    )
    n = int(row["n"] or 0)
    if n < max(query.min_n, 10):
        return PeakEnd(n, None, None, None, None, by_last_quality)
    sums = np.array([float(row[f"s_{i}"] or 0.0) for i in range(3)])
    cross = np.zeros((3, 3))
    for i in range(3):
        for j in range(i, 3):
            cross[i, j] = cross[j, i] = float(row[f"p_{i}_{j}"] or 0.0)
    coefficients, errors = stats.ols_from_moments(n, sums[:2], cross[:2, :2], sums[2], cross[:2, 2],
                                                  cross[2, 2])  # fmt: skip
    return PeakEnd(
        n=n,
        last_touch_weight=float(coefficients[1]),
        last_touch_ci=(
            float(coefficients[1] - stats.Z_95 * errors[1]),
            float(coefficients[1] + stats.Z_95 * errors[1]),
        ),
        prior_touches_weight=float(coefficients[2]),
        prior_touches_ci=(
            float(coefficients[2] - stats.Z_95 * errors[2]),
            float(coefficients[2] + stats.Z_95 * errors[2]),
        ),
        by_last_quality=by_last_quality,
    )


_QUALITY_NAMES = {-1: "poor", 0: "neutral", 1: "good"}  # the last touch's quality, rounded


@functools.lru_cache(maxsize=64)
def _peak_end_moments(survey: str | None, slice_: Slice, summarised: bool) -> ir.Table:
    """One row: n, the sums and cross-products of (last, prior, score), and the answers and
    their total per rounded last-touch quality (the chart).

    ``summarised``: each response's touches come from ``response_touch_summaries`` (fresh, see
    :mod:`cpxm.analytics.touch_summaries`), else from one pass over the interactions
    (:func:`peak_end_touches`), the same expression the summary was computed with."""
    answers = table("answers")
    questions = table("questions")
    responses = table("responses")
    surveys = table("surveys")
    relationship = surveys.filter(
        surveys.code == survey if survey else surveys.kind == "relationship"
    ).id
    nps = questions.filter(
        questions.question_type == "nps", questions.survey_id.isin(relationship)
    ).id
    scored = answers.filter(
        answers.question_id.isin(nps), answers.value_number.between(0, 10)
    ).select(a_id=answers.id, a_response=answers.response_id, score=answers.value_number)
    respondents = responses.filter(
        responses.status == "complete", responses.stakeholder_id.notnull()
    ).select(
        r_id=responses.id,
        stakeholder_id=responses.stakeholder_id,
        r_at=responses.started_at,
        r_epoch=responses.started_at.epoch_seconds(),
        occurred_at=responses.started_at,
    )
    respondents = _dated(_stakeholder_filter(respondents, slice_), slice_)
    scored = scored.join(respondents, scored.a_response == respondents.r_id)
    if summarised:
        kept = table("response_touch_summaries")
        joined = scored.join(kept, scored.r_id == kept.response_id)
        per_response = joined.select(
            "r_id", "score", "window_sum", "window_count", "last_quality", "last_in_window"
        )
    else:
        per_response = peak_end_touches(scored, ("r_id", "score"))
    others = per_response.window_count - per_response.last_in_window
    prior_mean = (others > 0).ifelse(
        (per_response.window_sum - per_response.last_in_window * per_response.last_quality)
        / others,
        0.0,
    )
    design = per_response.select(
        score=per_response.score,
        last=per_response.last_quality.cast("float64"),
        prior=prior_mean,
    )
    names = ["last", "prior", "score"]
    metrics: dict[str, ir.Value] = {"n": design.count()}
    for i, first in enumerate(names):
        metrics[f"s_{i}"] = design[first].sum()
        for j in range(i, len(names)):
            metrics[f"p_{i}_{j}"] = (design[first] * design[names[j]]).sum()
    rounded = design["last"].round(0)
    for quality_value, name in _QUALITY_NAMES.items():
        chosen = rounded == quality_value
        metrics[f"n_{name}"] = chosen.ifelse(1, 0).sum()
        metrics[f"total_{name}"] = chosen.ifelse(design.score, 0).sum()
    return design.aggregate(**metrics)
