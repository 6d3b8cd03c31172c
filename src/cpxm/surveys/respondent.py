"""The respondent pages, ``/s/{token}``: server-rendered, one page of questions at a time.

Public by nature: the token is the respondent's only credential. Pages work without JavaScript.
Each page's answers are saved when the respondent moves on, so a link can be left and resumed;
an open link hands out a resume address of its own on the first save. The same address takes a
whole response as JSON (``application/json``) for integrations and the load benchmark.

The thank-you page is rendered by :func:`render_thank_you` from ``respondent/thank_you.html``
only, so later questions there (e.g. consent to be contacted by the safety team) go in one place.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session, object_session
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from cpxm.access import PUBLIC, requires
from cpxm.access.cells import DEFAULT_MIN_CELL_SIZE, min_cell_size
from cpxm.deps import DbSession
from cpxm.errors import DomainError
from cpxm.surveys.definition import QuestionDefinition, pipe_names
from cpxm.surveys.responding import (
    NEEDS_ANSWER,
    TOKEN_PATTERN,
    AnswerErrors,
    AnswerValue,
    InvalidLink,
    LinkNotOpen,
    Respondent,
    complete_response,
    field_name,
    is_visible,
    mark_opened,
    missing_required,
    new_token,
    open_respondent,
    parse_answers,
    reserve_for_writing,
    save_answers,
    saved_answers,
    scale_of,
)
from cpxm.surveys.submitting import respondent_for, submit_whole_response
from cpxm.surveys.ui_text import kano_labels, ui_text
from cpxm.timeutil import utc_now
from cpxm.web.security import PAGE_CSP
from cpxm.web.strict_json import InvalidJson, parse_strict_json
from cpxm.web.templating import TEMPLATES_DIRECTORY, templates

router = APIRouter(include_in_schema=False, dependencies=[requires(PUBLIC)])
# Domains above surveys add to the thank-you page without surveys importing them (the safety
# net's "may we contact you?" question): each takes (session, respondent) and returns template
# context, or None to add nothing.
THANK_YOU_EXTRAS: list[Callable[[Session, Respondent], dict[str, Any] | None]] = []
# Notices shown at the start of a survey (on its first page), added the same way: the safety
# net's "if you mention a side effect, we must pass it on". Each returns text or None.
START_NOTICES: list[Callable[[Respondent], str | None]] = []

# A 10-question response is a few KB; this leaves room for long comments and stops floods.
MAX_BODY_BYTES = 256 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"


# Display logic within a page, as the respondent answers: a small script inlined into the pages
# that need it (no extra request), allowed by its hash so the CSP still forbids any other script.
DISPLAY_LOGIC = (TEMPLATES_DIRECTORY / "respondent" / "display_logic.js").read_text()
DISPLAY_LOGIC_CSP = PAGE_CSP.replace(
    "script-src 'self'",
    "script-src 'self' 'sha256-"
    + base64.b64encode(hashlib.sha256(DISPLAY_LOGIC.encode()).digest()).decode()
    + "'",
)


class UnsupportedContentType(DomainError):
    status_code = 415


class BodyTooLarge(DomainError):
    status_code = 413


class BadBody(DomainError):
    status_code = 400


@router.get("/s/{token}", response_class=HTMLResponse)
def show_page(
    request: Request, session: DbSession, token: str, page: int = 0, lang: str | None = None
) -> Response:
    """The page of questions the respondent is on (or a friendly notice)."""
    try:
        respondent = open_respondent(session, token=token, now=utc_now(), language=lang)
    except InvalidLink:
        return render_notice(request, "invalid", language=lang or "en", status_code=404)
    if respondent.state != "open":
        return render_notice(request, respondent.state, respondent=respondent)
    mark_opened(respondent, now=utc_now())
    answers = saved_answers(session, respondent=respondent)
    number = page or first_unfinished_page(respondent, answers)
    return render_page(
        request,
        respondent,
        page=_clamp(respondent, number),
        answers=answers,
        saved=request.query_params.get("saved") == "1",
    )


@router.post("/s/{token}")
async def receive_answers(request: Request, session: DbSession, token: str) -> Response:
    """A page of answers from the form, or a whole response as JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (FORM_TYPE, JSON_TYPE):
        raise UnsupportedContentType(
            f"send answers as {FORM_TYPE} (the survey page) or {JSON_TYPE}, not "
            f"'{content_type or 'no content type'}'"
        )
    body = await _read_body(request)
    # The store is used synchronously: off the event loop, so one request waiting for a lock
    # never stops the others (the one holding it among them) from finishing.
    return await run_in_threadpool(_receive, request, session, token, content_type, body)


