"""Interaction rows from a chunk's events: product, journey stage, employee, outcome, notes, silo.

Attributes are drawn with vectorised lookups over the catalogue; only the few contacts that carry
a free-text note go through Python string templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cpxm.demo.activity import ChunkFacts, EventBatch, to_datetimes
from cpxm.demo.catalog import (
    ACTIVITIES,
    ACTIVITY_CHANNEL,
    ACTIVITY_DEPARTMENT,
    ACTIVITY_DIRECTION,
    ACTIVITY_INDEX,
    ACTIVITY_PERSONAL,
    ACTIVITY_TYPE,
)
from cpxm.demo.context import Context, Row
from cpxm.demo.effects import OUTCOMES_BY_QUALITY
from cpxm.demo.people import TA_CODES, Person
from cpxm.demo.silos import SiloWriter
from cpxm.demo.taxonomy import (
    DEPARTMENT_CODES,
    LIFECYCLE_PHASES,
    PRODUCT_BY_CODE,
    PRODUCTS,
    journey_stage_ids,
)
from cpxm.demo.texts import TextMaker

PHASES = tuple(code for code, _, _ in LIFECYCLE_PHASES)  # preclinical, clinical, commercial
PRODUCT_CODES = np.array([p.code for p in PRODUCTS], dtype=object)
PRODUCT_TA = np.array([TA_CODES.index(p.therapeutic_area) for p in PRODUCTS])
PRODUCT_PHASE = np.array([PHASES.index(p.phase) for p in PRODUCTS])
# product_table[ta, phase] lists product indexes, padded; product_count gives how many are real.
product_count = np.zeros((len(TA_CODES), len(PHASES)), np.int64)
product_table = np.zeros((len(TA_CODES), len(PHASES), 4), np.int64)
for _index, _product in enumerate(PRODUCTS):
    _ta, _phase = PRODUCT_TA[_index], PRODUCT_PHASE[_index]
    product_table[_ta, _phase, product_count[_ta, _phase]] = _index
    product_count[_ta, _phase] += 1
POLICY_PHASE = {"commercial": 2, "clinical": 1}
ACTIVITY_POLICY = np.array([a.product_policy for a in ACTIVITIES], dtype=object)
ACTIVITY_SOURCE = [a.source_system for a in ACTIVITIES]
NOTE_KINDS = {
    ACTIVITY_INDEX["rep_visit"]: ("call_note", 0.08),
    ACTIVITY_INDEX["msl_meeting"]: ("call_note", 0.08),
    ACTIVITY_INDEX["key_account_visit"]: ("call_note", 0.08),
    ACTIVITY_INDEX["service_call"]: ("call_centre_log", 0.5),
    ACTIVITY_INDEX["patient_call"]: ("call_centre_log", 0.5),
    ACTIVITY_INDEX["inquiry_phone"]: ("medical_inquiry", 1.0),
    ACTIVITY_INDEX["inquiry_email"]: ("medical_inquiry", 1.0),
    ACTIVITY_INDEX["inquiry_portal"]: ("medical_inquiry", 1.0),
    ACTIVITY_INDEX["patient_question"]: ("medical_inquiry", 1.0),
}
STAGE_IDS = journey_stage_ids()
JOURNEY_STAGES = {
    journey: np.array([i for (j, _), i in STAGE_IDS.items() if j == journey])
    for journey in ("hcp_engagement", "psp", "clinical_site")
}
SITE_VISIT_STAGE = {
    ACTIVITY_INDEX["site_qualification_visit"]: STAGE_IDS[("clinical_site", "feasibility")],
    ACTIVITY_INDEX["site_initiation_visit"]: STAGE_IDS[("clinical_site", "activation")],
    ACTIVITY_INDEX["close_out_visit"]: STAGE_IDS[("clinical_site", "close_out")],
}


@dataclass
class TouchpointRows:
    interactions: list[Row] = field(default_factory=list)
    feedback: list[Row] = field(default_factory=list)
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    product: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def contact_details(person: Person, ctx: Context, employee_id: int | None) -> dict[str, str]:
    """What a writer might leak: their phone, their email, a name they mention."""
    helper = ctx.name_of_employee(employee_id) if employee_id else person.display_name
    return {
        "phone": person.phone or "+44 20 7946 0000",
        "email": person.email or f"{(person.last_name or 'contact').lower()}@example.com",
        "name": helper,
    }


def _products(rng: np.random.Generator, chunk: Sequence[Person], events: EventBatch) -> np.ndarray:
    """Product index per event, -1 when the contact is about no product."""
    n = len(events)
    interests = np.array(
        [
            [TA_CODES.index(p.interests[0]), TA_CODES.index(p.interests[-1])]
            if p.interests
            else [0, 0]
            for p in chunk
        ]
    )
    own = np.array([PRODUCT_CODES.tolist().index(p.product) if p.product else -1 for p in chunk])
    ta = interests[events.person, rng.integers(0, 2, n)]
    policy = ACTIVITY_POLICY[events.kind]
    phase = np.full(n, -1)
    phase[policy == "commercial"] = 2
    phase[policy == "clinical"] = 1
    any_mask = policy == "any"
    phase[any_mask] = rng.choice([2, 1, 0], size=int(any_mask.sum()), p=[0.55, 0.3, 0.15])
    product = np.full(n, -1)
    has = phase >= 0
    slot = np.floor(rng.random(n) * product_count[ta, np.maximum(phase, 0)]).astype(np.int64)
    product[has] = product_table[ta[has], phase[has], slot[has]]
    patient = policy == "patient"
    product[patient] = own[events.person[patient]]
    return product


def _stages(
    rng: np.random.Generator, chunk: Sequence[Person], events: EventBatch, facts: ChunkFacts
) -> list[int | None]:
    type_ = chunk[0].type
    n_people = len(chunk)
    if type_ == "hcp" or type_ in ("investigator", "site_staff", "clinical_site"):
        journey = "hcp_engagement" if type_ == "hcp" else "clinical_site"
        stages = JOURNEY_STAGES[journey]
        start = rng.integers(0, 3, n_people)
        duration = rng.uniform(120, 260, n_people)
        position = start[events.person] + np.floor(events.day / duration[events.person])
        stage = stages[np.minimum(position.astype(np.int64), len(stages) - 1)]
        if journey == "clinical_site":
            for kind, stage_id in SITE_VISIT_STAGE.items():
                stage[events.kind == kind] = stage_id
        return stage.tolist()  # type: ignore[no-any-return]
    if type_ == "patient":
        stages = JOURNEY_STAGES["psp"]
        enrol = facts.enrol_day[events.person]
        first_call = enrol + facts.onboarding_days[events.person]
        index = np.where(
            np.isnan(enrol) | (events.day < enrol),
            0,
            np.where(
                events.day < first_call,
                1,
                np.where(events.day < first_call + 30, 3, 4),
            ),
        )
        index[events.kind == ACTIVITY_INDEX["psp_enrolment"]] = 1
        index[events.kind == ACTIVITY_INDEX["psp_onboarding_call"]] = 2
        return stages[index].tolist()  # type: ignore[no-any-return]
    return [None] * len(events)


def _employees(
    rng: np.random.Generator, chunk: Sequence[Person], events: EventBatch, ctx: Context
) -> list[int | None]:
    employee = np.full(len(events), -1, np.int64)
    country = np.array([p.country for p in chunk])[events.person]
    department = np.array([DEPARTMENT_CODES.index(a.department) for a in ACTIVITIES])[events.kind]
    personal = ACTIVITY_PERSONAL[events.kind]
    for dept_index, dept in enumerate(DEPARTMENT_CODES):
        for country_index in np.unique(country).tolist():
            mask = personal & (department == dept_index) & (country == country_index)
            staff = ctx.employees[(dept, country_index)]
            if mask.any() and len(staff):
                employee[mask] = staff[rng.integers(0, len(staff), int(mask.sum()))]
    return [None if e < 0 else e for e in employee.tolist()]


def build_touchpoints(
    rng: np.random.Generator,
    chunk: Sequence[Person],
    events: EventBatch,
    facts: ChunkFacts,
    ctx: Context,
    silos: SiloWriter,
    texts: TextMaker,
) -> TouchpointRows:
    """Interaction and note-feedback rows for sorted events; ids are reserved from ``ctx``."""
    n = len(events)
    first_id = ctx.take_ids("interactions", n)
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    product = _products(rng, chunk, events)
    stages = _stages(rng, chunk, events, facts)
    employees = _employees(rng, chunk, events, ctx)
    when = to_datetimes(events.day)
    outcome_slot = rng.integers(0, 3, n)
    note_draw = rng.random(n)
    rows = TouchpointRows(ids=ids, product=product)
    kinds = events.kind.tolist()
    for i, (person_index, kind, quality, product_index) in enumerate(
        zip(events.person.tolist(), kinds, events.quality.tolist(), product.tolist(), strict=True)
    ):
        person = chunk[person_index]
        product_def = PRODUCTS[product_index] if product_index >= 0 else None
        ta = product_def.therapeutic_area if product_def else (person.interests or (None,))[0]
        note = None
        note_kind = NOTE_KINDS.get(kind)
        if note_kind and note_draw[i] < note_kind[1]:
            note_def = product_def or PRODUCT_BY_CODE[person.product or "velcora"]
            spelled = texts.product_spelling(note_def.name, note_def.misspellings)
            text = texts.operational(
                note_kind[0], spelled, contact_details(person, ctx, employees[i])
            )
            note = text.text
            feedback_id = ctx.take_ids("feedback_items", 1)
            record_text_truth(ctx, feedback_id, text.safety, text.pii, text.language)
            rows.feedback.append(
                (
                    feedback_id,
                    note_kind[0],
                    note,
                    person.id,
                    when[i],
                    ACTIVITY_CHANNEL[kind],
                    text.language,
                    None,
                    None,
                    int(ids[i]),
                    "pending",
                    when[i],
                )
            )
        rows.interactions.append(
            (
                int(ids[i]),
                person.id,
                when[i],
                ACTIVITY_CHANNEL[kind],
                ACTIVITY_DEPARTMENT[kind],
                ACTIVITY_TYPE[kind],
                ACTIVITY_DIRECTION[kind],
                product_def.code if product_def else None,
                ta,
                product_def.phase if product_def else None,
                stages[i],
                employees[i],
                OUTCOMES_BY_QUALITY[quality][int(outcome_slot[i]) % 3],
                note,
                silos.pick(person_index, ACTIVITY_SOURCE[kind]),
                when[i],
            )
        )
    return rows


def record_text_truth(
    ctx: Context, feedback_id: int, safety: str | None, pii: list[str], language: str
) -> None:
    """Remember what a feedback text truly contains, for the manifest's answer keys."""
    if safety:
        ctx.safety_feedback.setdefault(safety, []).append(feedback_id)
    for kind in pii:
        ctx.pii_feedback.setdefault(kind, []).append(feedback_id)
    ctx.feedback_languages[language] += 1


def used_systems(events: EventBatch) -> dict[int, set[str]]:
    """The silos each person of the chunk appears in because a contact came from there."""
    used: dict[int, set[str]] = {}
    for person_index, kind in zip(events.person.tolist(), events.kind.tolist(), strict=True):
        system = ACTIVITY_SOURCE[kind]
        if system:
            used.setdefault(person_index, set()).add(system)
    return used
