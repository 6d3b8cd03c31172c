"""Prediction's public surface: fit a model version, score everyone, and list who is at risk.

Other domains (the digest, the initiatives backlog) read the at-risk list through
``at_risk_stakeholders``; everything else here is the CLI's and the API's. Service functions
flush and never commit: the command or the request owns the transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cpxm.access import Principal, Protected, hidden_person_types, shield_analytics_rows
from cpxm.access.purposes import CONSENT_NEEDED, OBJECTION_STOPS, objecting
from cpxm.access.records import may_see
from cpxm.db import bulk_insert
from cpxm.errors import DomainError
from cpxm.predict.models import PredictionModel, PredictionScore
from cpxm.stakeholders.models import Stakeholder
from cpxm.timeutil import utc_now

# Reasons drawn from medical-inquiry handling: behind the medical/commercial firewall.
MEDICAL_FEATURES = frozenset({"late_answers_180", "answer_days_180", "open_requests"})
MEDICAL_WITHHELD = "a reason from medical information (withheld from your role)"


class NoModel(DomainError):
    status_code = 404


def fit_model(session: Session, *, end: datetime | None = None) -> PredictionModel:
    """Fit, evaluate on the held-out period and store a new model version."""
    # pandas and scikit-learn load here, not when the app or the CLI starts.
    from cpxm.predict.training import fit_and_evaluate

    fitted = fit_and_evaluate(session, end=end)
    version = int(session.scalar(select(func.coalesce(func.max(PredictionModel.version), 0))) or 0)
    row = PredictionModel(
        version=version + 1,
        created_at=utc_now(),
        trained_through=fitted.trained_through,
        test_cutoff=fitted.test_cutoff,
        examples=fitted.examples,
        parameters=fitted.model.to_json(),
        metrics=_plain(fitted.metrics),
        seconds=round(fitted.seconds, 3),
    )
    session.add(row)
    session.flush()
    return row


def _plain(value: Any) -> Any:
    """JSON-safe: numpy numbers to floats, NaN to None."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return None if np.isnan(number) else round(number, 6)
    return value


def latest_model(session: Session) -> PredictionModel:
    found = session.scalar(
        select(PredictionModel).order_by(PredictionModel.version.desc()).limit(1)
    )
    if found is None:
        raise NoModel("no prediction model yet: run `cpxm predict fit` first")
    return found


@dataclass
class Scoring:
    model_version: int
    as_of: datetime
    scored: int
    seconds: float
    top_reasons: dict[str, int] = field(default_factory=dict)


