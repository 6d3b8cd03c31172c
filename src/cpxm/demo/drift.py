"""Planted drift: HCPs who are about to disengage and turn detractor, and the signs that came first.

The prediction model (``cpxm.predict``) must find these people from what the store holds, and
name the reason. A drifter gets one *driver*, visible in the weeks before their drift day:

- ``late_answers``: two medical inquiries answered 15-30 days late;
- ``ping_pong``: two bursts of outbound contacts from three departments within a week;
- ``poor_service``: three service calls that ended badly (unresolved, complaint raised).

From the drift day on, their contacts are thinned to ``RATE_MULTIPLIER``, and they answer the
next relationship survey ``NPS_EFFECT`` points lower: they tell us, unlike the silent
detractors. Decoys get the same signs and do not drift, so a sign is evidence, not proof. Drift
days run past the reference date, so some people show the signs now and drift only later: the
people an outreach could still keep.

The choice, the signs and the thinning are drawn from their own generator (seed, 7, chunk), so
the chunk's other draws are not consumed; the rows drawn after them (contacts' details, survey
answers) still shift, so the demo's figures move a little from before drift was planted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cpxm.demo.activity import EventBatch, to_datetime
from cpxm.demo.catalog import ACTIVITY_INDEX
from cpxm.demo.surveys import BURST_DEPARTMENTS, BURST_KINDS, Planned
from cpxm.demo.taxonomy import HISTORY_DAYS

DRIFT_SHARE = 0.10  # of HCPs who are not silent detractors
DECOY_SHARE = 0.04  # show a driver's signs and do not drift
DRIVERS = ("late_answers", "ping_pong", "poor_service")
WARNING_DAYS = 45.0  # the signs fall in the WARNING_DAYS before the drift day
DRIFT_START = 150.0  # drift days are uniform in [DRIFT_START, DRIFT_END), days since history start
DRIFT_END = 640.0  # beyond the reference date (day 548): some drift only after it
RATE_MULTIPLIER = 0.15
NPS_EFFECT = -3.0
# The planted response to a proactive outreach by the owning team before the drift day: the
# drift does not happen with this probability; an outreach to someone not drifting changes nothing.
OUTREACH_PREVENTS = 0.6


@dataclass
class Drift:
    """A chunk's drifters: per person index, the drift day (inf: none) and the driver."""

    day: np.ndarray
    driver: dict[int, str] = field(default_factory=dict)  # drifters and decoys
    decoys: set[int] = field(default_factory=set)

    def nps_shift(self, person: int, day: float) -> float:
        return NPS_EFFECT if day >= self.day[person] else 0.0

    def answering(
        self,
        rng: np.random.Generator,
        planned: list[Planned],
        unanswered: list[tuple[int, float]],
    ) -> tuple[list[Planned], list[tuple[int, float]]]:
        """Drifters answer the relationship survey sent after their drift day: they are not
        silent detractors, they tell us (so the silent-disengagement rule rightly passes them by).
        """
        answered = list(planned)
        still: list[tuple[int, float]] = []
        for person, sent in unanswered:
            started = sent + float(rng.uniform(0.5, 5.0))
            if self.day[person] <= sent and started < HISTORY_DAYS:
                answered.append(Planned(person, sent, started, False))
            else:
                still.append((person, sent))
        return answered, still