def _receive(
    request: Request, session: Session, token: str, content_type: str, body: bytes
) -> Response:
    # Commit (or roll back) here, in the worker thread, rather than when the request's session
    # closes: that is another hop through the event loop, and SQLite's one writer lock (and
    # PostgreSQL's row locks and pooled connection) would be held while it serves others.
    try:
        if content_type == JSON_TYPE:
            answered = _receive_json(session, token, body)
        else:
            reserve_for_writing(session)
            answered = _receive_form(request, session, token, body)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return answered


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"the answers are larger than {MAX_BODY_BYTES // 1024} KB")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_BODY_BYTES:
                raise BodyTooLarge(f"the answers are larger than {MAX_BODY_BYTES // 1024} KB")
    except ClientDisconnect:
        # The respondent's connection went before the answers arrived: nothing to store, and
        # nobody left to answer (the status is for the log).
        raise BadBody("the connection closed before the answers arrived") from None
    return bytes(body)


def _receive_json(session: Session, token: str, body: bytes) -> Response:
    try:
        document = parse_strict_json(body)
    except InvalidJson as error:
        raise BadBody(f"the body is not valid JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("answers"), dict):
        raise BadBody('send {"answers": {"question_code": value, ...}, "key": optional}')
    key = document.get("key")
    submitted = submit_whole_response(
        session,
        token=token,
        fields=json_answers_to_fields(document["answers"]),
        key=key if isinstance(key, str) else None,
        now=utc_now(),
    )
    return JSONResponse(
        {
            "response_id": submitted.response_id,
            "status": submitted.status,
            "stored": submitted.stored,
        },
        status_code=201 if submitted.stored else 200,
    )


def json_answers_to_fields(answers: Mapping[str, Any]) -> dict[str, list[str]]:
    """JSON answers in the form's field shape, so one checker serves both."""
    fields: dict[str, list[str]] = {}
    for code, value in answers.items():
        if isinstance(value, dict):  # a matrix (row -> value) or a Kano pair
            for part, part_value in value.items():
                fields[field_name(str(code), str(part))] = [_scalar(part_value)]
        elif isinstance(value, list):
            fields[field_name(str(code))] = [_scalar(item) for item in value]
        elif value is not None:
            fields[field_name(str(code))] = [_scalar(value)]
    return fields


def _scalar(value: Any) -> str:
    if isinstance(value, bool | dict | list):
        return json.dumps(value)  # refused by the checker with a clear message
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _receive_form(request: Request, session: Session, token: str, body: bytes) -> Response:
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=500)
    except (UnicodeDecodeError, ValueError) as error:
        raise BadBody(f"the form could not be read: {error}") from None
    now = utc_now()
    key = _first(fields, "key")
    try:
        respondent = respondent_for(session, token=token, key=key, now=now)
    except InvalidLink:
        return render_notice(request, "invalid", language="en", status_code=404)
    except LinkNotOpen as error:
        return render_notice(request, error.state, language="en")
    if respondent.state != "open":
        return render_notice(request, respondent.state, respondent=respondent)
    page = _clamp(respondent, _int(_first(fields, "page")) or 1)
    action = _first(fields, "action") or "next"
    questions = page_questions(respondent, page)
    known = {q.code for _p, q in respondent.definition.questions()}
    answers, empty, errors = parse_answers(questions, fields, known_codes=known)
    everything = {**saved_answers(session, respondent=respondent), **answers}
    for code in empty:
        everything.pop(code, None)
    # An answer to a question its condition now hides (the respondent changed an earlier
    # answer) is not kept: the stored response matches what display logic asks.
    hidden = {q.code for q in questions if not is_visible(q, everything)}
    answers = {code: value for code, value in answers.items() if code not in hidden}
    empty |= hidden
    for code in hidden:
        everything.pop(code, None)
    if action in ("next", "submit") and not errors:
        visible = [q for q in questions if is_visible(q, everything)]
        errors = missing_required(visible, everything)
    if errors:
        return render_page(
            request,
            respondent,
            page=page,
            answers=everything,
            errors=errors,
            submitted=fields,
            status_code=422,
        )
    save_answers(
        session,
        respondent=respondent,
        answers=answers,
        cleared=empty,
        now=now,
        resume_token=key if key and TOKEN_PATTERN.match(key) else None,
    )
    address = resume_address(respondent)
    if action == "back":
        return _see_other(f"{address}?page={_step(respondent, page, -1, everything)}")
    if action == "save":
        return _see_other(f"{address}?page={page}&saved=1")
    following = _step(respondent, page, +1, everything)
    if following != page and action != "submit":
        return _see_other(f"{address}?page={following}")
    all_questions = [q for _p, q in respondent.definition.questions()]
    missing = missing_required(all_questions, everything)
    if missing:
        first = first_unfinished_page(respondent, everything)
        return _see_other(f"{address}?page={first}")
    complete_response(session, respondent=respondent, now=now)
    return _see_other(f"{address}/thanks")