def score_stakeholders(
    session: Session, *, model: PredictionModel | None = None, as_of: datetime | None = None
) -> Scoring:
    """Score everyone in the population at ``as_of`` (default: the end of the data) and store
    the scores with their reasons; scoring the same model and day again replaces them."""
    from cpxm.predict.features import BASELINE_DAYS, FEATURE_NAMES, features_at, load_history
    from cpxm.predict.model import RiskModel
    from cpxm.predict.reasons import reasons_for
    from cpxm.predict.training import newest_day

    started = time.perf_counter()
    model = model or latest_model(session)
    as_of = as_of or newest_day(session)
    risk_model = RiskModel.from_json(model.parameters)
    history = load_history(session, start=as_of - timedelta(days=BASELINE_DAYS), end=as_of)
    frame = features_at(history, as_of)
    values = frame[list(FEATURE_NAMES)].to_numpy(float)
    risk = risk_model.risk(values)
    order = np.lexsort((-risk_model.logit(values), -risk))
    contributions = risk_model.contributions(values)
    session.execute(
        delete(PredictionScore).where(
            PredictionScore.model_id == model.id, PredictionScore.as_of == as_of
        )
    )
    now = utc_now()
    ids = frame.index.to_numpy()
    rows = []
    top: dict[str, int] = {}
    for rank, row in enumerate(order.tolist(), 1):
        reasons = reasons_for(risk_model.features, values[row], contributions[row])
        if reasons and rank <= max(1, len(order) // 10):
            top[reasons[0]["feature"]] = top.get(reasons[0]["feature"], 0) + 1
        rows.append(
            (model.id, int(ids[row]), as_of, now, float(risk[row]), rank, {"reasons": reasons})
        )
    bulk_insert(
        session.connection(),
        PredictionScore.__table__,  # type: ignore[arg-type]
        rows,
        columns=("model_id", "stakeholder_id", "as_of", "scored_at", "risk", "rank", "reasons"),
    )
    session.flush()
    return Scoring(
        model.version,
        as_of,
        len(rows),
        time.perf_counter() - started,
        dict(sorted(top.items(), key=lambda item: -item[1])),
    )


@dataclass(frozen=True)
class AtRiskStakeholder:
    """One person at risk as the viewer may see them (``stakeholder_id`` None and a key for a
    patient the role sees only pseudonymised)."""

    stakeholder_id: int | None
    stakeholder_key: str | None
    name: str
    stakeholder_type: str
    country_code: str | None
    risk: float
    rank: int
    reasons: list[dict[str, Any]]
    model_version: int
    as_of: datetime


@dataclass(frozen=True)
class AtRiskPage:
    items: list[AtRiskStakeholder]
    total: int
    model_version: int | None
    as_of: datetime | None


def _latest_scoring(session: Session) -> tuple[PredictionModel, datetime] | None:
    found = session.execute(
        select(PredictionModel, PredictionScore.as_of)
        .join(PredictionScore, PredictionScore.model_id == PredictionModel.id)
        .order_by(PredictionScore.scored_at.desc(), PredictionModel.version.desc())
        .limit(1)
    ).first()
    return (found[0], found[1]) if found is not None else None


@dataclass(frozen=True)
class TopRisk:
    """The highest-risk share of one scoring, for reports that group people themselves (the
    digest): ids unshielded, so the caller shields names for its reader."""

    model_version: int
    as_of: datetime
    scored: int  # people in that scoring, before any filter
    share: float
    people: list[tuple[int, str, float]]  # (stakeholder id, type, risk), highest risk first


TOP_RISK_SHARE = 0.10  # the share the outreach acts on, and the digest lists
SCORES_USABLE_DAYS = 62  # a scoring older than this before a period says nothing of it


def top_risk_people(
    session: Session,
    *,
    through: datetime,
    share: float = TOP_RISK_SHARE,
    exclude_types: tuple[str, ...] = (),
) -> TopRisk | None:
    """The top ``share`` by risk of the newest scoring made as of ``through`` or earlier (and
    not more than ``SCORES_USABLE_DAYS`` before it), or None when there is none: callers fall
    back to a rule and say so. Objectors and inactive records are left out, as everywhere."""
    found = session.execute(
        select(PredictionModel, PredictionScore.as_of)
        .join(PredictionScore, PredictionScore.model_id == PredictionModel.id)
        .where(
            PredictionScore.as_of <= through,
            PredictionScore.as_of > through - timedelta(days=SCORES_USABLE_DAYS),
        )
        .order_by(PredictionScore.as_of.desc(), PredictionModel.version.desc())
        .limit(1)
    ).first()
    if found is None:
        return None
    model, as_of = found[0], found[1]
    of_scoring = (PredictionScore.model_id == model.id, PredictionScore.as_of == as_of)
    scored = int(
        session.scalar(select(func.count()).select_from(PredictionScore).where(*of_scoring)) or 0
    )
    cut = max(1, round(share * scored))
    query = (
        select(Stakeholder.id, Stakeholder.type, PredictionScore.risk)
        .join(Stakeholder, Stakeholder.id == PredictionScore.stakeholder_id)
        .where(*of_scoring, PredictionScore.rank <= cut, Stakeholder.status == "active")
        .order_by(PredictionScore.rank)
    )
    if exclude_types:
        query = query.where(Stakeholder.type.not_in(exclude_types))
    objectors = sorted(objecting(session))
    if objectors:
        query = query.where(Stakeholder.id.not_in(objectors))
    people = [(sid, kind, float(risk)) for sid, kind, risk in session.execute(query)]
    return TopRisk(model.version, as_of, scored, share, people)


def at_risk_stakeholders(
    session: Session,
    principal: Principal,
    *,
    limit: int = 50,
    offset: int = 0,
    min_risk: float = 0.0,
    stakeholder_type: str | None = None,
) -> AtRiskPage:
    """The latest scoring's people, highest risk first, as ``principal`` may see them.

    Left out: people who object to profiling now (an objection recorded after the scoring
    counts at once), and the types the role may not see in lists that name people
    (``cpxm.access``); reasons drawn from medical-inquiry handling are withheld from roles
    outside the medical domain. Reads of patients shown are audited.
    """
    if not 1 <= limit <= 1000:
        raise DomainError("limit must be between 1 and 1000")
    latest = _latest_scoring(session)
    if latest is None:
        return AtRiskPage([], 0, None, None)
    model, as_of = latest
    query = (
        select(PredictionScore, Stakeholder)
        .join(Stakeholder, Stakeholder.id == PredictionScore.stakeholder_id)
        .where(
            PredictionScore.model_id == model.id,
            PredictionScore.as_of == as_of,
            PredictionScore.risk >= min_risk,
            Stakeholder.status == "active",
        )
        .order_by(PredictionScore.rank)
    )
    hidden = hidden_person_types(principal)
    if hidden:
        query = query.where(Stakeholder.type.not_in(hidden))
    if stakeholder_type is not None:
        query = query.where(Stakeholder.type == stakeholder_type)
    # Profiling needs no consent, and an objection stops it (cpxm.access.purposes): the
    # objectors are few, so they are left out in the query and only one page is read.
    assert "profiling" not in CONSENT_NEEDED and "profiling" in OBJECTION_STOPS
    objectors = sorted(objecting(session))
    if objectors:
        query = query.where(Stakeholder.id.not_in(objectors))
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.execute(query.limit(limit).offset(offset)).all()
    medical = may_see(principal, Protected.MEDICAL)
    items = [
        AtRiskStakeholder(
            stakeholder_id=stakeholder.id,
            stakeholder_key=None,
            name=stakeholder.display_name,
            stakeholder_type=stakeholder.type,
            country_code=stakeholder.country_code,
            risk=round(score.risk, 4),
            rank=score.rank,
            reasons=_shown_reasons(score.reasons.get("reasons", []), medical=medical),
            model_version=model.version,
            as_of=as_of,
        )
        for score, stakeholder in rows
    ]
    shown = shield_analytics_rows(
        session, principal, items, comment_field=None, via="prediction at-risk list"
    )
    return AtRiskPage(shown, total, model.version, as_of)


def _shown_reasons(reasons: list[dict[str, Any]], *, medical: bool) -> list[dict[str, Any]]:
    if medical:
        return reasons
    return [
        {**reason, "feature": "withheld", "text": MEDICAL_WITHHELD}
        if reason["feature"] in MEDICAL_FEATURES
        else reason
        for reason in reasons
    ]
