"""The demo's present runs on the product's survey machinery, after its history is loaded.

The 18 months of history (invitations, responses, comments with their planted effects) are
generated in bulk; the last week before the demo's clock stops is lived through
``cpxm.surveys`` instead: a relationship wave planned and sent with consent and the
contact-fatigue rules, invitations triggered by contacts, and respondents answering through the
responding service, so their comments enter the feedback stream as real submissions do. Some
links stay open for a visitor to answer at ``/s/{token}``.

Everything is read from the store (stakeholders, consents, contacts), never from the
generator's people, and drawn from generators seeded by the demo's seed and scale: the same
store, seed and scale give the same rows on SQLite and PostgreSQL, but for the links' tokens,
which the service draws from ``secrets`` so that knowing the seed opens no link.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session

from cpxm.cases.notifications import email_enabled
from cpxm.db import one_of
from cpxm.demo import effects
from cpxm.demo.catalog import ACTIVITY_TYPE
from cpxm.demo.models import DemoRun
from cpxm.demo.surveys import sentiment_for
from cpxm.demo.taxonomy import PRODUCTS, ProductDef
from cpxm.demo.texts import TextMaker
from cpxm.demo.waves import AUDIENCE, TRIGGER_KINDS
from cpxm.interactions.models import Interaction
from cpxm.schema import metadata
from cpxm.stakeholders.models import Stakeholder, TherapeuticInterest
from cpxm.surveys.definition import SurveyDefinition
from cpxm.surveys.distribution import (
    create_invitations,
    deliver_invitations,
    invite_after_contacts,
    plan_wave,
)
from cpxm.surveys.mail import MailConfigError, smtp_mailer
from cpxm.surveys.models import Invitation, Survey
from cpxm.surveys.responding import (
    AnswerErrors,
    complete_response,
    mark_opened,
    missing_required,
    open_respondent,
    parse_answers,
    save_answers,
)
from cpxm.surveys.service import current_definition, export_definition, save_definition

# Surveys sent as a wave in the demo's last week, on email (the channel the demo's HCPs consent to).
WAVE_SURVEYS = ("hcp_relationship_nps",)
WAVE_CHANNEL = "email"
WAVE_DAYS_BEFORE_NOW = 7
# The demo's clock stops at its reference date while its server runs on today's clock: the
# wave's links stay valid for ten years, so a visitor can still answer one. Triggered
# invitations expire as their definition says (and the hourly job marks them expired).
WAVE_LINK_DAYS = 3650
# The after-contact survey, and the trigger it is published with when its definition has none:
# the contacts the history invites after, one day later, as the history does.
TRIGGERED_SURVEY = "post_interaction"
TRIGGER = {
    "interaction_types": sorted(set(ACTIVITY_TYPE[TRIGGER_KINDS].tolist())),
    "days_after": 1,
    "channel": "email",
    "expires_days": 21,
}
# How respondents behave: the history's response rates and delays (days); a share stops after
# saving the first questions (a resumable, partial response).
RESPONSE_RATE = {"relationship": 0.4, "transactional": 0.33}
RESPONSE_DELAY_DAYS = {"relationship": 2.5, "transactional": 1.0}
PARTIAL_SHARE = 0.15
COMMENT_SHARE = {"relationship": 0.45, "transactional": 0.3}
# Engagement: contacts per day in the last 120 days against the 365 days before. People whose
# contact with us fell below half of it do not answer surveys either (silent attrition); above
# that, the less they engage lately, the less they answer.
RECENT_DAYS = 120
BASELINE_DAYS = 365
DISENGAGED_RATIO = 0.5
PRIOR_TOUCH_DAYS = effects.PRIOR_TOUCH_DAYS
LIVE_TABLES = ("invitations", "responses", "answers", "feedback_items", "survey_versions")


@dataclass(frozen=True)
class WaveReport:
    """One wave as ``cpxm survey send --dry-run`` would show it when it was planned."""

    survey: str
    wave: str
    planned_at: datetime
    invited: int
    already_invited: int
    # stakeholder id -> the rules that held them back, in the order the gate found them
    held: dict[int, tuple[str, ...]]

    def held_by_rule(self) -> dict[str, int]:
        counts = Counter(rule for rules in self.held.values() for rule in rules)
        return dict(counts.most_common())


@dataclass
class LiveSummary:
    """What the demo's live week did, in counts."""

    waves: list[WaveReport] = field(default_factory=list)
    triggered: int = 0  # invitations created by triggers
    trigger_contacts_held: int = 0  # due contacts whose person the gate held back
    completed: int = 0
    partial: int = 0
    unanswered: int = 0  # live invitations nobody has started, links still valid
    comments: int = 0  # free-text answers, each one feedback item
    email_configured: bool = False  # CPXM_SMTP_HOST was set
    emailed: int = 0
    email_failures: int = 0
    email_error: str | None = None  # why no email went out, when SMTP was configured but failed
    seconds: float = 0.0

    def held_by_rule(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for wave in self.waves:
            counts.update(wave.held_by_rule())
        return dict(counts.most_common())

    def lines(self) -> list[str]:
        """What ``cpxm demo`` prints about the live week, a line per step."""
        lines = []
        for wave in self.waves:
            rules = ", ".join(f"{rule} {count:,}" for rule, count in wave.held_by_rule().items())
            lines.append(
                f"{wave.survey} wave {wave.wave}, sent {wave.planned_at:%Y-%m-%d}: "
                f"invited {wave.invited:,}, held back {len(wave.held):,}"
                + (f" ({rules})" if rules else "")
            )
        lines.append(
            f"triggered by contacts: invited {self.triggered:,}, "
            f"contacts held back by the same rules {self.trigger_contacts_held:,}"
        )
        lines.append(
            f"responded {self.completed + self.partial:,} (complete {self.completed:,}, "
            f"saved to finish later {self.partial:,}), comments into feedback {self.comments:,}, "
            f"links still open at /s/{{token}} {self.unanswered:,}"
        )
        if self.email_configured:
            lines.append(
                f"emailed {self.emailed:,}, not emailed {self.email_failures:,}"
                + (f" ({self.email_error})" if self.email_error else "")
            )
        else:
            lines.append("not emailed: CPXM_SMTP_HOST is not set")
        return lines

    def manifest(self) -> dict[str, Any]:
        """The record kept in the demo's manifest (``live_surveys``)."""
        return {
            "waves": [
                {
                    "survey": wave.survey,
                    "wave": wave.wave,
                    "planned_at": wave.planned_at.isoformat(),
                    "invited": wave.invited,
                    "already_invited": wave.already_invited,
                    "held_by_rule": wave.held_by_rule(),
                    "held": {
                        rule: sorted(s for s, rules in wave.held.items() if rule in rules)
                        for rule in wave.held_by_rule()
                    },
                }
                for wave in self.waves
            ],
            "triggered": self.triggered,
            "trigger_contacts_held": self.trigger_contacts_held,
            "responses": {"complete": self.completed, "partial": self.partial},
            "unanswered": self.unanswered,
            "comments": self.comments,
            "emailed": self.emailed,
        }


@dataclass(order=True)
class _Answer:
    """A respondent due to answer an invitation at ``at``."""

    at: datetime
    invitation_id: int
    kind: str = field(compare=False)
    partial: bool = field(compare=False)
    draws: np.ndarray = field(compare=False, repr=False)


def run_live_surveys(engine: Engine, *, seed: int, scale: float, now: datetime) -> LiveSummary:
    """Live the week before ``now`` on the survey machinery: a wave, triggers and answers.

    Call it once the whole demo is loaded; it commits. Emails go out only when SMTP is
    configured (``CPXM_SMTP_HOST``); otherwise the invitations stay pending, valid and visible.
    """
    started = time.perf_counter()
    live = _Live(seed, scale, now)
    live.summary.email_configured = email_enabled()
    with Session(engine, expire_on_commit=False) as session:
        triggered = _publish_trigger(session)
        session.commit()
        planned_at = now - timedelta(days=WAVE_DAYS_BEFORE_NOW)
        for code in WAVE_SURVEYS:
            survey = session.scalars(select(Survey).where(Survey.code == code)).one_or_none()
            if survey is not None and survey.status == "active":
                live.send_wave(session, survey, planned_at)
        for day in range(WAVE_DAYS_BEFORE_NOW + 1):
            moment = planned_at + timedelta(days=day)
            live.answer_due(session, moment)
            for survey in triggered:
                live.run_trigger(session, survey, moment)
        live.answer_due(session, now)
        live.summary.unanswered = live.unanswered + len(live.waiting)
        _record_in_manifest(session, live.summary)
        session.commit()
    live.summary.seconds = time.perf_counter() - started
    return live.summary


def _publish_trigger(session: Session) -> list[Survey]:
    """Active surveys with a trigger; the after-contact survey gets the demo's if it has none."""
    survey = session.scalars(select(Survey).where(Survey.code == TRIGGERED_SURVEY)).one_or_none()
    if survey is not None and survey.status == "active":
        document = export_definition(session, survey_id=survey.id)
        if "trigger" not in document:
            save_definition(session, document={**document, "trigger": TRIGGER})
    active = session.scalars(select(Survey).where(Survey.status == "active").order_by(Survey.id))
    return [s for s in active if current_definition(session, survey=s).trigger is not None]


class _Live:
    def __init__(self, seed: int, scale: float, now: datetime) -> None:
        key = [seed, 71, round(scale * 1_000_000)]
        self.rng = np.random.default_rng(key)  # who answers, when, and how
        self.texts = TextMaker(np.random.default_rng([*key, 2]))
        self.now = now
        self.summary = LiveSummary()
        self.waiting: list[_Answer] = []
        self.unanswered = 0  # invitations left open by people who do not answer

    def send_wave(self, session: Session, survey: Survey, at: datetime) -> None:
        wave = f"{at:%Y-%m}"
        plan = plan_wave(session, survey=survey, wave=wave, channel=WAVE_CHANNEL, now=at)
        self.summary.waves.append(
            WaveReport(
                survey=survey.code,
                wave=wave,
                planned_at=at,
                invited=len(plan.invite),
                already_invited=plan.already_invited,
                held={s.id: tuple(hold.rule for hold in holds) for s, holds in plan.held},
            )
        )
        invitations = create_invitations(session, plan=plan, now=at, expires_days=WAVE_LINK_DAYS)
        self._settle(session, invitations, at, "relationship", wave=True)

    def run_trigger(self, session: Session, survey: Survey, at: datetime) -> None:
        invitations, held = invite_after_contacts(session, survey=survey, now=at)
        self.summary.triggered += len(invitations)
        self.summary.trigger_contacts_held += held
        self._settle(session, invitations, at, "transactional", wave=False)

    def _settle(
        self,
        session: Session,
        invitations: list[Invitation],
        at: datetime,
        kind: str,
        *,
        wave: bool,
    ) -> None:
        """Commit, email if configured, and who will answer when."""
        session.commit()
        self._deliver(session, invitations, at)
        engaged = _engagement(session, [i.stakeholder_id for i in invitations], at)
        due: list[_Answer] = []
        for invitation in sorted(invitations, key=lambda i: i.id):
            draws = self.rng.random(16)
            propensity = RESPONSE_RATE[kind] * engaged.get(invitation.stakeholder_id, 1.0)
            delay = timedelta(days=float(-np.log1p(-draws[1]) * RESPONSE_DELAY_DAYS[kind]))
            answer_at = (at + delay).replace(microsecond=0)
            if draws[0] >= propensity or answer_at > self.now:
                self.unanswered += 1
                continue
            due.append(
                _Answer(answer_at, invitation.id, kind, bool(draws[2] < PARTIAL_SHARE), draws)
            )
        if wave and len(due) >= 2:
            # A wave always leaves a few respondents who saved their first answers and stopped.
            stopping = max(1, round(PARTIAL_SHARE * len(due)))
            for rank, answer in enumerate(sorted(due, key=lambda a: float(a.draws[2]))):
                answer.partial = rank < stopping
        for answer in due:
            heapq.heappush(self.waiting, answer)

    def _deliver(self, session: Session, invitations: list[Invitation], at: datetime) -> None:
        ids = [i.id for i in invitations if i.channel_code == "email"]
        if not ids or not email_enabled():
            return
        try:
            with smtp_mailer() as mailer:
                sent, failed = deliver_invitations(
                    session, invitation_ids=ids, mailer=mailer, now=at
                )
        except (OSError, MailConfigError) as error:
            # The invitations stay pending; the hourly job retries once the server answers.
            session.rollback()
            self.summary.email_failures += len(ids)
            self.summary.email_error = f"{type(error).__name__}: {error}"[:300]
            return
        session.commit()
        self.summary.emailed += sent
        self.summary.email_failures += failed

    def answer_due(self, session: Session, until: datetime) -> None:
        while self.waiting and self.waiting[0].at <= until:
            self._answer(session, heapq.heappop(self.waiting))
        session.commit()

    def _answer(self, session: Session, due: _Answer) -> None:
        invitation = session.get(Invitation, due.invitation_id)
        assert invitation is not None
        respondent = open_respondent(session, token=invitation.token, now=due.at)
        mark_opened(respondent, now=due.at)
        definition = respondent.definition
        stakeholder = session.get(Stakeholder, invitation.stakeholder_id)
        assert stakeholder is not None
        experience = _experience(session, invitation, due.at)
        values = _answers(definition, experience, due.draws)
        comment = self._comment(
            session, definition, stakeholder, invitation, respondent.language, values, due
        )
        questions = [question for _page, question in definition.questions()]
        # A partial respondent answers the first questions, then "Save and finish later".
        asked = questions[: max(1, len(questions) // 3)] if due.partial else questions
        fields = {
            f"q_{q.code}": [comment if q.type == "text" else values[q.code]]
            for q in asked
            if q.code in values or (q.type == "text" and comment)
        }
        known = {q.code for q in questions}
        answers, _empty, errors = parse_answers(asked, fields, known_codes=known)
        if not due.partial:
            errors = errors or missing_required(questions, answers)
        if errors:
            raise AnswerErrors(errors)  # the demo's answer model disagrees with the survey
        save_answers(session, respondent=respondent, answers=answers, cleared=set(), now=due.at)
        if due.partial:
            self.summary.partial += 1
        else:
            finished = due.at + timedelta(seconds=int(90 + due.draws[3] * 450))
            complete_response(session, respondent=respondent, now=finished)
            self.summary.completed += 1
        if comment and any(q.type == "text" for q in asked):
            self.summary.comments += 1

    def _comment(
        self,
        session: Session,
        definition: SurveyDefinition,
        stakeholder: Stakeholder,
        invitation: Invitation,
        language: str,
        values: dict[str, str],
        due: _Answer,
    ) -> str:
        if due.draws[4] >= COMMENT_SHARE[due.kind]:
            return ""
        score_code, low, high = next(
            (
                (q.code, low, high)
                for _page, q in definition.questions()
                for kind, low, high in (("nps", 6, 9), ("csat", 2, 4))
                if q.type == kind and q.code in values
            ),
            (None, 0, 0),
        )
        if score_code is None:
            return ""
        sentiment = sentiment_for(float(values[score_code]), low, high, self.texts.rng)
        product = _product(session, stakeholder, invitation, due.draws[5])
        spelled = self.texts.product_spelling(product.name, product.misspellings)
        # No safety mentions or personal data: the manifest's text truth lists the history's only.
        text = self.texts.comment(
            language=language,
            audience=AUDIENCE.get(stakeholder.type, "hcp"),
            sentiment=sentiment,
            product=spelled,
            safety_chance=0.0,
            pii_chance=0.0,
            contact={"phone": "", "email": "", "name": ""},
        )
        return text.text


@dataclass(frozen=True)
class _Experience:
    """What a respondent lived lately, read from the store's contacts."""

    ping_pong: bool  # outbound contacts from several departments in the days before
    last_quality: int  # of the latest contact in the last month (-1, 0, 1)
    prior_quality: float  # mean of the others in that month
    trigger_quality: int  # of the contact that triggered the invitation (0 for a wave)


def _engagement(session: Session, ids: list[int], at: datetime) -> dict[int, float]:
    """Per stakeholder, how much of their usual willingness to answer is left (0 to 1)."""
    if not ids:
        return {}
    recent_from = at - timedelta(days=RECENT_DAYS)
    recent = func.sum(case((Interaction.occurred_at >= recent_from, 1), else_=0))
    rows = session.execute(
        select(Interaction.stakeholder_id, recent, func.count(Interaction.id))
        .where(
            one_of(session, Interaction.stakeholder_id, sorted(set(ids))),
            Interaction.occurred_at >= recent_from - timedelta(days=BASELINE_DAYS),
            Interaction.occurred_at < at,
        )
        .group_by(Interaction.stakeholder_id)
    )
    engaged: dict[int, float] = {}
    for stakeholder_id, recent_count, total in rows:
        baseline = int(total) - int(recent_count or 0)
        if baseline == 0:
            continue  # no earlier contact to fall from
        ratio = (int(recent_count or 0) / RECENT_DAYS) / (baseline / BASELINE_DAYS)
        share = (ratio - DISENGAGED_RATIO) / (1.0 - DISENGAGED_RATIO)
        engaged[stakeholder_id] = float(np.clip(share, 0.0, 1.0))
    return engaged


def _experience(session: Session, invitation: Invitation, at: datetime) -> _Experience:
    contacts = session.execute(
        select(Interaction.occurred_at, Interaction.department_code, Interaction.direction)
        .add_columns(Interaction.outcome)
        .where(
            Interaction.stakeholder_id == invitation.stakeholder_id,
            Interaction.occurred_at >= at - timedelta(days=PRIOR_TOUCH_DAYS),
            Interaction.occurred_at < at,
        )
        .order_by(Interaction.occurred_at, Interaction.id)
    ).all()
    week = at - timedelta(days=effects.PING_PONG_DAYS)
    departments = {
        row.department_code
        for row in contacts
        if row.occurred_at >= week and row.direction == "outbound"
    }
    qualities = [effects.QUALITY_BY_OUTCOME.get(row.outcome or "", 0) for row in contacts]
    trigger_quality = 0
    if invitation.trigger_interaction_id is not None:
        outcome = session.scalar(
            select(Interaction.outcome).where(Interaction.id == invitation.trigger_interaction_id)
        )
        trigger_quality = effects.QUALITY_BY_OUTCOME.get(outcome or "", 0)
    return _Experience(
        ping_pong=len(departments) >= effects.PING_PONG_MIN_DEPARTMENTS,
        last_quality=qualities[-1] if qualities else 0,
        prior_quality=float(np.mean(qualities[:-1])) if len(qualities) > 1 else 0.0,
        trigger_quality=trigger_quality,
    )


def _answers(
    definition: SurveyDefinition, experience: _Experience, draws: np.ndarray
) -> dict[str, str]:
    """Form values for the scored questions, from the demo's latent model of experience.

    The same model the history was drawn from (``cpxm.demo.effects``): driver ratings share a
    common factor; NPS follows them, falls after ping-pong contact and follows the last touch;
    CSAT and CES follow the quality of the contact that triggered the survey.
    """
    normal = _normals(draws[6:16])
    ratings = [q.code for _p, q in definition.questions() if q.type == "rating"]
    loading = effects.DRIVER_SHARED_LOADING
    values: dict[str, str] = {}
    score = effects.NPS_BASE
    for index, code in enumerate(ratings):
        latent = loading * normal[0] + np.sqrt(1 - loading**2) * normal[1 + index % 8]
        rating = float(
            np.clip(np.round(effects.DRIVER_RATING_MEAN + effects.DRIVER_RATING_SD * latent), 1, 5)
        )
        values[code] = str(int(rating))
        score += effects.DRIVER_WEIGHTS.get(code, 0.0) * (rating - effects.DRIVER_RATING_MEAN)
    score += effects.PING_PONG_NPS_EFFECT if experience.ping_pong else 0.0
    score += effects.LAST_TOUCH_NPS_WEIGHT * experience.last_quality
    score += effects.PRIOR_TOUCH_NPS_WEIGHT * experience.prior_quality
    score += effects.NPS_NOISE_SD * normal[9]
    quality = experience.trigger_quality
    csat = effects.TRANSACTIONAL_CSAT_BASE + effects.TRANSACTIONAL_CSAT_PER_QUALITY * quality
    ces = effects.TRANSACTIONAL_CES_BASE + effects.TRANSACTIONAL_CES_PER_QUALITY * quality
    for _page, question in definition.questions():
        if question.type == "nps":
            values[question.code] = str(int(np.clip(np.round(score), 0, 10)))
        elif question.type == "csat":
            values[question.code] = str(int(np.clip(np.round(csat + 0.6 * normal[8]), 1, 5)))
        elif question.type == "ces":
            values[question.code] = str(int(np.clip(np.round(ces + 0.9 * normal[7]), 1, 7)))
    return values


def _normals(uniforms: np.ndarray) -> np.ndarray:
    """Standard normal draws from uniform ones (Box-Muller), so each answer uses fixed draws."""
    pairs = uniforms.reshape(-1, 2)
    radius = np.sqrt(-2.0 * np.log1p(-pairs[:, 0]))
    angle = 2.0 * np.pi * pairs[:, 1]
    return np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])


def _product(
    session: Session, stakeholder: Stakeholder, invitation: Invitation, draw: float
) -> ProductDef:
    """The product a comment names: the triggering contact's, else one of their areas'."""
    if invitation.trigger_interaction_id is not None:
        code = session.scalar(
            select(Interaction.product_code).where(
                Interaction.id == invitation.trigger_interaction_id
            )
        )
        found = next((p for p in PRODUCTS if p.code == code), None)
        if found is not None:
            return found
    areas = set(
        session.scalars(
            select(TherapeuticInterest.therapeutic_area_code).where(
                TherapeuticInterest.stakeholder_id == stakeholder.id
            )
        )
    ) or {"oncology"}
    options = [p for p in PRODUCTS if p.therapeutic_area in areas and p.phase == "commercial"]
    return options[int(draw * len(options))]


def _record_in_manifest(session: Session, summary: LiveSummary) -> None:
    """Keep the live week in the demo's manifest, and its row counts true to the store."""
    run = session.scalars(select(DemoRun).order_by(DemoRun.id.desc()).limit(1)).first()
    if run is None:
        return
    manifest = dict(run.manifest)
    counts = dict(manifest.get("counts", {}))
    for name in LIVE_TABLES:
        table = metadata.tables[name]
        counts[name] = int(session.scalar(select(func.count()).select_from(table)) or 0)
    manifest["counts"] = dict(sorted(counts.items()))
    manifest["live_surveys"] = summary.manifest()
    run.manifest = manifest
    session.flush()