@router.get("/s/{token}/thanks", response_class=HTMLResponse)
def show_thanks(request: Request, session: DbSession, token: str) -> Response:
    """The thank-you page after a finished response."""
    try:
        respondent = open_respondent(session, token=token, now=utc_now())
    except InvalidLink:
        return render_notice(request, "invalid", language="en", status_code=404)
    if respondent.state != "completed":
        return _see_other(f"/s/{token}")
    extras: dict[str, Any] = {}
    for extra in THANK_YOU_EXTRAS:
        extras.update(extra(session, respondent) or {})
    return render_thank_you(request, respondent, extras)


def render_thank_you(
    request: Request, respondent: Respondent, extras: Mapping[str, Any] | None = None
) -> Response:
    """The one place the thank-you page is rendered (``respondent/thank_you.html``)."""
    words = ui_text(respondent.language)
    message = respondent.text(respondent.definition.thank_you) or words["thank_you"]
    return templates.TemplateResponse(
        request,
        "respondent/thank_you.html",
        {
            "respondent": respondent,
            "words": words,
            "language": respondent.language,
            "title": words["thank_you_title"],
            "message": pipe_names(message, respondent.names),
            "response": respondent.response,
            **(extras or {}),
        },
    )


def render_notice(
    request: Request,
    state: str,
    *,
    respondent: Respondent | None = None,
    language: str | None = None,
    status_code: int | None = None,
) -> Response:
    """A friendly page for a link that cannot take answers, with the right status code."""
    language = respondent.language if respondent else (language or "en")
    words = ui_text(language if language in ("en", "de", "fr", "es", "ja") else "en")
    codes = {"invalid": 404, "expired": 410, "closed": 410, "completed": 409}
    return templates.TemplateResponse(
        request,
        "respondent/notice.html",
        {
            "language": language,
            "words": words,
            "title": words[f"{state}_title"],
            "message": words.get(state, words["invalid"]),
            "survey_name": respondent.names.get("survey_name") if respondent else None,
        },
        status_code=status_code or codes.get(state, 400),
    )


