"""Interactions: contacts drawn as Poisson processes per stakeholder, with the planted effects.

A chunk of stakeholders of one type is generated at a time, as numpy arrays: event times in days
since ``HISTORY_START``, catalogue indexes and a quality per contact. Effects that change *how
often* someone is contacted (late inquiry answers, silent detractors) thin the process: a contact
at time t survives with the product of the multipliers in force at t.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from cpxm.demo import effects
from cpxm.demo.catalog import (
    ACTIVITIES,
    ACTIVITY_DIGITAL,
    ACTIVITY_INDEX,
    ANNUAL_RATES,
    INQUIRY_KEYS,
    activity_probabilities,
)
from cpxm.demo.people import Person
from cpxm.demo.taxonomy import HISTORY_DAYS, HISTORY_START

PATIENT_SERVICE_KINDS = np.array(
    [a.department == "patient_services" and a.key != "caregiver_support_call" for a in ACTIVITIES]
)
INQUIRY_RATES = {"hcp": 1.3, "investigator": 0.5}  # inquiries per 18 months at engagement 1
START_WEEKDAY = HISTORY_START.weekday()
INQUIRY_AND_ANSWER = np.array(
    [ACTIVITY_INDEX[key] for key in (*INQUIRY_KEYS, "medical_inquiry_response")]
)


@dataclass
class EventBatch:
    """Contacts of one chunk: parallel arrays, one element per contact."""

    person: np.ndarray  # index into the chunk
    day: np.ndarray  # days since HISTORY_START, fractional
    kind: np.ndarray  # index into ACTIVITIES
    quality: np.ndarray  # -1 poor, 0 neutral, 1 good
    delay: np.ndarray  # days: answer delay for inquiry responses, else NaN

    @classmethod
    def empty(cls) -> EventBatch:
        return cls(
            np.zeros(0, np.int64),
            np.zeros(0),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0),
        )

    def __len__(self) -> int:
        return len(self.person)

    def select(self, mask: np.ndarray) -> EventBatch:
        return EventBatch(
            self.person[mask], self.day[mask], self.kind[mask], self.quality[mask], self.delay[mask]
        )

    @staticmethod
    def concat(batches: Sequence[EventBatch]) -> EventBatch:
        return EventBatch(
            np.concatenate([b.person for b in batches]),
            np.concatenate([b.day for b in batches]),
            np.concatenate([b.kind for b in batches]),
            np.concatenate([b.quality for b in batches]),
            np.concatenate([b.delay for b in batches]),
        )

    def sorted(self) -> EventBatch:
        order = np.lexsort((self.kind, self.day, self.person))
        return self.select(order)


@dataclass
class ChunkFacts:
    """The latent facts of a chunk that surveys and the manifest need later."""

    silent: np.ndarray  # bool per person
    change_day: np.ndarray  # when a silent detractor stops engaging (inf otherwise)
    enrol_day: np.ndarray  # PSP enrolment (NaN when not enrolled)
    onboarding_days: np.ndarray  # days from enrolment to the first onboarding call (NaN)
    late_windows: list[tuple[int, float]] = field(default_factory=list)  # (person, answer day)


def draw_quality(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.choice(np.array([-1, 0, 1]), size=size, p=effects.QUALITY_PROBABILITIES)


def clock(rng: np.random.Generator, day: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Put contacts a person makes into working hours on weekdays; digital ones keep any time."""
    whole = np.floor(day)
    personal = ~ACTIVITY_DIGITAL[kind]
    hours = np.where(personal, 8.0 + 10.0 * rng.random(len(day)), (day - whole) * 24.0)
    weekday = (START_WEEKDAY + whole.astype(np.int64)) % 7
    shift = np.where(personal & (weekday == 5), 2, np.where(personal & (weekday == 6), 1, 0))
    timed: np.ndarray = whole + shift + hours / 24.0
    return timed


def make_events(
    rng: np.random.Generator, person: np.ndarray, day: np.ndarray, kind: np.ndarray
) -> EventBatch:
    timed = clock(rng, day, kind)
    return EventBatch(
        person, timed, kind, draw_quality(rng, len(person)), np.full(len(person), np.nan)
    )


def generate_chunk_events(
    chunk: Sequence[Person], rng: np.random.Generator
) -> tuple[EventBatch, ChunkFacts]:
    """All contacts of a chunk of same-type stakeholders, planted effects included."""
    n = len(chunk)
    type_ = chunk[0].type
    engagement = np.array([p.engagement for p in chunk])
    facts = ChunkFacts(
        silent=np.zeros(n, bool),
        change_day=np.full(n, np.inf),
        enrol_day=np.full(n, np.nan),
        onboarding_days=np.full(n, np.nan),
    )
    if type_ == "hcp":
        facts.silent = rng.random(n) < effects.SILENT_DETRACTOR_SHARE
        change = rng.uniform(HISTORY_DAYS - 365, HISTORY_DAYS - 120, n)
        facts.change_day = np.where(facts.silent, change, np.inf)

    expected = ANNUAL_RATES[type_] / 365.0 * HISTORY_DAYS * engagement
    counts = rng.poisson(expected)
    person = np.repeat(np.arange(n), counts)
    probabilities = activity_probabilities(type_)
    if not probabilities.any():
        return EventBatch.empty(), facts
    kind = rng.choice(len(ACTIVITIES), size=len(person), p=probabilities)
    base = make_events(rng, person, rng.uniform(0, HISTORY_DAYS, len(person)), kind)
    parts = [base]

    inquiries = EventBatch.empty()
    answers = EventBatch.empty()
    if type_ in INQUIRY_RATES:
        inquiries, answers = _inquiries(rng, engagement * INQUIRY_RATES[type_], facts)
        parts += [inquiries, answers]
    if type_ == "patient":
        parts = [_patient_programme(rng, chunk, base, facts)]

    events = EventBatch.concat(parts)
    events = events.select(events.day < HISTORY_DAYS)
    keep = rng.random(len(events)) < _rate_multiplier(events, facts)
    # Inquiries and their answers stay paired: they are thinned only by silence (above).
    events = events.select(keep | np.isin(events.kind, INQUIRY_AND_ANSWER))
    return events, facts


