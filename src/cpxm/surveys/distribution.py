"""Getting a survey to people: waves of personal invitations, triggered invitations, open links,
emails, reminders and expiry.

Every personal invitation passes the same gate (``cpxm.surveys.fatigue``): survey consent on the
channel and the contact-fatigue rules. A plan says who would be invited and who is held back by
which rule; sending carries the plan out. One stakeholder gets at most one invitation per wave.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from cpxm.access.purposes import OBJECTION_RULE
from cpxm.db import one_of
from cpxm.errors import DomainError
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Stakeholder, TherapeuticInterest
from cpxm.surveys.definition import SurveyDefinition, localise, pipe_names
from cpxm.surveys.fatigue import Hold, holds_for
from cpxm.surveys.mail import Email, Mailer
from cpxm.surveys.models import Invitation, Survey, SurveyLink
from cpxm.surveys.responding import new_token
from cpxm.surveys.service import current_definition

DEFAULT_EXPIRES_DAYS = 21
# The invitation email's words; a survey's own ``introduction`` is used as its body when set.
INVITATION_TEXT = {
    "en": ("Your opinion: {survey_name}", "Dear {display_name},", "It takes a few minutes."),
    "de": ("Ihre Meinung: {survey_name}", "Guten Tag {display_name},", "Es dauert wenige Minuten."),
    "fr": ("Votre avis : {survey_name}", "Bonjour {display_name},", "Cela prend quelques minutes."),
    "es": ("Su opinión: {survey_name}", "Estimado/a {display_name}:", "Le llevará unos minutos."),
}
REMINDER_PREFIX = {"en": "Reminder", "de": "Erinnerung", "fr": "Rappel", "es": "Recordatorio"}


class SurveyNotActive(DomainError):
    status_code = 409


@dataclass
class SendPlan:
    survey: Survey
    wave: str
    channel: str
    invite: list[Stakeholder] = field(default_factory=list)
    held: list[tuple[Stakeholder, list[Hold]]] = field(default_factory=list)
    already_invited: int = 0


def audience_of(session: Session, *, definition: SurveyDefinition) -> list[Stakeholder]:
    """Active stakeholders matching the audience's types, therapeutic areas and countries."""
    audience = definition.audience
    query = select(Stakeholder).where(Stakeholder.status == "active")
    if audience.stakeholder_types:
        query = query.where(one_of(session, Stakeholder.type, audience.stakeholder_types))
    if audience.countries:
        query = query.where(one_of(session, Stakeholder.country_code, audience.countries))
    if audience.therapeutic_areas:
        interested = select(TherapeuticInterest.stakeholder_id).where(
            one_of(session, TherapeuticInterest.therapeutic_area_code, audience.therapeutic_areas)
        )
        query = query.where(Stakeholder.id.in_(interested))
    return list(session.scalars(query.order_by(Stakeholder.id)))


def plan_wave(
    session: Session, *, survey: Survey, wave: str, channel: str, now: datetime
) -> SendPlan:
    """Who a wave would invite now, and who is held back by which rule (nothing is written)."""
    if survey.status != "active":
        raise SurveyNotActive(
            f"survey '{survey.code}' is {survey.status}; set status: active in its definition "
            "before sending"
        )
    definition = current_definition(session, survey=survey)
    audience = audience_of(session, definition=definition)
    invited = set(
        session.scalars(
            select(Invitation.stakeholder_id).where(
                Invitation.survey_id == survey.id, Invitation.wave == wave
            )
        )
    )
    candidates = [s for s in audience if s.id not in invited]
    holds = holds_for(session, stakeholders=candidates, channel=channel, now=now)
    plan = SendPlan(survey, wave, channel, already_invited=len(audience) - len(candidates))
    for stakeholder in candidates:
        reasons = holds.get(stakeholder.id)
        if reasons:
            plan.held.append((stakeholder, reasons))
        else:
            plan.invite.append(stakeholder)
    return plan


