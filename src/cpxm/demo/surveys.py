"""Survey invitations, responses, answers and comments, with scores from the latent model.

Relationship responses are planned before a chunk's contacts are final, because the ping-pong
bursts they provoke are contacts too; their scores are computed afterwards from the final
contacts, so every planted effect is measured exactly as the manifest defines it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from cpxm.demo import effects
from cpxm.demo.activity import EventBatch, to_datetime
from cpxm.demo.catalog import ACTIVITY_DEPARTMENT, ACTIVITY_INDEX, ACTIVITY_OUTBOUND
from cpxm.demo.context import Context, Row
from cpxm.demo.people import Person
from cpxm.demo.taxonomy import (
    HISTORY_DAYS,
    PRODUCT_BY_CODE,
    PRODUCTS,
    SURVEY_BY_CODE,
    SURVEYS,
    question_ids,
    survey_ids,
)
from cpxm.demo.texts import TextMaker
from cpxm.demo.touchpoints import contact_details, record_text_truth
from cpxm.surveys.definition import definition_document, parse_definition
from cpxm.surveys.responding import new_token

if TYPE_CHECKING:
    from cpxm.demo.drift import Drift

SURVEY_IDS = survey_ids()
QUESTION_IDS = question_ids()
RELATIONSHIP_WAVES = (60.0, 190.0, 320.0, 450.0)
RELATIONSHIP_RESPONSE_RATE = 0.4
INVITATION_DAYS = 21.0
BURST_DEPARTMENTS = (
    "field_sales",
    "medical_affairs",
    "marketing",
    "market_access",
    "medical_information",
    "customer_service",
)
BURST_KINDS = {
    "field_sales": ("rep_visit", "rep_phone_call"),
    "medical_affairs": ("msl_video_call", "msl_meeting"),
    "marketing": ("promotional_email",),
    "market_access": ("access_update",),
    "medical_information": ("medical_information_followup",),
    "customer_service": ("service_followup_call",),
}


@dataclass
class Planned:
    """A relationship response planned for a person of the chunk."""

    person: int
    sent: float
    started: float
    partial: bool


@dataclass
class SurveyRows:
    invitations: list[Row] = field(default_factory=list)
    responses: list[Row] = field(default_factory=list)
    answers: list[Row] = field(default_factory=list)
    feedback: list[Row] = field(default_factory=list)
    # (response id, person, score, day, comment feedback id) of relationship detractors
    detractors: list[tuple[int, int, float, float, int | None]] = field(default_factory=list)


def may_survey(person: Person, day: float) -> bool:
    """Survey consent still in force on that day."""
    withdrawn = person.survey_withdrawn_at
    return withdrawn is None or to_datetime(day) < withdrawn


def plan_relationship(
    rng: np.random.Generator, chunk: list[Person], silent_change: np.ndarray
) -> tuple[list[Planned], list[tuple[int, float]], EventBatch]:
    """Who answers which wave and when, the non-responders' invitations, and ping-pong bursts."""
    planned: list[Planned] = []
    unanswered: list[tuple[int, float]] = []
    for wave in RELATIONSHIP_WAVES:
        sent = wave + rng.uniform(0, 5, len(chunk))
        answers = rng.random(len(chunk)) < RELATIONSHIP_RESPONSE_RATE
        delay = rng.exponential(2.5, len(chunk))
        partial = rng.random(len(chunk)) < 0.07
        for index, person in enumerate(chunk):
            if not may_survey(person, float(sent[index])):
                continue
            started = float(sent[index] + min(delay[index], INVITATION_DAYS - 0.5))
            silent_now = started >= silent_change[index]
            if answers[index] and not silent_now and started < HISTORY_DAYS:
                planned.append(Planned(index, float(sent[index]), started, bool(partial[index])))
            else:
                unanswered.append((index, float(sent[index])))
    burst_person: list[int] = []
    burst_day: list[float] = []
    burst_kind: list[int] = []
    for plan in planned:
        if rng.random() >= effects.PING_PONG_PLANT_SHARE:
            continue
        chosen = rng.choice(len(BURST_DEPARTMENTS), size=3, replace=False)
        for department_index in chosen.tolist():
            keys = BURST_KINDS[BURST_DEPARTMENTS[department_index]]
            burst_person.append(plan.person)
            burst_day.append(plan.started - float(rng.uniform(0.05, effects.PING_PONG_DAYS - 0.1)))
            burst_kind.append(ACTIVITY_INDEX[keys[int(rng.integers(0, len(keys)))]])
    size = len(burst_person)
    bursts = EventBatch(
        np.array(burst_person, np.int64),
        np.maximum(np.array(burst_day, float), 0.0),
        np.array(burst_kind, np.int64),
        rng.choice(np.array([-1, 0, 1]), size=size, p=effects.QUALITY_PROBABILITIES),
        np.full(size, np.nan),
    )
    return planned, unanswered, bursts


