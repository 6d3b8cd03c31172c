"""What acting on the model would be worth on the demo: outreach to the top 10% by risk, to a
random 10%, to the drifters themselves (perfect foresight: the ceiling), or to nobody.

Only the demo can answer this, because only the demo knows who was going to drift and how
outreach changes that (its manifest: ``effects.drift``). At the held-out test cut-off, with the
evaluation model (which never saw that period), each policy picks whom to reach. The outreach
happens when the next-best-action rules allow, not at once: ``HOLD_BACK_DAYS`` after our last
outbound contact with the person (any department), never before the cut-off; it prevents the
drift with the planted probability only when it comes before the drift day. A person's later NPS
answer is drawn from the demo's own answers of people not drifting, lowered by the planted drift
effect when they drift within the following 90 days. NPS is then taken over everyone in the
population as if all answered (a simulation, not a survey).

Reported per policy, each with a 95% interval from repeating the draws (people resampled,
answers and outreach successes redrawn): drifts prevented, drifts prevented per 100 outreaches,
and the gain in later NPS over no action; and, paired in the same draws, the gain of targeting
by risk over reaching people at random, which is the model's own worth.
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
from cpxm.predict.outreach import HOLD_BACK_DAYS
from cpxm.predict.service import latest_model
from cpxm.predict.training import driver_recovery

POLICIES = ("top_risk", "random", "perfect_foresight", "no_action")


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float


def _interval(values: list[float]) -> Interval:
    low, high = np.percentile(values, [2.5, 97.5])
    return Interval(float(np.mean(values)), float(low), float(high))


@dataclass(frozen=True)
class PolicyResult:
    policy: str
    reached: int
    drifters_reached: int  # reached before their drift day
    prevented: Interval  # drifts prevented
    per_100: Interval  # drifts prevented per 100 outreaches
    nps: float
    gain: Interval  # NPS points over no action

    # The figures the CLI and earlier reports print.
    @property
    def gain_low(self) -> float:
        return self.gain.low

    @property
    def gain_high(self) -> float:
        return self.gain.high


@dataclass(frozen=True)
class Simulation:
    cutoff: datetime
    people: int
    drifting: int  # drift day within the 90 days after the cut-off
    visible: int  # of those, drifting within the warning window: their signs show at the cut-off
    share: float
    rounds: int
    results: list[PolicyResult]
    # Targeting by risk against reaching as many at random, paired in the same draws.
    risk_over_random: Interval  # NPS points
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
    if len(ids) == 0:
        raise DomainError("nobody to simulate at the test cut-off")
    horizon = cutoff + timedelta(days=HORIZON_DAYS)
    drift_at = np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[s]")
    for position, sid in enumerate(ids.tolist()):
        planted = drift["people"].get(str(sid))
        if planted and not planted["decoy"] and planted["drift_at"]:
            drift_at[position] = np.datetime64(planted["drift_at"])
    start, end = np.datetime64(cutoff, "s"), np.datetime64(horizon, "s")
    drifting = ~np.isnat(drift_at) & (drift_at >= start) & (drift_at < end)
    warned = np.datetime64(cutoff + timedelta(days=float(drift["warning_days"])), "s")
    visible = drifting & (drift_at < warned)
    # When the outreach can happen: the next-best-action hold-back after our last contact.
    outbound = history.interactions
    outbound = outbound[(outbound["direction"] == "outbound") & (outbound["at"] < cutoff)]
    last_contact = outbound.groupby("sid")["at"].max()
    reach_at = np.array(
        [
            max(start, np.datetime64(last, "s") + np.timedelta64(HOLD_BACK_DAYS, "D"))
            if (last := last_contact.get(sid)) is not None
            else start
            for sid in ids.tolist()
        ],
        dtype="datetime64[s]",
    )
    in_time = drifting & (reach_at < np.where(drifting, drift_at, end))
    # Answers of people not drifting: the demo's score distribution without the planted drop.
    answers = history.nps
    drifter_ids = {int(k) for k, v in drift["people"].items() if not v["decoy"]}
    pool = answers.loc[~answers["sid"].isin(drifter_ids), "score"].to_numpy(float)
    if len(pool) == 0:
        raise DomainError("too few NPS answers to simulate")
    effect = float(drift["nps_effect"])
    prevents = float(drift["outreach_prevents"])
    count = max(1, round(share * len(ids)))
    everyone = np.arange(len(ids))
    top = np.isin(everyone, np.argsort(-risk, kind="stable")[:count])
    # Perfect foresight reaches the drifters it can still reach in time, then no one else.
    foresight = np.isin(everyone, np.flatnonzero(in_time)[:count])
    rng = np.random.default_rng(seed)
    gains: dict[str, list[float]] = {policy: [] for policy in POLICIES}
    points: dict[str, list[float]] = {policy: [] for policy in POLICIES}
    saved: dict[str, list[float]] = {policy: [] for policy in POLICIES}
    reached_in_time: dict[str, list[int]] = {policy: [] for policy in POLICIES}
    over_random: list[float] = []
    for _ in range(rounds):
        sample = rng.integers(0, len(ids), len(ids))
        base = rng.choice(pool, len(ids))
        success = rng.random(len(ids)) < prevents
        chosen = {
            "top_risk": top,
            "random": np.isin(everyone, rng.choice(len(ids), count, replace=False)),
            "perfect_foresight": foresight,
            "no_action": np.zeros(len(ids), bool),
        }
        outcome = {}
        for policy, reached in chosen.items():
            kept = reached & in_time & success
            drifts = drifting & ~kept
            scores = np.clip(np.round(base + np.where(drifts, effect, 0.0)), 0, 10)
            outcome[policy] = _nps(scores[sample])
            saved[policy].append(float(kept[sample].sum()))
            reached_in_time[policy].append(int((reached & in_time).sum()))
        for policy in POLICIES:
            points[policy].append(outcome[policy])
            gains[policy].append(outcome[policy] - outcome["no_action"])
        over_random.append(outcome["top_risk"] - outcome["random"])
    results = []
    for policy in POLICIES:
        size = 0 if policy == "no_action" else int(chosen[policy].sum())
        results.append(
            PolicyResult(
                policy,
                size,
                round(float(np.mean(reached_in_time[policy]))),
                _interval(saved[policy]),
                _interval([100 * v / size if size else 0.0 for v in saved[policy]]),
                float(np.mean(points[policy])),
                _interval(gains[policy]),
            )
        )
    # Drifting within the warning window after the cut-off: their signs are in the data now.
    signs_visible = {
        int(k): v["driver"]
        for k, v in drift["people"].items()
        if not v["decoy"]
        and v["drift_at"]
        and cutoff
        <= datetime.fromisoformat(v["drift_at"])
        < cutoff + timedelta(days=float(drift["warning_days"]))
    }
    drivers = driver_recovery(risk_model, frame, signs_visible)
    return Simulation(
        cutoff,
        len(ids),
        int(drifting.sum()),
        int(visible.sum()),
        share,
        rounds,
        results,
        _interval(over_random),
        drivers,
    )
