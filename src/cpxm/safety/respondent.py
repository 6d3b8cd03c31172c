"""Issue 5 item 4: when a survey answer holds a possible adverse event, the thank-you page asks
whether the safety team may contact the respondent, and the answer is stored with the case.

The surveys' thank-you page calls :func:`contact_question` (screening the response's text at
once, so the question appears on the page that follows the last answer) and includes
``safety/_contact_question.html``; the form posts to ``/s/{token}/safety-contact`` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from cpxm.access import PUBLIC, requires
from cpxm.deps import DbSession
from cpxm.errors import NotFoundError
from cpxm.safety.screening import screen_response
from cpxm.safety.service import record_contact_permission
from cpxm.surveys.models import Response as SurveyResponse
from cpxm.surveys.respondent import THANK_YOU_EXTRAS
from cpxm.surveys.responding import InvalidLink, Respondent, open_respondent
from cpxm.timeutil import utc_now

router = APIRouter(include_in_schema=False)

# The question in the respondent's language (the survey languages the demo and UI speak).
WORDING: dict[str, dict[str, str]] = {
    "en": {
        "question": "You mentioned something that may be a side effect. May our drug safety team "
        "contact you about it?",
        "yes": "Yes, you may contact me",
        "no": "No, please don't",
        "thanks_yes": "Thank you. Our drug safety team may contact you.",
        "thanks_no": "Thank you. Our drug safety team will not contact you.",
    },
    "de": {
        "question": "Sie haben etwas erwähnt, das eine Nebenwirkung sein könnte. Darf unser "
        "Arzneimittelsicherheitsteam Sie dazu kontaktieren?",
        "yes": "Ja, Sie dürfen mich kontaktieren",
        "no": "Nein, bitte nicht",
        "thanks_yes": "Danke. Unser Arzneimittelsicherheitsteam darf Sie kontaktieren.",
        "thanks_no": "Danke. Unser Arzneimittelsicherheitsteam wird Sie nicht kontaktieren.",
    },
    "fr": {
        "question": "Vous avez mentionné ce qui pourrait être un effet indésirable. Notre équipe "
        "de pharmacovigilance peut-elle vous contacter à ce sujet ?",
        "yes": "Oui, vous pouvez me contacter",
        "no": "Non, merci",
        "thanks_yes": "Merci. Notre équipe de pharmacovigilance pourra vous contacter.",
        "thanks_no": "Merci. Notre équipe de pharmacovigilance ne vous contactera pas.",
    },
    "es": {
        "question": "Ha mencionado algo que podría ser un efecto adverso. ¿Puede nuestro equipo "
        "de farmacovigilancia ponerse en contacto con usted?",
        "yes": "Sí, pueden contactarme",
        "no": "No, gracias",
        "thanks_yes": "Gracias. Nuestro equipo de farmacovigilancia podrá contactarle.",
        "thanks_no": "Gracias. Nuestro equipo de farmacovigilancia no le contactará.",
    },
    "ja": {
        "question": "副作用の可能性があることについて記載がありました。"
        "安全性担当チームからご連絡してもよろしいですか。",
        "yes": "はい、連絡してください",
        "no": "いいえ、連絡しないでください",
        "thanks_yes": "ありがとうございます。安全性担当チームからご連絡する場合があります。",
        "thanks_no": "ありがとうございます。安全性担当チームからご連絡はいたしません。",
    },
}


@dataclass(frozen=True)
class ContactQuestion:
    token: str
    words: dict[str, str]
    answered: bool | None  # None: not yet asked/answered; True/False: the respondent's answer


def contact_question(
    session: Session, *, token: str, response: SurveyResponse | None, language: str
) -> ContactQuestion | None:
    """The question for the thank-you page, or None when the answers hold no possible AE."""
    if response is None:
        return None
    cases = screen_response(session, response_id=response.id)
    if not cases:
        return None
    answers = {case.contact_permission for case in cases}
    answered = answers.pop() if len(answers) == 1 else None
    words = WORDING.get(language.split("-")[0], WORDING["en"])
    return ContactQuestion(token=token, words=words, answered=answered)


@router.post("/s/{token}/safety-contact", dependencies=[requires(PUBLIC)])
def answer_contact_question(
    session: DbSession,
    token: str,
    allowed: Annotated[str, Form(pattern="^(yes|no)$")],
) -> Response:
    """Store the respondent's answer on every AE case of their response."""
    try:
        respondent = open_respondent(session, token=token, now=utc_now())
    except InvalidLink:
        raise NotFoundError("survey link", token) from None
    if respondent.response is None or respondent.state != "completed":
        return RedirectResponse(f"/s/{token}", status_code=303)
    record_contact_permission(session, response_id=respondent.response.id, allowed=allowed == "yes")
    return RedirectResponse(f"/s/{token}/thanks", status_code=303)


def _thank_you_extra(session: Session, respondent: Respondent) -> dict[str, Any] | None:
    question = contact_question(
        session,
        token=respondent.token,
        response=respondent.response,
        language=respondent.language,
    )
    return {"safety": question} if question else None


# Importing this module (the app does, to route the form) puts the question on the page.
THANK_YOU_EXTRAS.append(_thank_you_extra)
