"""The other surveys: after-contact CSAT/CES, the patient-support programme, sites, employees."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cpxm.demo import effects
from cpxm.demo.activity import ChunkFacts, EventBatch
from cpxm.demo.catalog import ACTIVITIES
from cpxm.demo.people import Person
from cpxm.demo.surveys import INVITATION_DAYS, SurveyWriter, may_survey, sentiment_for
from cpxm.demo.taxonomy import HISTORY_DAYS
from cpxm.demo.teams import TOOLS_CSAT_PER_POINT, tools_offset, work_team

TRIGGER_KINDS = np.array(
    [
        a.key
        in (
            "rep_visit",
            "msl_meeting",
            "service_call",
            "medical_inquiry_response",
            "psp_support_call",
            "patient_call",
            "cra_call",
            "monitoring_visit",
            "caregiver_support_call",
            "patient_question",
        )
        for a in ACTIVITIES
    ]
)
TRANSACTIONAL_INVITE_RATE = 0.33
TRANSACTIONAL_RESPONSE_RATE = 0.33
AUDIENCE = {
    "hcp": "hcp",
    "investigator": "site",
    "site_staff": "site",
    "patient": "patient",
    "caregiver": "patient",
    "employee": "employee",
}
SITE_WAVES = (150.0, 420.0)
# The quarterly pulse goes out on the first of February, May, August and November: each wave's
# invitations fall in one month, which names the wave.
PULSE_WAVES = (33.0, 123.0, 215.0, 307.0, 399.0, 488.0)


def _clip_round(value: float, low: int, high: int) -> float:
    return float(np.clip(np.round(value), low, high))


def write_transactional(
    writer: SurveyWriter,
    chunk: list[Person],
    events: EventBatch,
    interaction_ids: np.ndarray,
    product_codes: list[str | None],
    tools_offsets: list[float] | None = None,
) -> None:
    """Invite after a sample of contacts; CSAT and CES follow the contact's quality, and CSAT
    the tools of the team that made the contact (``tools_offsets``, one per event)."""
    if chunk[0].kind != "person" or not len(events):
        return
    rng = writer.rng
    eligible = TRIGGER_KINDS[events.kind] & (events.day + 1.5 < HISTORY_DAYS)
    invited = np.flatnonzero(eligible & (rng.random(len(events)) < TRANSACTIONAL_INVITE_RATE))
    respond = rng.random(len(invited)) < TRANSACTIONAL_RESPONSE_RATE
    lag = rng.exponential(1.0, len(invited))
    partial = rng.random(len(invited)) < 0.05
    for slot, event in enumerate(invited.tolist()):
        person = chunk[int(events.person[event])]
        sent = float(events.day[event]) + 1.0
        if not may_survey(person, sent):
            continue
        channel = "sms" if person.type in ("patient", "caregiver") and slot % 3 == 0 else "email"
        trigger = int(interaction_ids[event])
        started = sent + float(lag[slot])
        if not respond[slot] or started >= HISTORY_DAYS:
            status = "expired" if sent + INVITATION_DAYS < HISTORY_DAYS else "sent"
            writer.invitation("post_interaction", person, sent, status, channel, trigger)
            continue
        quality = int(events.quality[event])
        late = max(0.0, float(np.nan_to_num(events.delay[event])) - 5.0)
        tools = tools_offsets[event] if tools_offsets is not None else 0.0
        csat = _clip_round(
            effects.TRANSACTIONAL_CSAT_BASE
            + effects.TRANSACTIONAL_CSAT_PER_QUALITY * quality
            + effects.TRANSACTIONAL_LATE_ANSWER_CSAT_PER_DAY * late
            + TOOLS_CSAT_PER_POINT * tools
            + rng.normal(0, 0.6),
            1,
            5,
        )
        ces = _clip_round(
            effects.TRANSACTIONAL_CES_BASE
            + effects.TRANSACTIONAL_CES_PER_QUALITY * quality
            + rng.normal(0, 0.9),
            1,
            7,
        )
        sentiment = sentiment_for(csat, 2, 4, rng) if rng.random() < 0.3 else None
        writer.response(
            "post_interaction",
            person,
            sent,
            started,
            {"csat": csat, "ces": ces},
            partial=bool(partial[slot]),
            channel=channel,
            trigger=trigger,
            comment_audience=AUDIENCE.get(person.type, "hcp"),
            sentiment=sentiment,
            product=product_codes[event] or person.product,
        )


def write_psp(writer: SurveyWriter, chunk: list[Person], facts: ChunkFacts) -> None:
    """A week after the first onboarding call; slower onboarding, lower satisfaction."""
    rng = writer.rng
    for index, person in enumerate(chunk):
        enrol = float(facts.enrol_day[index])
        if np.isnan(enrol):
            continue
        onboarding = float(facts.onboarding_days[index])
        sent = enrol + onboarding + 7.0
        if sent >= HISTORY_DAYS or not may_survey(person, sent):
            continue
        draws = rng.random(3)
        started = sent + float(rng.exponential(2.0))
        if draws[0] >= 0.55 or started >= HISTORY_DAYS:
            status = "expired" if sent + INVITATION_DAYS < HISTORY_DAYS else "sent"
            writer.invitation("psp_experience", person, sent, status)
            continue
        centred = onboarding - effects.ONBOARDING_CENTRE_DAYS
        csat = _clip_round(
            effects.PSP_CSAT_BASE + effects.ONBOARDING_CSAT_SLOPE * centred + rng.normal(0, 0.55),
            1,
            5,
        )
        smooth = _clip_round(
            4.0 + effects.ONBOARDING_RATING_SLOPE * centred + rng.normal(0, 0.6), 1, 5
        )
        nurse = ["always", "usually", "sometimes", "never"][
            int(np.clip(np.round(4.6 - csat + rng.normal(0, 0.7)), 0, 3))
        ]
        sentiment = sentiment_for(csat, 2, 4, rng) if draws[1] < 0.5 else None
        writer.response(
            "psp_experience",
            person,
            sent,
            started,
            {"csat": csat, "onboarding": smooth, "nurse_contact": nurse},
            partial=bool(draws[2] < 0.05),
            comment_audience="patient",
            sentiment=sentiment,
            product=person.product,
        )


def _rated(
    writer: SurveyWriter,
    survey: str,
    chunk: list[Person],
    waves: tuple[float, ...],
    rate: float,
    drivers: dict[str, tuple[float, float]],
    base: float,
    noise: float,
    score_code: str,
    audience: str,
    offsets: Callable[[Person], dict[str, float]] | None = None,
) -> None:
    """A periodic NPS survey whose score follows its rating drivers (weight, rating mean);
    ``offsets`` moves a person's rating means (a team's tools)."""
    rng = writer.rng
    for wave in waves:
        for person in chunk:
            sent = wave + float(rng.uniform(0, 4))
            if not may_survey(person, sent):
                continue
            started = sent + float(rng.exponential(3.0))
            draws = rng.random(3)
            if draws[0] >= rate or started >= HISTORY_DAYS:
                writer.invitation(survey, person, sent, "expired")
                continue
            moved = offsets(person) if offsets is not None else {}
            ratings = {
                code: _clip_round(mean + moved.get(code, 0.0) + 0.95 * rng.normal(), 1, 5)
                for code, (_, mean) in drivers.items()
            }
            score = base + sum(
                weight * (ratings[c] - mean) for c, (weight, mean) in drivers.items()
            )
            nps = _clip_round(score + rng.normal(0, noise), 0, 10)
            sentiment = sentiment_for(nps, 6, 9, rng) if draws[1] < 0.4 else None
            writer.response(
                survey,
                person,
                sent,
                started,
                {score_code: nps, **ratings},
                partial=bool(draws[2] < 0.05),
                comment_audience=audience,
                sentiment=sentiment,
                product=None,
            )


def write_site(writer: SurveyWriter, chunk: list[Person]) -> None:
    drivers = {
        "cra_support": (0.8, 3.7),
        "protocol_clarity": (0.4, 3.4),
        "payment_timeliness": (0.6, 2.9),
        "systems": (0.3, 3.1),
    }
    _rated(writer, "site_experience", chunk, SITE_WAVES, 0.5, drivers, 7.2, 1.2, "nps", "site")


def write_pulse(writer: SurveyWriter, chunk: list[Person]) -> None:
    """The quarterly employee pulse: eNPS follows the enablers; tools follow the team's."""
    drivers = {
        "tools": (0.6, 3.4),
        "workload": (0.5, 3.0),
        "coordination": (0.7, 3.2),
        "customer_focus": (0.4, 3.5),
        "training": (0.4, 3.6),
    }

    def team_tools(person: Person) -> dict[str, float]:
        return {"tools": tools_offset(work_team(person))}

    _rated(
        writer,
        "employee_pulse",
        chunk,
        PULSE_WAVES,
        0.6,
        drivers,
        6.5,
        1.3,
        "enps",
        "employee",
        offsets=team_tools,
    )