def create_invitations(
    session: Session,
    *,
    plan: SendPlan,
    now: datetime,
    expires_days: int = DEFAULT_EXPIRES_DAYS,
) -> list[Invitation]:
    """Carry out a plan: one pending invitation per stakeholder; emails go out in a job."""
    invitations = [
        Invitation(
            survey_id=plan.survey.id,
            stakeholder_id=stakeholder.id,
            token=new_token(),
            channel_code=plan.channel,
            status="pending",
            expires_at=now + timedelta(days=expires_days),
            wave=plan.wave,
            language=stakeholder.language,
        )
        for stakeholder in plan.invite
    ]
    session.add_all(invitations)
    session.flush()
    return invitations


def invite_after_contacts(
    session: Session, *, survey: Survey, now: datetime
) -> tuple[list[Invitation], int]:
    """The survey's trigger: invite after each matching contact ``days_after`` days ago.

    Looks back one more day than the delay, so an hourly job never misses a contact, and skips
    contacts that already have their invitation. Returns (invitations, contacts held back).
    """
    definition = current_definition(session, survey=survey)
    trigger = definition.trigger
    if trigger is None or survey.status != "active":
        return [], 0
    due_before = now - timedelta(days=trigger.days_after)
    contacts = list(
        session.scalars(
            select(Interaction)
            .where(
                one_of(session, Interaction.interaction_type, trigger.interaction_types),
                Interaction.occurred_at <= due_before,
                Interaction.occurred_at > due_before - timedelta(days=1),
                Interaction.id.not_in(
                    select(Invitation.trigger_interaction_id).where(
                        Invitation.survey_id == survey.id,
                        Invitation.trigger_interaction_id.is_not(None),
                    )
                ),
            )
            .order_by(Interaction.occurred_at)
        )
    )
    if not contacts:
        return [], 0
    people = {
        s.id: s
        for s in session.scalars(
            select(Stakeholder).where(
                one_of(session, Stakeholder.id, {c.stakeholder_id for c in contacts})
            )
        )
    }
    holds = holds_for(session, stakeholders=list(people.values()), channel=trigger.channel, now=now)
    invitations: list[Invitation] = []
    held = 0
    chosen: set[int] = set()
    for contact in contacts:
        person = people[contact.stakeholder_id]
        # Several due contacts of one person make one invitation, for the latest contact.
        if holds.get(person.id) or person.id in chosen:
            held += 1
            continue
        chosen.add(person.id)
        invitations.append(
            Invitation(
                survey_id=survey.id,
                stakeholder_id=person.id,
                token=new_token(),
                channel_code=trigger.channel,
                status="pending",
                expires_at=now + timedelta(days=trigger.expires_days),
                trigger_interaction_id=contact.id,
                language=person.language,
            )
        )
    session.add_all(invitations)
    session.flush()
    return invitations, held


def deliver_invitations(
    session: Session,
    *,
    invitation_ids: list[int],
    mailer: Mailer,
    now: datetime,
    reminder: bool = False,
) -> tuple[int, int]:
    """Email each invitation (skipping finished or expired ones) in the caller's transaction;
    (sent, failed). Workers send through ``cpxm.surveys.outbox``, which commits each email.

    Consent is checked again at sending time, so a withdrawal since the plan is honoured.
    """
    sent = failed = 0
    rows = session.execute(
        select(Invitation, Stakeholder, Survey)
        .join(Stakeholder, Stakeholder.id == Invitation.stakeholder_id)
        .join(Survey, Survey.id == Invitation.survey_id)
        .where(one_of(session, Invitation.id, invitation_ids))
        .order_by(Invitation.id)
    ).all()
    holds = holds_for(session, stakeholders=[row[1] for row in rows], channel="email", now=now)
    definitions: dict[int, SurveyDefinition] = {}
    for invitation, stakeholder, survey in rows:
        if invitation.status in ("completed", "expired") or invitation.channel_code != "email":
            continue
        if invitation.expires_at is not None and invitation.expires_at <= now:
            continue
        refusal = refusal_reason(stakeholder, holds.get(stakeholder.id, []))
        if refusal:
            record_failure(invitation, error=refusal, now=now)
            failed += 1
            continue
        if survey.id not in definitions:
            definitions[survey.id] = current_definition(session, survey=survey)
        email = invitation_email(
            definitions[survey.id],
            invitation,
            stakeholder,
            mailer.settings.public_url,
            reminder,
            mailer.sender_domain,
        )
        try:
            mailer.send(email)
        except OSError as error:  # smtplib errors are OSErrors: refused, disconnected, timeout
            record_failure(invitation, error=f"{type(error).__name__}: {error}", now=now)
            failed += 1
            continue
        record_sent(invitation, now=now, reminder=reminder)
        sent += 1
    session.flush()
    return sent, failed