def plant_drift(
    rng: np.random.Generator, size: int, eligible: np.ndarray, events: EventBatch
) -> tuple[Drift, EventBatch]:
    """Choose drifters and decoys among a chunk of ``size`` HCPs (``eligible``: not silent
    detractors, and never withdrawing survey consent, so they can tell us), add their signs to
    ``events`` and thin the drifters' contacts after their drift day."""
    draw = rng.random(size)
    drifting = (draw < DRIFT_SHARE) & eligible
    decoy = (draw >= DRIFT_SHARE) & (draw < DRIFT_SHARE + DECOY_SHARE) & eligible
    day = rng.uniform(DRIFT_START, DRIFT_END, size)
    drivers = rng.integers(0, len(DRIVERS), size)
    drift = Drift(day=np.where(drifting, day, np.inf))
    signs: list[EventBatch] = []
    for person in np.flatnonzero(drifting | decoy).tolist():
        driver = DRIVERS[int(drivers[person])]
        drift.driver[person] = driver
        if decoy[person]:
            drift.decoys.add(person)
        signs.append(_signs(rng, person, float(day[person]), driver))
    keep = (events.day < drift.day[events.person]) | (rng.random(len(events)) < RATE_MULTIPLIER)
    events = events.select(keep)
    if signs:
        added = EventBatch.concat(signs)
        events = EventBatch.concat(
            [events, added.select((added.day >= 0) & (added.day < HISTORY_DAYS))]
        )
    return drift, events


def _signs(rng: np.random.Generator, person: int, day: float, driver: str) -> EventBatch:
    start = day - WARNING_DAYS
    if driver == "late_answers":
        asked = np.sort(rng.uniform(start - 20, day - 25, 2))
        delay = rng.uniform(15, 30, 2)
        inquiry = ACTIVITY_INDEX["inquiry_email"]
        answer = ACTIVITY_INDEX["medical_inquiry_response"]
        return EventBatch(
            np.full(4, person, np.int64),
            np.concatenate([asked, asked + delay]),
            np.array([inquiry, inquiry, answer, answer], np.int64),
            np.array([0, 0, -1, -1], np.int64),
            np.concatenate([np.full(2, np.nan), delay]),
        )
    if driver == "ping_pong":
        days: list[float] = []
        kinds: list[int] = []
        for burst in rng.uniform(start, day, 2).tolist():
            for department in rng.choice(len(BURST_DEPARTMENTS), 3, replace=False).tolist():
                keys = BURST_KINDS[BURST_DEPARTMENTS[department]]
                days.append(burst + float(rng.uniform(0, 5)))
                kinds.append(ACTIVITY_INDEX[keys[int(rng.integers(0, len(keys)))]])
        size = len(days)
        return EventBatch(
            np.full(size, person, np.int64),
            np.array(days),
            np.array(kinds, np.int64),
            rng.choice(np.array([-1, 0, 1]), size=size, p=(0.3, 0.4, 0.3)),
            np.full(size, np.nan),
        )
    calls = np.sort(rng.uniform(start, day, 3))
    return EventBatch(
        np.full(3, person, np.int64),
        calls,
        np.full(3, ACTIVITY_INDEX["service_call"], np.int64),
        np.full(3, -1, np.int64),
        np.full(3, np.nan),
    )


def manifest_drift(drifters: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The planted drift for the manifest, keyed by the golden records' ids."""
    people = {
        str(stakeholder_id): {
            "driver": planted["driver"],
            "decoy": planted["decoy"],
            "drift_at": (
                to_datetime(float(planted["day"])).isoformat()
                if planted["day"] is not None
                else None
            ),
        }
        for stakeholder_id, planted in sorted(drifters.items())
    }
    return {
        "definition": (
            "HCPs who drift: from drift_at on, their contacts are thinned to rate_multiplier and "
            "their relationship NPS answers lose nps_effect points. In the "
            f"{WARNING_DAYS:.0f} days before, their driver shows: late_answers (two medical "
            "inquiries answered 15-30 days late), ping_pong (two bursts of outbound contacts "
            "from three departments), poor_service (three service calls that ended badly). "
            "Decoys show a driver's signs and do not drift. An outreach by the owning team "
            "before drift_at prevents the drift with probability outreach_prevents."
        ),
        "drivers": list(DRIVERS),
        "warning_days": WARNING_DAYS,
        "rate_multiplier": RATE_MULTIPLIER,
        "nps_effect": NPS_EFFECT,
        "outreach_prevents": OUTREACH_PREVENTS,
        "count": sum(1 for planted in drifters.values() if not planted["decoy"]),
        "decoys": sum(1 for planted in drifters.values() if planted["decoy"]),
        "people": people,
    }