def render_page(
    request: Request,
    respondent: Respondent,
    *,
    page: int,
    answers: Mapping[str, AnswerValue],
    errors: Mapping[str, str] | None = None,
    submitted: Mapping[str, list[str]] | None = None,
    saved: bool = False,
    status_code: int = 200,
    action: str | None = None,
    preview: Mapping[str, Any] | None = None,
) -> Response:
    """A page of the survey for ``respondent``; ``action`` and ``preview`` serve the survey
    page's preview (``cpxm.surveys.send_pages``): its own form target, a banner, no storing."""
    words = ui_text(respondent.language)
    definition = respondent.definition
    shown = [
        _question_view(respondent, question, answers, submitted)
        for question in page_questions(respondent, page)
        if is_visible(question, answers)
        or (question.show_if is not None and _condition_on_page(respondent, question, page))
    ]
    for view in shown:
        view["show_if"] = _same_page_condition(respondent, view["code"], page)
    scripted = any(view["show_if"] for view in shown)
    title = definition.pages[page - 1].title
    rendered = templates.TemplateResponse(
        request,
        "respondent/page.html",
        {
            "language": respondent.language,
            "languages": definition.all_languages(),
            "words": words,
            "survey_name": respondent.names["survey_name"],
            "introduction": pipe_names(respondent.text(definition.introduction), respondent.names)
            if page == 1
            else "",
            "confidentiality": _confidentiality(respondent, words),
            "notices": [notice for hook in START_NOTICES if (notice := hook(respondent))]
            if page == 1
            else [],
            "page_title": respondent.text(title) if title else "",
            "page": page,
            "pages": len(definition.pages),
            "is_last": _step(respondent, page, +1, answers) == page,
            "questions": shown,
            # The one message every respondent meets is in their language; checks on values
            # (scales, lengths) stay in English for now.
            "errors": {
                code: words["needs_answer"] if message == NEEDS_ANSWER else message
                for code, message in (errors or {}).items()
            },
            "action": action or f"/s/{respondent.token}",
            "preview": preview,
            "key": _open_link_key(respondent),
            "saved": saved,
            "resume_address": resume_address(respondent) if respondent.response else None,
            "display_logic": Markup(DISPLAY_LOGIC) if scripted else None,  # noqa: S704
        },
        status_code=status_code,
    )
    if scripted:
        rendered.headers["content-security-policy"] = DISPLAY_LOGIC_CSP
    return rendered


def _confidentiality(respondent: Respondent, words: Mapping[str, str]) -> str | None:
    """A confidential survey's promise, on every page: who sees what (cpxm.access.confidential)."""
    if not respondent.survey.confidential:
        return None
    session = object_session(respondent.survey)
    minimum = min_cell_size(session) if session is not None else DEFAULT_MIN_CELL_SIZE
    return words["confidential"].format(minimum=minimum)


def _same_page_condition(respondent: Respondent, code: str, page: int) -> str | None:
    """The condition of question ``code`` as JSON for the page's script, when it names a
    question on the same page (conditions on earlier pages are settled by the server)."""
    questions = {q.code: q for q in page_questions(respondent, page)}
    condition = questions[code].show_if
    if condition is None or condition.question not in questions:
        return None
    return json.dumps(
        {
            "question": condition.question,
            "type": questions[condition.question].type,
            "equals": condition.equals,
            "in": condition.any_of,
            "min": condition.min,
            "max": condition.max,
        }
    )


def _question_view(
    respondent: Respondent,
    question: QuestionDefinition,
    answers: Mapping[str, AnswerValue],
    submitted: Mapping[str, list[str]] | None,
) -> dict[str, Any]:
    """What the template needs for one question, with the respondent's current answer."""
    names = respondent.names
    answer = answers.get(question.code)
    low, high = scale_of(question)
    view: dict[str, Any] = {
        "code": question.code,
        "type": question.type,
        "name": field_name(question.code),
        "prompt": pipe_names(respondent.text(question.prompt), names),
        "help": pipe_names(respondent.text(question.help), names),
        "required": question.required,
        "scale": list(range(low, high + 1)),
        "min_label": respondent.text(question.min_label),
        "max_label": respondent.text(question.max_label),
        "choices": [(c.value, respondent.text(c.label)) for c in question.choices or []],
        "rows": [
            (field_name(question.code, r.value), respondent.text(r.label))
            for r in question.rows or []
        ],
        "max_length": question.max_length,
        "functional": respondent.text(question.functional),
        "dysfunctional": respondent.text(question.dysfunctional),
        "kano_answers": kano_labels(respondent.language),
        "selected": _selected(question, answer, submitted),
    }
    if question.type in ("nps", "csat", "ces"):
        # Every standard scale says what its ends mean, in the respondent's language.
        words = ui_text(respondent.language)
        view["min_label"] = view["min_label"] or words[f"{question.type}_low"]
        view["max_label"] = view["max_label"] or words[f"{question.type}_high"]
    return view


