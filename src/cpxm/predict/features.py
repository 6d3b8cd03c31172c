"""What CPXM knows about each stakeholder at a cut-off date, as numbers a model can weigh.

Everything is read once from the store for the span the cut-offs need (one query per table,
parameterised), then reduced per cut-off in numpy/pandas: a feature at cut-off ``T`` only ever
uses rows from before ``T``, and a label only rows from ``[T, T + horizon)``, so training on past
cut-offs never sees the period it is tested on.

Population at a cut-off: active golden records (not employees) with at least ``MIN_BASELINE``
contacts in the ``BASELINE_DAYS`` before it, and whose data may be used for profiling
(``cpxm.access.purposes``: objectors are left out entirely, neither trained on nor scored).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.access.purposes import permitted
from cpxm.cases.models import Case
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import ChannelPreference, Stakeholder
from cpxm.surveys.models import Answer, Question, Response, Survey

BASELINE_DAYS = 180
MIN_BASELINE = 10  # contacts in the baseline window: fewer, and a drop is noise
HORIZON_DAYS = 90
LATE_ANSWER_DAYS = 10
DETRACTOR_MAX = 6  # NPS 0-6
DISENGAGED_RATIO = 0.4  # next-90-day contacts at most this share of the baseline rate
POOR_OUTCOMES = ("unresolved", "complaint_raised", "rescheduled_by_company")
INQUIRY = "medical_inquiry"
INQUIRY_ANSWER = "medical_inquiry_response"
DAY = np.timedelta64(1, "D")

# Feature name -> what it measures (the model card and the reasons use these).
FEATURES: dict[str, str] = {
    "contacts_90": "contacts in the last 90 days (log)",
    "contact_trend": "contact rate in the last 30 days against the 150 days before (log ratio)",
    "ping_pong_90": "weeks in the last 90 days with outbound contacts from 3+ departments",
    "late_answers_180": f"medical inquiries answered more than {LATE_ANSWER_DAYS} days late",
    "answer_days_180": "mean days to answer their medical inquiries (last 180 days)",
    "open_requests": "their medical inquiries of the last 60 days still unanswered",
    "poor_outcomes_90": "contacts in the last 90 days that ended badly",
    "cases_180": "cases opened about them in the last 180 days",
    "open_cases": "their cases still open",
    "last_nps": "their last NPS answer (population mean when none)",
    "no_nps": "never answered an NPS question",
    "nps_drop": "fall from their previous NPS answer to the last",
    "negative_feedback_180": "negative feedback items from them in the last 180 days",
    "off_preference_90": "share of outbound contacts on channels they did not ask for",
}
FEATURE_NAMES = tuple(FEATURES)


@dataclass
class History:
    """The raw rows the features are made of, for one span of time."""

    start: datetime
    end: datetime
    stakeholders: pd.DataFrame  # id, type
    interactions: pd.DataFrame  # sid, at, department, channel, type, direction, outcome
    inquiries: pd.DataFrame  # sid, at, answered_at (NaT when unanswered)
    nps: pd.DataFrame  # sid, at, score
    cases: pd.DataFrame  # sid, opened_at, closed_at
    feedback: pd.DataFrame  # sid, at, negative
    preferences: pd.DataFrame  # sid, channel: the channels each person asked for
    profiled: set[int]  # may be profiled (no standing objection)


def _frame(session: Session, query: Any, columns: Sequence[str]) -> pd.DataFrame:
    # Column by column: building a frame from row objects costs more than the query.
    rows = session.execute(query).all()
    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    return pd.DataFrame(dict(zip(columns, values, strict=True)))


def _times(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


def load_history(session: Session, *, start: datetime, end: datetime) -> History:
    """Every row from ``start`` (inclusive) to ``end`` (exclusive) the features and labels use."""
    people = _frame(
        session,
        select(Stakeholder.id, Stakeholder.type).where(
            Stakeholder.status == "active", Stakeholder.type != "employee"
        ),
        ("id", "type"),
    )
    interactions = _times(
        _frame(
            session,
            select(
                Interaction.stakeholder_id,
                Interaction.occurred_at,
                Interaction.department_code,
                Interaction.channel_code,
                Interaction.interaction_type,
                Interaction.direction,
                Interaction.outcome,
            )
            .where(Interaction.occurred_at >= start, Interaction.occurred_at < end)
            .order_by(Interaction.stakeholder_id, Interaction.occurred_at),
            ("sid", "at", "department", "channel", "type", "direction", "outcome"),
        ),
        "at",
    )
    inquiries = _pair_inquiries(interactions)
    answered_at = Response.submitted_at
    nps = _times(
        _frame(
            session,
            select(Response.stakeholder_id, answered_at, Answer.value_number)
            .join(Answer, Answer.response_id == Response.id)
            .join(Question, Question.id == Answer.question_id)
            .join(Survey, Survey.id == Response.survey_id)
            .where(
                Question.question_type == "nps",
                Response.status == "complete",
                Response.stakeholder_id.is_not(None),
                Survey.confidential.is_(False),
                Answer.value_number.is_not(None),
                answered_at >= start,
                answered_at < end,
            )
            .order_by(Response.stakeholder_id, answered_at),
            ("sid", "at", "score"),
        ),
        "at",
    )
    cases = _times(
        _frame(
            session,
            select(Case.stakeholder_id, Case.opened_at, Case.closed_at).where(
                Case.stakeholder_id.is_not(None), Case.opened_at < end
            ),
            ("sid", "opened_at", "closed_at"),
        ),
        "opened_at",
        "closed_at",
    )
    feedback = _times(
        _frame(
            session,
            select(
                FeedbackItem.stakeholder_id,
                FeedbackItem.received_at,
                FeedbackAnalysis.sentiment_label,
            )
            .join(FeedbackAnalysis, FeedbackAnalysis.feedback_item_id == FeedbackItem.id)
            .where(
                FeedbackItem.stakeholder_id.is_not(None),
                FeedbackItem.received_at >= start,
                FeedbackItem.received_at < end,
            ),
            ("sid", "at", "label"),
        ),
        "at",
    )
    feedback["negative"] = feedback["label"] == "negative"
    preferences = _frame(
        session,
        select(ChannelPreference.stakeholder_id, ChannelPreference.channel_code),
        ("sid", "channel"),
    )
    profiled = permitted(session, people["id"].tolist(), purpose="profiling")
    return History(
        start, end, people, interactions, inquiries, nps, cases, feedback, preferences, profiled
    )


def _pair_inquiries(interactions: pd.DataFrame) -> pd.DataFrame:
    """Each medical inquiry with the time of its answer: the person's next answer after it."""
    asked = interactions.loc[
        (interactions["type"] == INQUIRY) & (interactions["direction"] == "inbound"), ["sid", "at"]
    ]
    answers = interactions.loc[
        (interactions["type"] == INQUIRY_ANSWER) & (interactions["direction"] == "outbound"),
        ["sid", "at"],
    ].rename(columns={"at": "answered_at"})
    if asked.empty:
        return pd.DataFrame({"sid": [], "at": [], "answered_at": []}).astype(
            {"sid": "int64", "at": "datetime64[ns]", "answered_at": "datetime64[ns]"}
        )
    paired = pd.merge_asof(
        asked.sort_values("at"),
        answers.sort_values("answered_at"),
        left_on="at",
        right_on="answered_at",
        by="sid",
        direction="forward",
        allow_exact_matches=False,
    )
    return paired.reset_index(drop=True)


