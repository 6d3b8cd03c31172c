"""What each respondent met before answering, kept by the store for the journeys and drivers pages.

The peak-end model (journeys) and the touchpoint drivers (drivers) both ask, for every answer,
which interactions its respondent had before it: at scale 10 a pass over millions of (answer,
earlier touch) pairs, seconds of database CPU on every cold view. Those facts change far less
often than the pages are opened, so one writer, :func:`refresh_touch_summaries`, computes them
per response into two tables (``response_touch_summaries``, ``response_exposures``) with the
same expressions the pages use on the facts, and stamps them (``summary_stamps``) with the
data fingerprint
(:func:`cpxm.analytics.service.data_fingerprint`) of the facts it read.

Freshness rule: a page reads the summaries only while the store's fingerprint equals the one
recorded (no interaction, response, answer or stakeholder added, changed or deleted since), and
otherwise computes from the facts as before, so a figure never depends on when the summaries
were last refreshed. The refresh runs after the demo, in ``cpxm analytics rebuild`` and in a
worker job every few minutes when the facts moved (:mod:`cpxm.analytics.jobs`). With the Spark
engine the pages read the lake's facts: the summaries are the store's and are not used.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cpxm.analytics.models import ResponseExposure, ResponseTouchSummary, SummaryStamp
from cpxm.analytics.query import analytics_engine, compile_sql, fetch, store_dialect, table
from cpxm.analytics.service import data_fingerprint
from cpxm.analytics.stamps import keep_stamp
from cpxm.interactions.outcomes import OUTCOME_QUALITY

SUMMARY_NAME = "response_touches"
SECONDS_PER_DAY = 86_400
PEAK_END_PRIOR_DAYS = 30
EXPOSURE_DAYS = 30  # the drivers' default touchpoint window, the one kept
EXPOSURE_DIMENSIONS = ("department", "channel")


def peak_end_touches(respondents: ir.Table, keys: tuple[str, ...]) -> ir.Table:
    """Per row of ``respondents`` (grouped by ``keys``; columns ``r_id``, ``stakeholder_id``,
    ``r_at`` and ``r_epoch``) with earlier touches: ``window_sum``, ``window_count``,
    ``last_quality`` and ``last_in_window``.

    Each row meets its respondent's earlier touches once (the plain time comparison lets the
    (stakeholder, occurred_at) index bound the scan); a window over the response marks its last
    touch (the mean quality when several share that instant), so the last touch and the 30-day
    window need no second join. A join back to the last touch by the index cost SQLite less
    (0.27 against 0.37 s of CPU at demo scale 1), but PostgreSQL's planner, misjudging how many
    answers there are, hashed every interaction for it (2.3 against 1.8 s of server CPU at
    scale 10)."""
    interactions = table("interactions")
    quality = ibis.cases(
        *[(interactions.outcome == outcome, value) for outcome, value in OUTCOME_QUALITY.items()],
        else_=0,
    )
    touches = interactions.select(
        t_stakeholder=interactions.stakeholder_id, t_at=interactions.occurred_at, t_quality=quality
    )
    before = respondents.join(
        touches,
        [respondents.stakeholder_id == touches.t_stakeholder, touches.t_at < respondents.r_at],
    )
    window = PEAK_END_PRIOR_DAYS * SECONDS_PER_DAY
    before = before.mutate(
        last_at=before.t_at.max().over(ibis.window(group_by=before.r_id)),
        recent=(before.t_at.epoch_seconds() >= before.r_epoch - window).ifelse(1, 0),
    )
    at_last = before.t_at == before.last_at
    return before.group_by(*keys).aggregate(
        window_sum=(before.recent == 1).ifelse(before.t_quality, 0).sum(),
        window_count=before.recent.sum(),
        last_quality=at_last.ifelse(before.t_quality, ibis.null("int64")).mean(),
        last_in_window=at_last.ifelse(before.recent, 0).max(),
    )


def exposure_touches(respondents: ir.Table, days: int) -> ir.Table:
    """``respondents`` (``r_id``, ``r_stakeholder``, ``r_at``, ``r_epoch``: the answering time)
    joined to their interactions in the ``days`` before, with ``x_department`` and
    ``x_channel``."""
    interactions = table("interactions")
    touches = interactions.select(
        x_stakeholder=interactions.stakeholder_id,
        x_at=interactions.occurred_at,
        x_department=interactions.department_code,
        x_channel=interactions.channel_code,
    )
    return respondents.join(
        touches,
        [
            respondents.r_stakeholder == touches.x_stakeholder,
            # The plain comparison lets the (stakeholder, occurred_at) index bound the scan.
            touches.x_at < respondents.r_at,
            touches.x_at.epoch_seconds() >= respondents.r_epoch - days * SECONDS_PER_DAY,
        ],
    )


def _complete_responses() -> ir.Table:
    responses = table("responses")
    return responses.filter(responses.status == "complete", responses.stakeholder_id.notnull())


def _touch_summary_rows() -> ir.Table:
    """Every complete response's peak-end touches (from the time it was started, as the
    journeys page reads it)."""
    complete = _complete_responses()
    respondents = complete.select(
        r_id=complete.id,
        stakeholder_id=complete.stakeholder_id,
        r_at=complete.started_at,
        r_epoch=complete.started_at.epoch_seconds(),
    )
    summary = peak_end_touches(respondents, ("r_id",))
    return summary.select(
        response_id=summary.r_id,
        last_quality=summary.last_quality,
        window_sum=summary.window_sum,
        window_count=summary.window_count,
        last_in_window=summary.last_in_window,
    )


def _exposure_rows() -> ir.Table:
    """Every complete response's departments and channels met in the ``EXPOSURE_DAYS`` before
    it was answered (submitted, else started: the drivers' answering time)."""
    complete = _complete_responses()
    answered_at = complete.submitted_at.fill_null(complete.started_at)
    respondents = complete.select(
        r_id=complete.id,
        r_stakeholder=complete.stakeholder_id,
        r_at=answered_at,
        r_epoch=answered_at.epoch_seconds(),
    )
    joined = exposure_touches(respondents, EXPOSURE_DAYS)
    pairs = joined.select("r_id", "x_department", "x_channel").distinct()
    by_dimension = [
        pairs.filter(pairs[f"x_{dimension}"].notnull()).select(
            r_id=pairs.r_id, touchpoint=touchpoint_key(dimension, pairs[f"x_{dimension}"])
        )
        for dimension in EXPOSURE_DIMENSIONS
    ]
    met = by_dimension[0].union(*by_dimension[1:], distinct=True)
    listed = met.group_by("r_id").aggregate(touchpoints=met.touchpoint.group_concat(","))
    return listed.select(
        response_id=listed.r_id,
        touchpoints=ibis.literal(",") + listed.touchpoints + ibis.literal(","),
    )


def touchpoint_key(dimension: str, code: ir.StringValue | str) -> ir.StringValue:
    """``department:<code>`` or ``channel:<code>``, as ``response_exposures`` lists them."""
    return ibis.literal(f"{dimension}:") + code


def exposed_to(touchpoints: ir.StringValue, dimension: str, code: str) -> ir.BooleanValue:
    """Whether a ``response_exposures.touchpoints`` list holds this department or channel."""
    return touchpoints.contains(f",{dimension}:{code},")


@dataclass(frozen=True)
class TouchSummaryRefresh:
    responses: int  # responses with earlier touches
    exposures: int  # responses that met a department or channel in the window


def _fingerprint_text(session: Session) -> str:
    # The lake's marker (the last element) is left out: the summaries are the store's.
    return json.dumps(list(data_fingerprint(session)[:-1]))


def refresh_touch_summaries(session: Session) -> TouchSummaryRefresh:
    """Recompute both summaries from the facts and record the fingerprint they were read at.

    The only writer of the two tables. Runs in the caller's transaction (readers see the old
    rows, and the old fingerprint, until it commits); the fingerprint is read first, so facts
    that change during the refresh leave the summaries marked stale rather than wrongly fresh.
    """
    started = time.perf_counter()
    fingerprint = _fingerprint_text(session)
    dialect = store_dialect(session)
    session.execute(delete(ResponseTouchSummary))
    session.execute(delete(ResponseExposure))
    for model, expression in (
        (ResponseTouchSummary, _touch_summary_rows()),
        (ResponseExposure, _exposure_rows()),
    ):
        # Names from the model and the expression, the SELECT written by Ibis: no input.
        columns = ", ".join(expression.columns)
        sql = (
            f"INSERT INTO {model.__tablename__} ({columns}) "  # noqa: S608
            f"SELECT {columns} FROM ({compile_sql(expression, dialect)}) AS kept"
        )
        if dialect == "postgres":
            # psycopg reads '%' as a placeholder when parameters are given; none are.
            session.connection().exec_driver_sql(sql.replace("%", "%%"), ())
        else:
            session.connection().exec_driver_sql(sql)
    keep_stamp(session, SUMMARY_NAME, built_from=fingerprint, started=started)
    return TouchSummaryRefresh(
        responses=session.scalar(select(func.count()).select_from(ResponseTouchSummary)) or 0,
        exposures=session.scalar(select(func.count()).select_from(ResponseExposure)) or 0,
    )


def touch_summaries_fresh(session: Session) -> bool:
    """Whether the pages may read the summaries: the store engine computes the figures, and no
    fact changed since the last refresh (the recorded fingerprint is the store's)."""
    if analytics_engine() != "store":
        return False
    stamps = table("summary_stamps")
    rows = fetch(
        session, stamps.filter(stamps.name == SUMMARY_NAME).select("built_from"), on_store=True
    )
    return bool(rows) and rows[0]["built_from"] == _fingerprint_text(session)


def refresh_if_stale(session: Session) -> TouchSummaryRefresh | None:
    """Refresh when the facts moved since the last refresh; None when they did not."""
    stamp = session.get(SummaryStamp, SUMMARY_NAME)
    if stamp is not None and stamp.built_from == _fingerprint_text(session):
        return None
    return refresh_touch_summaries(session)