# Back-off after a failed email: 1, 2, 4, ... minutes after the n-th failure in a row, at most
# an hour, until it is sent or the invitation expires.
LONGEST_RETRY = timedelta(hours=1)


def retry_delay(failed_attempts: int) -> timedelta:
    """How long an email waits after its ``failed_attempts``-th failure in a row."""
    doublings = min(max(failed_attempts - 1, 0), 16)
    return min(timedelta(minutes=1 << doublings), LONGEST_RETRY)


def refusal_reason(stakeholder: Stakeholder, holds: list[Hold]) -> str | None:
    """Why this person may not be emailed now (no survey consent, an objection, no address),
    or None."""
    consent = [hold for hold in holds if hold.rule in ("survey_consent", OBJECTION_RULE)]
    if consent:
        return consent[0].reason
    return None if stakeholder.email else "no email address"


def sent_changes(
    *, status: str, reminders_sent: int, now: datetime, reminder: bool
) -> dict[str, object]:
    """What sending an invitation's email (or its reminder) changes on the invitation."""
    changes: dict[str, object] = {"send_error": None, "send_attempts": 0, "next_send_at": None}
    if reminder:
        changes.update(reminders_sent=reminders_sent + 1, last_reminded_at=now)
    else:
        changes.update(status="sent" if status == "pending" else status, sent_at=now)
    return changes


def failure_changes(*, failed_attempts: int, error: str, now: datetime) -> dict[str, object]:
    """What a failed email changes: why, and when to try again (after ``failed_attempts``)."""
    return {
        "send_attempts": failed_attempts,
        "send_error": error[:500],
        "next_send_at": now + retry_delay(failed_attempts),
    }


def record_sent(invitation: Invitation, *, now: datetime, reminder: bool) -> None:
    changes = sent_changes(
        status=invitation.status,
        reminders_sent=invitation.reminders_sent,
        now=now,
        reminder=reminder,
    )
    for column, value in changes.items():
        setattr(invitation, column, value)


def record_failure(
    invitation: Invitation, *, error: str, now: datetime, counted: bool = False
) -> None:
    """Keep why the email failed and when to try again (``counted``: the attempt was already
    counted, by the outbox's claim)."""
    attempts = invitation.send_attempts + (0 if counted else 1)
    for column, value in failure_changes(failed_attempts=attempts, error=error, now=now).items():
        setattr(invitation, column, value)


def invitation_email(
    definition: SurveyDefinition,
    invitation: Invitation,
    stakeholder: Stakeholder,
    public_url: str,
    reminder: bool,
    sender_domain: str = "localhost",
) -> Email:
    language = invitation.language or definition.default_language
    if language not in INVITATION_TEXT:
        language = "en"
    subject, greeting, body = INVITATION_TEXT[language]
    names = {
        "first_name": stakeholder.first_name or "",
        "last_name": stakeholder.last_name or "",
        "display_name": stakeholder.display_name,
        "survey_name": localise(definition.name, language, definition.default_language),
    }
    introduction = localise(definition.introduction, language, definition.default_language)
    subject = pipe_names(subject, names)
    if reminder:
        subject = f"{REMINDER_PREFIX.get(language, 'Reminder')}: {subject}"
    return Email(
        to=stakeholder.email or "",
        subject=subject,
        greeting=pipe_names(greeting, names),
        text=pipe_names(introduction or body, names),
        link=f"{public_url}/s/{invitation.token}",
        message_id=invitation_message_id(invitation, reminder, sender_domain),
    )