class EventIndex:
    """Window queries over a chunk's sorted events: what happened to a person before a time."""

    def __init__(self, events: EventBatch) -> None:
        self.events = events
        self.key = events.person.astype(float) * 1000.0 + events.day

    def window(self, person: int, start: float, end: float) -> slice:
        lo, hi = np.searchsorted(self.key, [person * 1000.0 + start, person * 1000.0 + end])
        return slice(int(lo), int(hi))

    def ping_pong(self, person: int, day: float) -> bool:
        rows = self.window(person, day - effects.PING_PONG_DAYS, day)
        outbound = ACTIVITY_OUTBOUND[self.events.kind[rows]]
        departments = set(ACTIVITY_DEPARTMENT[self.events.kind[rows][outbound]].tolist())
        return len(departments) >= effects.PING_PONG_MIN_DEPARTMENTS

    def peak_end(self, person: int, day: float) -> tuple[int, float]:
        """Quality of the last contact before ``day`` and the mean of the others in 30 days."""
        rows = self.window(person, -1.0, day)
        if rows.stop == rows.start:
            return 0, 0.0
        last = int(self.events.quality[rows.stop - 1])
        prior = self.window(person, day - effects.PRIOR_TOUCH_DAYS, day)
        others = self.events.quality[prior.start : max(prior.start, prior.stop - 1)]
        return last, float(others.mean()) if len(others) else 0.0


