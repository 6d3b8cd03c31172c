"""When a survey answer holds a possible adverse event, product complaint or special situation,
the thank-you page asks whether the safety team may contact the respondent (BHBIA / ABPI), and
the answer is stored with the cases. On an anonymous link the company cannot reach anyone, so
the question also asks for contact details, and a "yes" without them is told plainly that no
one will be able to get in touch: never promise contact that cannot happen.

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
from cpxm.surveys.respondent import START_NOTICES, THANK_YOU_EXTRAS
from cpxm.surveys.responding import InvalidLink, Respondent, open_respondent
from cpxm.timeutil import utc_now

router = APIRouter(include_in_schema=False)

# The question in the respondent's language (the survey languages the demo and UI speak).
WORDING: dict[str, dict[str, str]] = {
    "en": {
        "question": "You mentioned something that may be a side effect, a problem with a "
        "product, or another drug safety matter. May our drug safety team contact you about it?",
        "details": "This survey does not know who you are. To be contacted, leave a way to "
        "reach you (used only by the drug safety team):",
        "name": "Name (optional)",
        "email": "Email",
        "phone": "Phone",
        "thanks_unreachable": "Thank you. As this survey is anonymous and you left no email or "
        "phone number, our drug safety team cannot contact you. Your report still reaches them.",
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
    anonymous: bool = False  # an open link: contact details must be asked for
    reachable: bool = True  # after a "yes": whether the team has a way to reach the person


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
    words = {**WORDING["en"], **WORDING.get(language.split("-")[0], WORDING["en"])}
    anonymous = response.stakeholder_id is None
    reachable = not anonymous or any(case.reporter_identity for case in cases)
    return ContactQuestion(
        token=token, words=words, answered=answered, anonymous=anonymous, reachable=reachable
    )


@router.post("/s/{token}/safety-contact", dependencies=[requires(PUBLIC)])
def answer_contact_question(
    session: DbSession,
    token: str,
    allowed: Annotated[str, Form(pattern="^(yes|no)$")],
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Store the respondent's answer (and, on an anonymous link, how to reach them) on every
    safety case of their response."""
    try:
        respondent = open_respondent(session, token=token, now=utc_now())
    except InvalidLink:
        raise NotFoundError("survey link", token) from None
    if respondent.response is None or respondent.state != "completed":
        return RedirectResponse(f"/s/{token}", status_code=303)
    contact = (
        {"name": name, "email": email, "phone": phone}
        if respondent.response.stakeholder_id is None
        else None
    )
    # The answer may come before the page that asked was screened (a form kept open, a script):
    # open the cases first, so the answer is never lost.
    screen_response(session, response_id=respondent.response.id)
    record_contact_permission(
        session, response_id=respondent.response.id, allowed=allowed == "yes", contact=contact
    )
    return RedirectResponse(f"/s/{token}/thanks", status_code=303)


def _thank_you_extra(session: Session, respondent: Respondent) -> dict[str, Any] | None:
    question = contact_question(
        session,
        token=respondent.token,
        response=respondent.response,
        language=respondent.language,
    )
    return {"safety": question} if question else None


# Said at the start of every survey that may collect safety events (BHBIA / ABPI): all but the
# confidential employee pulse, whose answers are never tied to a person or a case.
START_NOTICE: dict[str, str] = {
    "en": "If you tell us about a side effect, a problem with one of our products or another "
    "drug safety matter, we must pass it on to our drug safety team, even though this is a "
    "survey; we will ask you at the end whether they may contact you.",
    "de": "Wenn Sie uns von einer Nebenwirkung, einem Problem mit einem unserer Produkte oder "
    "einem anderen Thema der Arzneimittelsicherheit berichten, müssen wir dies an unser "
    "Arzneimittelsicherheitsteam weitergeben; am Ende fragen wir Sie, ob es Sie kontaktieren darf.",
    "fr": "Si vous nous signalez un effet indésirable, un problème avec l'un de nos produits ou "
    "une autre question de pharmacovigilance, nous devons le transmettre à notre équipe de "
    "pharmacovigilance ; à la fin, nous vous demanderons si elle peut vous contacter.",
    "es": "Si nos informa de un efecto adverso, un problema con uno de nuestros productos u otro "
    "asunto de farmacovigilancia, debemos comunicarlo a nuestro equipo de farmacovigilancia; al "
    "final le preguntaremos si puede ponerse en contacto con usted.",
    "ja": "副作用、当社製品の問題、その他の安全性に関する情報をお知らせいただいた場合、"
    "安全性担当チームに報告する義務があります。最後に、同チームからご連絡してよいかお伺いします。",
}


def _start_notice(respondent: Respondent) -> str | None:
    if respondent.survey.kind == "employee_pulse":
        return None
    return START_NOTICE.get(respondent.language.split("-")[0], START_NOTICE["en"])


# Importing this module (the app does, to route the form) puts the question on the page.
THANK_YOU_EXTRAS.append(_thank_you_extra)
START_NOTICES.append(_start_notice)
