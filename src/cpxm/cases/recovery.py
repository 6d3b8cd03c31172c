"""Service recovery: after a case about a person closes, one question through the survey machinery.

"How well did we resolve it?" (0-10) is a survey like any other (code ``service_recovery``,
created on first use): the person gets a personal invitation, one per case (its wave is
``case:ID``), only if the distribution's rules allow it now (survey consent on email, an email
address, the contact-fatigue rules); otherwise the case records why it was held back. The
invitation is emailed like every other one, by the survey outbox (``cpxm.surveys.outbox``),
the person answers on the ordinary respondent page ``/s/{token}``, and the case scanner copies
the answer to the case, where the recovery rate counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.cases.models import Case
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.distribution import SendPlan, create_invitations
from cpxm.surveys.fatigue import Hold, holds_for
from cpxm.surveys.models import Invitation, Survey
from cpxm.surveys.service import save_definition
from cpxm.timeutil import utc_now

RECOVERY_SURVEY_CODE = "service_recovery"
RECOVERY_QUESTION_CODE = "resolved_well"
RECOVERY_CHANNEL = "email"
RECOVERY_EXPIRES_DAYS = 14
# The survey's definition; a CX lead may publish a new version (wording, languages) as long as
# the question keeps its code and its 0-10 scale.
RECOVERY_DEFINITION: dict[str, Any] = {
    "code": RECOVERY_SURVEY_CODE,
    "name": {
        "en": "How we handled your feedback",
        "de": "Wie wir mit Ihrer Rückmeldung umgegangen sind",
        "fr": "Le traitement de votre retour",
        "es": "Cómo gestionamos su comentario",
    },
    "kind": "service_recovery",
    "status": "active",
    "default_language": "en",
    "languages": ["de", "fr", "es"],
    "introduction": {
        "en": "You told us about a problem recently and we followed it up. One question, please.",
        "de": "Sie haben uns kürzlich ein Problem geschildert. Bitte beantworten Sie eine Frage.",
        "fr": "Vous nous avez signalé un problème récemment. Une seule question, s'il vous plaît.",
        "es": "Hace poco nos contó un problema y le dimos seguimiento. Una sola pregunta.",
    },
    "pages": [
        {
            "questions": [
                {
                    "code": RECOVERY_QUESTION_CODE,
                    "type": "rating",
                    "min": 0,
                    "max": 10,
                    "required": True,
                    "prompt": {
                        "en": "How well did we resolve it?",
                        "de": "Wie gut haben wir es gelöst?",
                        "fr": "Dans quelle mesure l'avons-nous bien résolu ?",
                        "es": "¿Qué tan bien lo resolvimos?",
                    },
                    "min_label": {
                        "en": "Not at all",
                        "de": "Überhaupt nicht",
                        "fr": "Pas du tout",
                        "es": "Nada",
                    },
                    "max_label": {
                        "en": "Completely",
                        "de": "Vollständig",
                        "fr": "Complètement",
                        "es": "Completamente",
                    },
                }
            ]
        }
    ],
}


def recovery_survey(session: Session) -> Survey:
    """The service-recovery survey, created from ``RECOVERY_DEFINITION`` the first time."""
    survey = session.scalar(select(Survey).where(Survey.code == RECOVERY_SURVEY_CODE))
    if survey is not None:
        return survey
    return save_definition(session, document=RECOVERY_DEFINITION).survey


@dataclass(frozen=True)
class RecoveryInvite:
    invitation: Invitation | None
    holds: list[Hold]


def invite_to_recovery(session: Session, *, case: Case) -> RecoveryInvite:
    """Invite the case's stakeholder to the re-survey now, or say which rules hold it back.

    A case already invited keeps its invitation (closing again after a reopen sends nothing new).
    """
    if case.recovery_invitation_id is not None:
        return RecoveryInvite(session.get(Invitation, case.recovery_invitation_id), [])
    stakeholder = session.get(Stakeholder, case.stakeholder_id) if case.stakeholder_id else None
    if stakeholder is None:
        return RecoveryInvite(None, [Hold("stakeholder", "the case is about nobody")])
    now = utc_now()
    # The survey that opened the case is part of this conversation, not a reason to stay silent.
    holds = holds_for(
        session,
        stakeholders=[stakeholder],
        channel=RECOVERY_CHANNEL,
        now=now,
        following_up=[case.response_id] if case.response_id else (),
    )
    if holds.get(stakeholder.id):
        return RecoveryInvite(None, holds[stakeholder.id])
    survey = recovery_survey(session)
    if survey.status != "active":
        return RecoveryInvite(None, [Hold("survey_status", f"the survey is {survey.status}")])
    plan = SendPlan(survey, f"case:{case.id}", RECOVERY_CHANNEL, invite=[stakeholder])
    (invitation,) = create_invitations(
        session, plan=plan, now=now, expires_days=RECOVERY_EXPIRES_DAYS
    )
    return RecoveryInvite(invitation, [])