class SurveyWriter:
    """Turns scored responses into rows; ids are reserved from the context as rows are made."""

    def __init__(self, ctx: Context, rng: np.random.Generator, texts: TextMaker) -> None:
        self.ctx = ctx
        self.rng = rng
        self.texts = texts
        self.rows = SurveyRows()

    def token(self) -> str:
        # The service's token, from ``secrets``: bytes of the seeded generator would let anyone
        # who knows the seed open the links. The 16 bytes are still drawn, so every later draw
        # (and so every other row) stays what the seed made it.
        self.rng.bytes(16)
        return new_token()

    def invitation(
        self,
        survey: str,
        person: Person,
        sent: float,
        status: str,
        channel: str = "email",
        trigger: int | None = None,
    ) -> int:
        invitation_id = self.ctx.take_ids("invitations", 1)
        self.rows.invitations.append(
            (
                invitation_id,
                SURVEY_IDS[survey],
                person.id,
                self.token(),
                channel,
                status,
                to_datetime(sent),
                to_datetime(sent + INVITATION_DAYS),
                trigger,
                # Waves are monthly sends; a triggered invitation belongs to its contact instead.
                None if trigger is not None else f"{to_datetime(sent):%Y-%m}",
                person.language,
                0,
                None,
                None if status in ("sent", "expired") else to_datetime(sent),
                None,
                0,  # send_attempts: the history's invitations were delivered
                None,
            )
        )
        return invitation_id

    def response(
        self,
        survey: str,
        person: Person,
        sent: float,
        started: float,
        answers: dict[str, float | str | list[str] | None],
        *,
        partial: bool = False,
        channel: str = "email",
        trigger: int | None = None,
        comment_audience: str | None = None,
        sentiment: str | None = None,
        product: str | None = None,
    ) -> tuple[int, int | None]:
        """One invitation with its response; returns (response id, comment feedback id)."""
        invitation_id = self.invitation(
            survey, person, sent, "started" if partial else "completed", channel, trigger
        )
        response_id = self.ctx.take_ids("responses", 1)
        started_at = to_datetime(started)
        submitted = None if partial else to_datetime(started + self.rng.uniform(1.5, 9) / 1440)
        language = person.language
        self.rows.responses.append(
            (
                response_id,
                SURVEY_IDS[survey],
                1,
                invitation_id,
                person.id,
                channel,
                language,
                "partial" if partial else "complete",
                started_at,
                submitted,
                None,
                None,
                submitted or started_at,
            )
        )
        questions = SURVEY_BY_CODE[survey].questions
        answered = questions[:2] if partial else questions
        feedback_id = None
        for question in answered:
            value = answers.get(question.code)
            if question.question_type == "text":
                if comment_audience is None or sentiment is None:
                    continue
                feedback_id = self._comment(
                    survey, person, response_id, started, comment_audience, sentiment, product
                )
                continue
            if value is None:
                continue
            answer_id = self.ctx.take_ids("answers", 1)
            qid = QUESTION_IDS[(survey, question.code)]
            if isinstance(value, list):
                self.rows.answers.append((answer_id, response_id, qid, None, None, value))
            elif isinstance(value, str):
                self.rows.answers.append((answer_id, response_id, qid, None, value, None))
            else:
                self.rows.answers.append((answer_id, response_id, qid, float(value), None, None))
        return response_id, feedback_id

    def _comment(
        self,
        survey: str,
        person: Person,
        response_id: int,
        started: float,
        audience: str,
        sentiment: str,
        product: str | None,
    ) -> int:
        product_def = PRODUCT_BY_CODE[product] if product else PRODUCTS[0]
        spelled = self.texts.product_spelling(product_def.name, product_def.misspellings)
        text = self.texts.comment(
            language=person.language,
            audience=audience,
            sentiment=sentiment,
            product=spelled,
            safety_chance={"patient": 0.18, "hcp": 0.07}.get(audience, 0.0),
            pii_chance=0.07,
            contact=contact_details(person, self.ctx, None),
        )
        answer_id = self.ctx.take_ids("answers", 1)
        self.rows.answers.append(
            (answer_id, response_id, QUESTION_IDS[(survey, "comment")], None, text.text, None)
        )
        feedback_id = self.ctx.take_ids("feedback_items", 1)
        record_text_truth(self.ctx, feedback_id, text.safety, text.pii, text.language)
        received = to_datetime(started + 0.004)
        self.rows.feedback.append(
            (
                feedback_id,
                "survey_comment",
                text.text,
                person.id,
                received,
                "email",
                text.language,
                response_id,
                answer_id,
                None,
                "pending",
                received,
            )
        )
        return feedback_id


def sentiment_for(score: float, low: float, high: float, rng: np.random.Generator) -> str:
    """The tone of a comment given its score on a scale where <= low is bad and >= high good."""
    draw = rng.random()
    if score <= low:
        return "negative" if draw < 0.85 else "neutral"
    if score >= high:
        return "positive" if draw < 0.85 else "neutral"
    return "neutral" if draw < 0.6 else ("positive" if draw < 0.8 else "negative")