def _selected(
    question: QuestionDefinition,
    answer: AnswerValue | None,
    submitted: Mapping[str, list[str]] | None,
) -> dict[str, Any]:
    """Field name -> the value(s) to show as chosen: what was just sent, else what is saved."""
    if submitted is not None:
        prefix = field_name(question.code)
        return {
            name: values if question.type == "multiple_choice" else values[0]
            for name, values in submitted.items()
            if name == prefix or name.startswith(prefix + "__")
        }
    if answer is None:
        return {}
    name = field_name(question.code)
    if answer.number is not None:
        return {name: f"{answer.number:g}"}
    if question.type == "matrix" and answer.choices:
        return {
            field_name(question.code, row): value
            for row, value in (item.split(":", 1) for item in answer.choices)
        }
    if question.type == "kano" and answer.choices:
        return {
            field_name(question.code, "functional"): answer.choices[0],
            field_name(question.code, "dysfunctional"): answer.choices[1],
        }
    if answer.choices is not None:
        return {name: answer.choices}
    return {name: answer.text or ""}


def _condition_on_page(respondent: Respondent, question: QuestionDefinition, page: int) -> bool:
    # Without JavaScript a condition on the same page cannot be re-evaluated as the respondent
    # answers, so such a question is shown and only required once its condition holds.
    assert question.show_if is not None
    codes = {q.code for q in page_questions(respondent, page)}
    return question.show_if.question in codes


def page_questions(respondent: Respondent, page: int) -> list[QuestionDefinition]:
    return list(respondent.definition.pages[page - 1].questions)


def first_unfinished_page(respondent: Respondent, answers: Mapping[str, AnswerValue]) -> int:
    """Where a returning respondent resumes: the first page with a visible unanswered question."""
    for number, page in enumerate(respondent.definition.pages, start=1):
        for question in page.questions:
            unanswered = question.code not in answers and is_visible(question, answers)
            untouched = not any(q.code in answers for q in page.questions)
            if unanswered and (question.required or untouched):
                return number
    return len(respondent.definition.pages)


def _step(
    respondent: Respondent, page: int, direction: int, answers: Mapping[str, AnswerValue]
) -> int:
    """The next (or previous) page that shows at least one question; ``page`` if none."""
    candidate = page + direction
    while 1 <= candidate <= len(respondent.definition.pages):
        if any(
            is_visible(q, answers) or _condition_on_page(respondent, q, candidate)
            for q in page_questions(respondent, candidate)
        ):
            return candidate
        candidate += direction
    return page


def step_page(
    respondent: Respondent, page: int, direction: int, answers: Mapping[str, AnswerValue]
) -> int:
    """The next (+1) or previous (-1) page with a question to show; ``page`` if none."""
    return _step(respondent, page, direction, answers)


def _clamp(respondent: Respondent, page: int) -> int:
    return min(max(page, 1), len(respondent.definition.pages))


def resume_address(respondent: Respondent) -> str:
    """The address that resumes this respondent's response (an open link's own resume token)."""
    response = respondent.response
    if response is not None and response.resume_token:
        return f"/s/{response.resume_token}"
    return f"/s/{respondent.token}"


def _open_link_key(respondent: Respondent) -> str | None:
    # A fresh key per page view of an open link: the first save becomes the resume token, and
    # the same form sent twice finds the response it started instead of starting another.
    if respondent.link is not None and respondent.response is None:
        return new_token()
    return None


def _see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def _first(fields: Mapping[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 4 else None


__all__ = ["AnswerErrors", "render_thank_you", "router"]
