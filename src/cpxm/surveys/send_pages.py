"""Survey pages that reach people: the send plan and sending, reminders, open links, and the
preview as a respondent sees the survey.

All of it is running the programme (``CX_MANAGEMENT``). Sending calls the same plan as
``cpxm survey send`` (``plan_wave``: audience, consent, contact-fatigue rules), stores the
invitations, and nudges a worker to email them once the request has committed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cpxm.access import CxManager, shield_stakeholders
from cpxm.deps import DbSession
from cpxm.errors import DomainError
from cpxm.stakeholders.schemas import stakeholder_out
from cpxm.surveys import monitor, service
from cpxm.surveys.distribution import (
    DEFAULT_EXPIRES_DAYS,
    create_invitations,
    create_open_link,
    plan_wave,
)
from cpxm.surveys.fatigue import active_rules
from cpxm.surveys.models import SurveyLink
from cpxm.surveys.respondent import page_questions, render_page, step_page
from cpxm.surveys.responding import (
    COMPANY_NAME,
    AnswerValue,
    Respondent,
    is_visible,
    missing_required,
    parse_answers,
)
from cpxm.surveys.ui_text import ui_text
from cpxm.timeutil import utc_now
from cpxm.web.templating import templates

router = APIRouter(include_in_schema=False)

SHOWN_PER_GROUP = 100
WAVE_PATTERN = r"^[\w .:\-]{1,80}$"
CHANNELS = ("email", "sms")


def _back(survey_id: int, *, note: str | None = None, error: str | None = None) -> Response:
    key, text = ("error", error) if error else ("note", note or "")
    return RedirectResponse(f"/surveys/{survey_id}?{key}={quote(text)}", status_code=303)


@router.get("/surveys/{survey_id}/send", response_class=HTMLResponse)
def send_plan_page(
    request: Request,
    session: DbSession,
    principal: CxManager,
    survey_id: int,
    wave: Annotated[str | None, Query(pattern=WAVE_PATTERN)] = None,
    channel: Annotated[Literal["email", "sms"], Query()] = "email",
) -> Response:
    """Who a wave would invite now and who is held back by which rule; nothing is sent."""
    survey = service.get_survey(session, survey_id=survey_id).survey
    now = utc_now()
    wave = wave or f"{now:%Y-%m}"
    plan = None
    error = None
    try:
        plan = plan_wave(session, survey=survey, wave=wave, channel=channel, now=now)
    except DomainError as refused:
        error = str(refused.detail)
    invite: list[Any] = []
    held: list[tuple[Any, list[Any]]] = []
    by_rule: list[tuple[str, int]] = []
    if plan is not None:
        shown_invite = plan.invite[:SHOWN_PER_GROUP]
        shown_held = plan.held[:SHOWN_PER_GROUP]
        people = shield_stakeholders(
            session,
            principal,
            [stakeholder_out(s) for s in [*shown_invite, *(s for s, _h in shown_held)]],
            purpose="survey send plan",
        )
        invite = people[: len(shown_invite)]
        held = list(zip(people[len(shown_invite) :], [h for _s, h in shown_held], strict=True))
        by_rule = Counter(hold.rule for _s, holds in plan.held for hold in holds).most_common()
    return templates.TemplateResponse(
        request,
        "surveys/send.html",
        {
            "survey": survey,
            "plan": plan,
            "wave": wave,
            "channel": channel,
            "channels": CHANNELS,
            "invite": invite,
            "held": held,
            "by_rule": by_rule,
            "rules": {rule.code: rule for rule in active_rules(session)},
            "error": error,
            "expires_days": DEFAULT_EXPIRES_DAYS,
            "shown": SHOWN_PER_GROUP,
            "csrf_token": principal.csrf_token or "",
            "principal": principal,
            "active_nav": "surveys",
        },
    )


def _nudge_email_worker() -> None:
    from cpxm.jobs import enqueue_after_commit
    from cpxm.surveys.jobs import send_due_invitation_emails

    enqueue_after_commit(send_due_invitation_emails)


@router.post("/surveys/{survey_id}/send")
def send_wave(
    session: DbSession,
    principal: CxManager,
    background: BackgroundTasks,
    survey_id: int,
    wave: Annotated[str, Form(pattern=WAVE_PATTERN)],
    channel: Annotated[Literal["email", "sms"], Form()] = "email",
    expires_days: Annotated[int, Form(ge=1, le=365)] = DEFAULT_EXPIRES_DAYS,
) -> Response:
    """Invite the wave's audience as the plan says now (the plan is made again: consent or
    contacts may have changed since the page was shown)."""
    survey = service.get_survey(session, survey_id=survey_id).survey
    now = utc_now()
    try:
        plan = plan_wave(session, survey=survey, wave=wave, channel=channel, now=now)
    except DomainError as refused:
        return _back(survey_id, error=str(refused.detail))
    invitations = create_invitations(session, plan=plan, now=now, expires_days=expires_days)
    if any(invitation.channel_code == "email" for invitation in invitations):
        # Runs after the response is sent, so after the session committed the invitations.
        background.add_task(_nudge_email_worker)
    return _back(
        survey_id,
        note=f"Wave {wave}: {len(invitations)} invitation(s) made on {channel}, "
        f"{len(plan.held)} held back, {plan.already_invited} already invited in this wave",
    )


@router.post("/surveys/{survey_id}/reminders")
def send_reminders(
    session: DbSession,
    principal: CxManager,
    background: BackgroundTasks,
    survey_id: int,
    after_days: Annotated[int, Form(ge=0, le=90)] = 3,
    max_reminders: Annotated[int, Form(ge=1, le=5)] = 1,
) -> Response:
    """Remind now those emailed ``after_days`` ago or more who have not opened the survey."""
    service.get_survey(session, survey_id=survey_id)
    due = monitor.reminders_due(
        session,
        survey_id=survey_id,
        now=utc_now(),
        after_days=after_days,
        max_reminders=max_reminders,
    )
    if not due:
        return _back(
            survey_id,
            note=f"No reminder is due: nobody emailed {after_days} day(s) ago or more is "
            f"still unopened with fewer than {max_reminders} reminder(s)",
        )

    def enqueue() -> None:
        from cpxm.jobs import enqueue_after_commit
        from cpxm.surveys.jobs import send_survey_reminders

        enqueue_after_commit(send_survey_reminders, survey_id, after_days, max_reminders)

    background.add_task(enqueue)
    return _back(survey_id, note=f"{due} reminder(s) queued; they go out within a minute")


@router.post("/surveys/{survey_id}/links")
def add_open_link(
    session: DbSession,
    principal: CxManager,
    survey_id: int,
    label: Annotated[str, Form(min_length=1, max_length=200)],
    channel: Annotated[str, Form(max_length=40)] = "",
    expires_on: Annotated[str, Form(max_length=10, pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = "",
) -> Response:
    """An anonymous open link (a congress booth, a newsletter), optionally ending on a day."""
    survey = service.get_survey(session, survey_id=survey_id).survey
    expires_at = (
        datetime.combine(datetime.fromisoformat(expires_on).date(), time.min) + timedelta(days=1)
        if expires_on
        else None
    )
    link = create_open_link(
        session, survey=survey, label=label.strip(), channel=channel or None, expires_at=expires_at
    )
    return _back(survey_id, note=f"Open link '{link.label}' made: /s/{link.token}")


@router.post("/surveys/{survey_id}/links/{link_id}/close")
def close_open_link(
    session: DbSession, principal: CxManager, survey_id: int, link_id: int
) -> Response:
    """Stop an open link taking answers; what it brought stays."""
    link = session.get(SurveyLink, link_id)
    if link is None or link.survey_id != survey_id:
        return _back(survey_id, error=f"no open link {link_id} on this survey")
    if link.closed_at is None:
        link.closed_at = utc_now()
    return _back(survey_id, note=f"Open link '{link.label}' closed")


# -- the preview ------------------------------------------------------------------------------

SAMPLE_NAMES = {"first_name": "Alex", "last_name": "Example", "display_name": "Dr Alex Example"}


def _preview_respondent(session: DbSession, survey_id: int, language: str | None) -> Respondent:
    survey = service.get_survey(session, survey_id=survey_id).survey
    definition = service.current_definition(session, survey=survey)
    languages = definition.all_languages()
    chosen = language if language in languages else definition.default_language
    respondent = Respondent(
        token="",
        survey=survey,
        definition=definition,
        version=survey.version,
        state="open",
        language=chosen,
    )
    respondent.names.update(
        SAMPLE_NAMES,
        survey_name=respondent.text(definition.name),
        company=COMPANY_NAME,
    )
    return respondent


def _encode(answers: dict[str, AnswerValue]) -> str:
    return json.dumps(
        {code: [a.number, a.text, a.choices] for code, a in answers.items()}, ensure_ascii=True
    )


def _decode(text: str, known: set[str]) -> dict[str, AnswerValue]:
    """The answers of earlier preview pages, carried in the form (nothing is stored)."""
    try:
        found = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    answers: dict[str, AnswerValue] = {}
    if not isinstance(found, dict):
        return {}
    for code, value in found.items():
        if code not in known or not isinstance(value, list) or len(value) != 3:
            continue
        number, words, choices = value
        answers[code] = AnswerValue(
            number=float(number) if isinstance(number, int | float) else None,
            text=words if isinstance(words, str) else None,
            choices=[c for c in choices if isinstance(c, str)]
            if isinstance(choices, list)
            else None,
        )
    return answers


def _render_preview(
    request: Request,
    respondent: Respondent,
    principal: Any,
    *,
    page: int,
    answers: dict[str, AnswerValue],
    errors: dict[str, str] | None = None,
    submitted: dict[str, list[str]] | None = None,
    finished: bool = False,
) -> Response:
    survey = respondent.survey
    preview = {
        "survey_id": survey.id,
        "version": respondent.version,
        "survey_page": f"/surveys/{survey.id}",
        "languages": respondent.definition.all_languages(),
        "language": respondent.language,
        "csrf_token": principal.csrf_token or "",
        "state": _encode(answers),
        "phone_url": f"/surveys/{survey.id}/preview?lang={respondent.language}&page={page}",
    }
    if finished:
        words = ui_text(respondent.language)
        return templates.TemplateResponse(
            request,
            "surveys/preview_end.html",
            {
                "language": respondent.language,
                "survey_name": respondent.names["survey_name"],
                "thank_you": respondent.text(respondent.definition.thank_you)
                or words.get("thank_you", ""),
                "answered": len(answers),
                "preview": preview,
            },
        )
    return render_page(
        request,
        respondent,
        page=page,
        answers=answers,
        errors=errors,
        submitted=submitted,
        status_code=422 if errors else 200,
        action=f"/surveys/{survey.id}/preview",
        preview=preview,
    )


@router.get("/surveys/{survey_id}/preview", response_class=HTMLResponse)
def preview(
    request: Request,
    session: DbSession,
    principal: CxManager,
    survey_id: int,
    lang: Annotated[str | None, Query(max_length=8)] = None,
    page: Annotated[int, Query(ge=1, le=500)] = 1,
) -> Response:
    """The survey's current version as a respondent meets it, page by page, in any of its
    languages; answers go nowhere."""
    respondent = _preview_respondent(session, survey_id, lang)
    page = min(page, len(respondent.definition.pages))
    return _render_preview(request, respondent, principal, page=page, answers={})


@router.post("/surveys/{survey_id}/preview", response_class=HTMLResponse)
async def preview_step(
    request: Request, session: DbSession, principal: CxManager, survey_id: int
) -> Response:
    """Next, back or submit in the preview: the answers are checked as a respondent's would
    be and display logic applied, then carried to the next page in the form, never stored."""
    form = await request.form()
    fields: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(name, []).append(value)
    language = (fields.get("lang") or [""])[0] or None
    respondent = _preview_respondent(session, survey_id, language)
    pages = len(respondent.definition.pages)
    raw_page = (fields.get("page") or ["1"])[0]
    page = min(max(int(raw_page), 1), pages) if re.fullmatch(r"\d{1,3}", raw_page) else 1
    action = (fields.get("action") or ["next"])[0]
    known = {q.code for _p, q in respondent.definition.questions()}
    carried = _decode((fields.get("preview_state") or [""])[0], known)
    questions = page_questions(respondent, page)
    answers, empty, errors = parse_answers(questions, fields, known_codes=known)
    everything = {**carried, **answers}
    for code in empty:
        everything.pop(code, None)
    for question in questions:
        if not is_visible(question, everything):
            everything.pop(question.code, None)
    if action in ("next", "submit") and not errors:
        visible = [q for q in questions if is_visible(q, everything)]
        errors = missing_required(visible, everything)
    if errors:
        return _render_preview(
            request,
            respondent,
            principal,
            page=page,
            answers=everything,
            errors=errors,
            submitted=fields,
        )
    if action == "back":
        following = step_page(respondent, page, -1, everything)
    elif action == "save":
        following = page
    else:
        following = step_page(respondent, page, +1, everything)
        if following == page:
            return _render_preview(
                request, respondent, principal, page=page, answers=everything, finished=True
            )
    return _render_preview(request, respondent, principal, page=following, answers=everything)