def write_relationship(
    writer: SurveyWriter,
    chunk: list[Person],
    planned: list[Planned],
    unanswered: list[tuple[int, float]],
    index: EventIndex,
    silent: np.ndarray,
    drift: Drift | None = None,
) -> None:
    """Score the planned relationship responses from the drivers, ping-pong and peak-end."""
    rng = writer.rng
    for person_index, sent in unanswered:
        status = "expired" if sent + INVITATION_DAYS < HISTORY_DAYS else "sent"
        writer.invitation("hcp_relationship_nps", chunk[person_index], sent, status)
    weights = np.array(list(effects.DRIVER_WEIGHTS.values()))
    for plan in planned:
        person = chunk[plan.person]
        shared = rng.normal()
        latent = effects.DRIVER_SHARED_LOADING * shared + np.sqrt(
            1 - effects.DRIVER_SHARED_LOADING**2
        ) * rng.normal(size=len(weights))
        ratings = np.clip(
            np.round(effects.DRIVER_RATING_MEAN + effects.DRIVER_RATING_SD * latent), 1, 5
        )
        last, prior = index.peak_end(plan.person, plan.started)
        score = (
            effects.NPS_BASE
            + float(weights @ (ratings - effects.DRIVER_RATING_MEAN))
            + (effects.PING_PONG_NPS_EFFECT if index.ping_pong(plan.person, plan.started) else 0.0)
            + effects.LAST_TOUCH_NPS_WEIGHT * last
            + effects.PRIOR_TOUCH_NPS_WEIGHT * prior
            + rng.normal(0, effects.NPS_NOISE_SD)
            + (drift.nps_shift(plan.person, plan.started) if drift is not None else 0.0)
        )
        nps = float(np.clip(np.round(score), 0, 10))
        if silent[plan.person]:
            nps = max(nps, float(effects.SILENT_DETRACTOR_MIN_NPS))
        answers: dict[str, float | str | list[str] | None] = {"nps": nps}
        answers.update(zip(effects.DRIVER_WEIGHTS, ratings.tolist(), strict=True))
        sentiment = sentiment_for(nps, 6, 9, rng) if rng.random() < 0.45 else None
        if sentiment == "negative" and silent[plan.person]:
            sentiment = "neutral"  # silent detractors do not tell us
        product = _commercial_product(person, rng)
        response_id, feedback_id = writer.response(
            "hcp_relationship_nps",
            person,
            plan.sent,
            plan.started,
            answers,
            partial=plan.partial,
            comment_audience="hcp",
            sentiment=sentiment,
            product=product,
        )
        if nps <= 4 and not plan.partial:
            writer.rows.detractors.append((response_id, person.id, nps, plan.started, feedback_id))


def _commercial_product(person: Person, rng: np.random.Generator) -> str:
    areas = person.interests or ("oncology",)
    options = [p.code for p in PRODUCTS if p.therapeutic_area in areas and p.phase == "commercial"]
    return options[int(rng.integers(0, len(options)))]


def demo_survey_documents() -> list[dict[str, object]]:
    """The demo's survey designs as definition documents, checked by the definition validator."""
    documents = []
    for survey in SURVEYS:
        questions = []
        for question in survey.questions:
            item: dict[str, object] = {
                "code": question.code,
                "type": question.question_type,
                "prompt": question.prompt,
                "required": question.required,
            }
            options = dict(question.options or {})
            if question.question_type == "rating":
                item["min"], item["max"] = options["min"], options["max"]
            if "choices" in options:
                item["choices"] = [
                    {"value": str(choice), "label": str(choice).capitalize()}
                    for choice in options["choices"]  # type: ignore[attr-defined]
                ]
            questions.append(item)
        document = {
            "code": survey.code,
            "name": survey.name,
            "kind": survey.kind,
            "status": "active",
            "default_language": "en",
            "audience": survey.audience,
            "pages": [{"questions": questions}],
        }
        documents.append(definition_document(parse_definition(document)))
    return documents


def demo_survey_versions() -> list[dict[str, object]]:
    """Version 1 of each demo survey, so its invitations open real respondent pages."""
    return [
        {
            "id": survey_id,
            "survey_id": survey_id,
            "version": 1,
            "definition": document,
            "created_at": to_datetime(-30.0),
        }
        for survey_id, document in enumerate(demo_survey_documents(), start=1)
    ]