def invitation_message_id(invitation: Invitation, reminder: bool, sender_domain: str) -> str:
    """The same Message-ID each time one email of this invitation is sent: the invitation, or
    its n-th reminder. Made from a digest of the token, which is the respondent's key and must
    not appear in mail server logs."""
    digest = hashlib.sha256(invitation.token.encode()).hexdigest()[:32]
    kind = f"reminder{invitation.reminders_sent + 1}" if reminder else "invitation"
    return f"<{kind}.{digest}@{sender_domain}>"


def email_due(now: datetime) -> ColumnElement[bool]:
    """Invitations whose first email is due: pending, by email, not expired, not waiting."""
    return and_(
        Invitation.status == "pending",
        Invitation.channel_code == "email",
        or_(Invitation.expires_at.is_(None), Invitation.expires_at > now),
        or_(Invitation.next_send_at.is_(None), Invitation.next_send_at <= now),
    )


def reminder_due(now: datetime, *, after_days: int, max_reminders: int) -> ColumnElement[bool]:
    """Invitations sent at least ``after_days`` ago, not yet opened or answered, not expired,
    with reminders left and not waiting."""
    return and_(
        Invitation.status == "sent",
        Invitation.channel_code == "email",
        Invitation.opened_at.is_(None),
        Invitation.sent_at <= now - timedelta(days=after_days),
        Invitation.reminders_sent < max_reminders,
        or_(Invitation.expires_at.is_(None), Invitation.expires_at > now),
        or_(Invitation.next_send_at.is_(None), Invitation.next_send_at <= now),
    )


def reminder_due_ids(
    session: Session, *, now: datetime, after_days: int = 7, max_reminders: int = 1
) -> list[int]:
    """The invitations whose reminder is due (``reminder_due``)."""
    condition = reminder_due(now, after_days=after_days, max_reminders=max_reminders)
    return list(session.scalars(select(Invitation.id).where(condition).order_by(Invitation.id)))


def expire_invitations(session: Session, *, now: datetime) -> int:
    """Mark invitations past their expiry that were never completed; their links stop working."""
    due = list(
        session.scalars(
            select(Invitation).where(
                Invitation.expires_at <= now,
                one_of(session, Invitation.status, ["pending", "sent", "started"]),
            )
        )
    )
    for invitation in due:
        invitation.status = "expired"
    session.flush()
    return len(due)


def create_open_link(
    session: Session,
    *,
    survey: Survey,
    label: str,
    channel: str | None = None,
    expires_at: datetime | None = None,
) -> SurveyLink:
    """An anonymous link anyone may answer (a congress booth, a website banner)."""
    link = SurveyLink(
        survey_id=survey.id,
        token=new_token(),
        label=label,
        channel_code=channel,
        expires_at=expires_at,
    )
    session.add(link)
    session.flush()
    return link


def send_scheduled_waves(session: Session, *, now: datetime) -> dict[str, int]:
    """Invite every active survey's scheduled wave that is due and not sent yet (the same plan,
    consent and contact-fatigue rules as ``cpxm survey send``); invitations made, by survey."""
    made: dict[str, int] = {}
    for survey in session.scalars(select(Survey).where(Survey.status == "active")):
        schedule = current_definition(session, survey=survey).schedule
        wave = schedule.wave_due(now.date()) if schedule is not None else None
        if schedule is None or wave is None:
            continue
        sent = session.scalar(
            select(Invitation.id)
            .where(Invitation.survey_id == survey.id, Invitation.wave == wave)
            .limit(1)
        )
        if sent is not None:
            continue  # this wave went out (on schedule or by hand); later joiners wait
        plan = plan_wave(session, survey=survey, wave=wave, channel=schedule.channel, now=now)
        invitations = create_invitations(
            session, plan=plan, now=now, expires_days=schedule.expires_days
        )
        made[survey.code] = len(invitations)
    return made