def _count(series: pd.Series, index: pd.Index) -> np.ndarray:
    counts = series.value_counts()
    result: np.ndarray = counts.reindex(index, fill_value=0).to_numpy(dtype=float)
    return result


def features_at(history: History, cutoff: datetime) -> pd.DataFrame:
    """One row per stakeholder in the population at ``cutoff``: its features (index: id)."""
    t = np.datetime64(cutoff, "ns")
    inter = history.interactions
    at = inter["at"].to_numpy()
    window = inter.loc[(at >= t - BASELINE_DAYS * DAY) & (at < t)]
    baseline = window["sid"].value_counts()
    eligible = baseline[baseline >= MIN_BASELINE].index
    types = history.stakeholders.set_index("id")["type"]
    eligible = pd.Index(
        sorted(set(eligible) & set(types.index) & history.profiled), dtype="int64", name="id"
    )
    w_at = window["at"].to_numpy()
    last90 = window.loc[w_at >= t - 90 * DAY]
    last30 = window.loc[w_at >= t - 30 * DAY]
    before30 = window.loc[w_at < t - 30 * DAY]
    frame = pd.DataFrame(index=eligible)
    frame["contacts_90"] = np.log1p(_count(last90["sid"], eligible))
    rate30 = _count(last30["sid"], eligible) / 30.0
    rate_before = _count(before30["sid"], eligible) / (BASELINE_DAYS - 30.0)
    frame["contact_trend"] = np.log((rate30 + 0.02) / (rate_before + 0.02))

    outbound = last90.loc[last90["direction"] == "outbound"]
    week = ((t - outbound["at"].to_numpy()) // (7 * DAY)).astype(int)
    departments = outbound.assign(week=week).groupby(["sid", "week"])["department"].nunique()
    busy = departments[departments >= 3].reset_index()["sid"]
    frame["ping_pong_90"] = _count(busy, eligible)

    inquiries = history.inquiries
    answered = inquiries.loc[
        (inquiries["answered_at"] >= t - BASELINE_DAYS * DAY) & (inquiries["answered_at"] < t)
    ]
    delay = (answered["answered_at"] - answered["at"]) / pd.Timedelta(days=1)
    frame["late_answers_180"] = _count(answered.loc[delay > LATE_ANSWER_DAYS, "sid"], eligible)
    mean_delay = delay.groupby(answered["sid"]).mean()
    frame["answer_days_180"] = mean_delay.reindex(eligible, fill_value=0.0).to_numpy()
    open_now = inquiries.loc[
        (inquiries["at"] >= t - 60 * DAY)
        & (inquiries["at"] < t)
        & (inquiries["answered_at"].isna() | (inquiries["answered_at"] >= t))
    ]
    frame["open_requests"] = _count(open_now["sid"], eligible)
    frame["poor_outcomes_90"] = _count(
        last90.loc[last90["outcome"].isin(POOR_OUTCOMES), "sid"], eligible
    )

    cases = history.cases
    opened = cases["opened_at"].to_numpy()
    frame["cases_180"] = _count(
        cases.loc[(opened >= t - BASELINE_DAYS * DAY) & (opened < t), "sid"], eligible
    )
    still_open = cases.loc[
        (opened < t) & (cases["closed_at"].isna() | (cases["closed_at"].to_numpy() >= t))
    ]
    frame["open_cases"] = _count(still_open["sid"], eligible)

    scores = history.nps.loc[history.nps["at"].to_numpy() < t]
    position = scores.groupby("sid").cumcount(ascending=False).to_numpy()  # 0: the last
    last = scores.loc[position == 0].set_index("sid")["score"]
    previous = scores.loc[position == 1].set_index("sid")["score"]
    mean_score = float(scores["score"].mean()) if len(scores) else 7.0
    frame["last_nps"] = last.reindex(eligible).fillna(mean_score).to_numpy()
    frame["no_nps"] = (~eligible.isin(last.index)).astype(float)
    drop = (previous - last.reindex(previous.index)).reindex(eligible).fillna(0.0)
    frame["nps_drop"] = drop.to_numpy()

    feedback = history.feedback
    f_at = feedback["at"].to_numpy()
    recent_feedback = feedback.loc[(f_at >= t - BASELINE_DAYS * DAY) & (f_at < t)]
    frame["negative_feedback_180"] = _count(
        recent_feedback.loc[recent_feedback["negative"], "sid"], eligible
    )

    off = np.zeros(len(eligible))
    if len(outbound) and len(history.preferences):
        wanted = history.preferences
        has_preference = outbound["sid"].isin(wanted["sid"]).to_numpy()
        asked_for = pd.MultiIndex.from_frame(wanted[["sid", "channel"]])
        on_asked = pd.MultiIndex.from_frame(outbound[["sid", "channel"]]).isin(asked_for)
        counted = outbound.loc[has_preference]
        share = (
            pd.Series(~on_asked[has_preference], index=counted.index).groupby(counted["sid"]).mean()
        )
        off = share.reindex(eligible, fill_value=0.0).to_numpy(dtype=float)
    frame["off_preference_90"] = off
    frame.insert(0, "stakeholder_type", types.reindex(eligible).to_numpy())
    return frame


def labels_at(history: History, cutoff: datetime, population: pd.Index) -> pd.Series:
    """1 when a stakeholder turned detractor (an NPS answer 0-6) or disengaged (contacts at most
    ``DISENGAGED_RATIO`` of their baseline rate) in ``[cutoff, cutoff + HORIZON_DAYS)``."""
    t = np.datetime64(cutoff, "ns")
    horizon = t + HORIZON_DAYS * DAY
    at = history.interactions["at"].to_numpy()
    sid = history.interactions["sid"]
    baseline = _count(sid[(at >= t - BASELINE_DAYS * DAY) & (at < t)], population)
    after = _count(sid[(at >= t) & (at < horizon)], population)
    disengaged = after <= DISENGAGED_RATIO * baseline * HORIZON_DAYS / BASELINE_DAYS
    nps_at = history.nps["at"].to_numpy()
    later = history.nps.loc[(nps_at >= t) & (nps_at < horizon)]
    detractors = later.loc[later["score"] <= DETRACTOR_MAX, "sid"].unique()
    label = disengaged | population.isin(detractors)
    return pd.Series(label.astype(int), index=population, name="label")


def last_nps_at(history: History, cutoff: datetime, population: pd.Index) -> pd.Series:
    """Their last NPS answer before ``cutoff`` (NaN when none): the last-score baseline."""
    scores = history.nps.loc[history.nps["at"].to_numpy() < np.datetime64(cutoff, "ns")]
    return scores.groupby("sid")["score"].last().reindex(population)


def history_span(cutoffs: Sequence[datetime], *, with_labels: bool) -> tuple[datetime, datetime]:
    start = min(cutoffs) - timedelta(days=BASELINE_DAYS)
    end = max(cutoffs) + timedelta(days=HORIZON_DAYS if with_labels else 0)
    return start, end
