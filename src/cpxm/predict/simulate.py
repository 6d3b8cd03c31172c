"""What acting on the model would be worth on the demo: outreach to the top 10% by risk, to a
random 10%, or to nobody, and the NPS that follows.

Only the demo can answer this, because only the demo knows who was going to drift and how
outreach changes that (its manifest: ``effects.drift``). At the held-out test cut-off, with the
evaluation model (which never saw that period), each policy picks whom to reach. A person's later
NPS answer is drawn from the demo's own answers of people not drifting, lowered by the planted
drift effect when they drift within the following 90 days; an outreach before their drift day
prevents it with the planted probability. NPS is then taken over everyone in the population as
if all answered (a simulation, not a survey), and the gain over no action gets a 95% interval
from repeating the draws (people resampled, outreach successes and scores redrawn).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.demo.models import DemoRun
from cpxm.errors import DomainError
from cpxm.predict.features import FEATURE_NAMES, HORIZON_DAYS, features_at, load_history
from cpxm.predict.model import RiskModel
from cpxm.predict.service import latest_model
from cpxm.predict.training import driver_recovery

POLICIES = ("top_risk", "random", "no_action")


@dataclass(frozen=True)
class PolicyResult:
    policy: str
    reached: int
    drifters_reached: int
    nps: float
    gain: float  # NPS points over no action
    gain_low: float
    gain_high: float


@dataclass(frozen=True)
class Simulation:
    cutoff: datetime
    people: int
    drifting: int  # drift day within the 90 days after the cut-off
    share: float
    rounds: int
    results: list[PolicyResult]
    # Per planted driver: drifters whose signs show at the cut-off, and how often the model
    # names that driver among its top three reasons for them.
    drivers: dict[str, dict[str, float]]


def _nps(scores: np.ndarray) -> float:
    return float(100 * ((scores >= 9).mean() - (scores <= 6).mean()))


def simulate_outreach(
    session: Session, *, share: float = 0.10, rounds: int = 500, seed: int = 0
) -> Simulation:
    run = session.scalar(select(DemoRun).order_by(DemoRun.id.desc()).limit(1))
    drift: dict[str, Any] | None = run.manifest["effects"].get("drift") if run else None
    if drift is None:
        raise DomainError(
            "the simulation needs the demo's planted drift: run `cpxm demo --drift --fresh`"
        )
    model = latest_model(session)
    evaluation = model.metrics.get("evaluation_parameters")
    if evaluation is None:
        raise DomainError("refit the model (`cpxm predict fit`): it predates the simulation")
    risk_model = RiskModel.from_json(evaluation)
    cutoff = model.test_cutoff
    history = load_history(
        session, start=cutoff - timedelta(days=365), end=cutoff + timedelta(days=HORIZON_DAYS)
    )
    frame = features_at(history, cutoff)
    risk = risk_model.risk(frame[list(FEATURE_NAMES)].to_numpy(float))
    ids = frame.index.to_numpy()
    horizon = cutoff + timedelta(days=HORIZON_DAYS)
    drift_at = np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[s]")
    for position, sid in enumerate(ids.tolist()):
        planted = drift["people"].get(str(sid))
        if planted and not planted["decoy"] and planted["drift_at"]:
            drift_at[position] = np.datetime64(planted["drift_at"])
    start, end = np.datetime64(cutoff, "s"), np.datetime64(horizon, "s")
    drifting = ~np.isnat(drift_at) & (drift_at >= start) & (drift_at < end)
    # Answers of people not drifting: the demo's score distribution without the planted drop.
    answers = history.nps
    drifter_ids = {int(k) for k, v in drift["people"].items() if not v["decoy"]}
    pool = answers.loc[~answers["sid"].isin(drifter_ids), "score"].to_numpy(float)
    if len(pool) == 0 or len(ids) == 0:
        raise DomainError("too few NPS answers or people to simulate")
    effect = float(drift["nps_effect"])
    prevents = float(drift["outreach_prevents"])
    count = max(1, round(share * len(ids)))
    top = np.argsort(-risk, kind="stable")[:count]
    rng = np.random.default_rng(seed)
    gains: dict[str, list[float]] = {policy: [] for policy in POLICIES}
    points: dict[str, list[float]] = {policy: [] for policy in POLICIES}
    reached_drifters: dict[str, list[int]] = {policy: [] for policy in POLICIES}
    for _ in range(rounds):
        sample = rng.integers(0, len(ids), len(ids))
        base = rng.choice(pool, len(ids))
        success = rng.random(len(ids)) < prevents
        chosen = {
            "top_risk": np.isin(np.arange(len(ids)), top),
            "random": np.isin(np.arange(len(ids)), rng.choice(len(ids), count, replace=False)),
            "no_action": np.zeros(len(ids), bool),
        }
        outcome = {}
        for policy, reached in chosen.items():
            drifts = drifting & ~(reached & success)
            scores = np.clip(np.round(base + np.where(drifts, effect, 0.0)), 0, 10)
            outcome[policy] = _nps(scores[sample])
            reached_drifters[policy].append(int((reached & drifting).sum()))
        for policy in POLICIES:
            points[policy].append(outcome[policy])
            gains[policy].append(outcome[policy] - outcome["no_action"])
    results = []
    for policy in POLICIES:
        low, high = np.percentile(gains[policy], [2.5, 97.5])
        results.append(
            PolicyResult(
                policy,
                0 if policy == "no_action" else count,
                round(float(np.mean(reached_drifters[policy]))),
                float(np.mean(points[policy])),
                float(np.mean(gains[policy])),
                float(low),
                float(high),
            )
        )
    # Drifting within the warning window after the cut-off: their signs are in the data now.
    warned = cutoff + timedelta(days=float(drift["warning_days"]))
    signs_visible = {
        int(k): v["driver"]
        for k, v in drift["people"].items()
        if not v["decoy"]
        and v["drift_at"]
        and cutoff <= datetime.fromisoformat(v["drift_at"]) < warned
    }
    drivers = driver_recovery(risk_model, frame, signs_visible)
    return Simulation(cutoff, len(ids), int(drifting.sum()), share, rounds, results, drivers)