def _inquiries(
    rng: np.random.Generator, rates: np.ndarray, facts: ChunkFacts
) -> tuple[EventBatch, EventBatch]:
    counts = rng.poisson(rates)
    person = np.repeat(np.arange(len(rates)), counts)
    keys = np.array([ACTIVITY_INDEX[key] for key in INQUIRY_KEYS])
    kind = rng.choice(keys, size=len(person), p=[0.45, 0.35, 0.20])
    asked = make_events(rng, person, rng.uniform(0, HISTORY_DAYS - 1, len(person)), kind)
    # Silent detractors ask nothing after they stop engaging.
    asked = asked.select(asked.day < facts.change_day[asked.person])
    late = rng.random(len(asked)) < 0.28
    delay = np.where(
        late,
        rng.uniform(effects.LATE_ANSWER_DAYS + 0.5, 35.0, len(asked)),
        np.clip(rng.lognormal(np.log(2.5), 0.6, len(asked)), 0.1, effects.LATE_ANSWER_DAYS - 0.5),
    )
    answer_kind = np.full(len(asked), ACTIVITY_INDEX["medical_inquiry_response"])
    answered = make_events(rng, asked.person, asked.day + delay, answer_kind)
    # Working hours may move an answer; keep it after its inquiry and measure the real delay.
    answered.day = np.maximum(answered.day, asked.day + 1.0 / 24.0)
    answered.delay = answered.day - asked.day
    within = answered.day < HISTORY_DAYS
    answered = answered.select(within)
    for person_index, day, delay_days in zip(
        answered.person.tolist(), answered.day.tolist(), answered.delay.tolist(), strict=True
    ):
        if delay_days > effects.LATE_ANSWER_DAYS:
            facts.late_windows.append((person_index, day))
    return asked, answered


def _rate_multiplier(events: EventBatch, facts: ChunkFacts) -> np.ndarray:
    multiplier = np.where(
        events.day >= facts.change_day[events.person],
        effects.SILENT_DETRACTOR_RATE_MULTIPLIER,
        1.0,
    )
    if facts.late_windows:
        order = np.argsort(events.person, kind="stable")
        sorted_person = events.person[order]
        for person_index, answer_day in facts.late_windows:
            lo, hi = np.searchsorted(sorted_person, [person_index, person_index + 1])
            rows = order[lo:hi]
            days = events.day[rows]
            inside = (days > answer_day) & (days <= answer_day + effects.LATE_ANSWER_WINDOW_DAYS)
            multiplier[rows[inside]] *= effects.LATE_ANSWER_RATE_MULTIPLIER
    return multiplier


def _patient_programme(
    rng: np.random.Generator, chunk: Sequence[Person], base: EventBatch, facts: ChunkFacts
) -> EventBatch:
    """Enrolment, onboarding after a variable delay, and programme contacts only while enrolled."""
    n = len(chunk)
    enrolled = np.array([bool(p.extra.get("psp_enrolled")) for p in chunk])
    enrol = rng.uniform(0, HISTORY_DAYS - 45, n)
    onboarding = np.clip(0.5 + rng.gamma(2.0, 3.2, n), 0.5, 30.0)
    facts.enrol_day = np.where(enrolled, enrol, np.nan)
    people = np.flatnonzero(enrolled)
    enrolment = make_events(
        rng, people, enrol[people], np.full(len(people), ACTIVITY_INDEX["psp_enrolment"])
    )
    first_call = make_events(
        rng,
        people,
        enrolment.day + onboarding[people],
        np.full(len(people), ACTIVITY_INDEX["psp_onboarding_call"]),
    )
    first_call.day = np.maximum(first_call.day, enrolment.day + 1.0 / 24.0)
    facts.onboarding_days[people] = first_call.day - enrolment.day
    welcome = make_events(
        rng,
        people,
        enrolment.day + rng.uniform(1, 6, len(people)),
        np.full(len(people), ACTIVITY_INDEX["welcome_pack"]),
    )
    # Programme contacts happen only after the first onboarding call.
    programme_start = np.full(n, np.inf)
    programme_start[people] = first_call.day
    in_programme = base.day > programme_start[base.person]
    keep = ~PATIENT_SERVICE_KINDS[base.kind] | in_programme
    return EventBatch.concat([base.select(keep), enrolment, first_call, welcome])


def to_datetimes(days: np.ndarray) -> list[datetime]:
    """Days since HISTORY_START -> naive UTC datetimes, to the second."""
    seconds = np.round(days * 86400.0).astype("timedelta64[s]")
    stamps = np.datetime64(HISTORY_START, "s") + seconds
    return stamps.astype(datetime).tolist()  # type: ignore[no-any-return]


def to_datetime(day: float) -> datetime:
    return HISTORY_START + timedelta(seconds=round(day * 86400.0))
