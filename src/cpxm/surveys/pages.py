"""Survey pages: the list with response rates, the definition editor, and each survey's monitor.

Reading a survey's figures is record-level commercial data (``COMMERCIAL_DATA``); creating,
editing, opening and closing surveys is running the programme (``CX_MANAGEMENT``). The pages
call the same services as ``cpxm survey ...`` and ``/api/v1/surveys``; sending, reminders,
open links and the preview are in ``cpxm.surveys.send_pages``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from cpxm.access import CommercialReader, CxManager, Principal
from cpxm.csvout import csv_response
from cpxm.deps import DbSession
from cpxm.errors import DomainError
from cpxm.surveys import charts, editor, monitor, service
from cpxm.surveys.models import Survey
from cpxm.web.templating import templates

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
STATUSES = ("draft", "active", "closed")


@dataclass(frozen=True)
class SurveyRow:
    survey: Survey
    figures: monitor.SurveyFigures


SurveySort = Literal["newest", "oldest", "name"]


def _query_string(**pairs: Any) -> str:
    return urlencode({key: value for key, value in pairs.items() if value not in (None, "")})


def _rows(session: DbSession, surveys: list[Survey]) -> list[SurveyRow]:
    figures = monitor.figures_by_survey(session, [s.id for s in surveys])
    return [SurveyRow(survey, figures[survey.id]) for survey in surveys]


@router.get("/surveys", response_class=HTMLResponse)
def survey_list(
    request: Request,
    session: DbSession,
    principal: CommercialReader,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[Literal["", "draft", "active", "closed"], Query()] = "",
    kind: Annotated[str | None, Query(max_length=40)] = None,
    sort: Annotated[SurveySort, Query()] = "newest",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Every survey, newest first, with its invitations, responses and response rate."""
    q = (q or "").strip() or None
    surveys, total = service.list_surveys(
        session,
        q=q,
        status=status or None,
        kind=kind or None,
        sort=sort,
        limit=PAGE_SIZE,
        offset=offset,
    )
    kinds = sorted(set(session.scalars(Survey.__table__.select().with_only_columns(Survey.kind))))
    return templates.TemplateResponse(
        request,
        "surveys/list.html",
        {
            "rows": _rows(session, surveys),
            "total": total,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "query": _query_string(q=q, status=status, kind=kind, sort=sort),
            "filters": {"q": q or "", "status": status, "kind": kind or ""},
            "q": q or "",
            "sort": sort,
            "sorts": service.SURVEY_SORTS,
            "statuses": STATUSES,
            "kinds": kinds,
            "may_manage": _may_manage(principal),
            "principal": principal,
            "active_nav": "surveys",
        },
    )


@router.get("/surveys/export.csv")
def survey_list_csv(
    session: DbSession,
    principal: CommercialReader,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[Literal["", "draft", "active", "closed"], Query()] = "",
    kind: Annotated[str | None, Query(max_length=40)] = None,
    sort: Annotated[SurveySort, Query()] = "newest",
) -> Response:
    """The surveys the list shows with these filters (every page), as CSV."""
    surveys, _total = service.list_surveys(
        session,
        q=(q or "").strip() or None,
        status=status or None,
        kind=kind or None,
        sort=sort,
        limit=10_000,
        offset=0,
    )
    return csv_response(
        "surveys.csv",
        (
            "survey_id",
            "code",
            "name",
            "kind",
            "status",
            "version",
            "invitations",
            "emails_waiting",
            "opened",
            "partial",
            "complete",
            "open_link_responses",
            "response_rate_percent",
        ),
        (
            (
                row.survey.id,
                row.survey.code,
                row.survey.name,
                row.survey.kind,
                row.survey.status,
                row.survey.version,
                row.figures.invitations,
                row.figures.waiting,
                row.figures.opened,
                row.figures.partial,
                row.figures.complete,
                row.figures.open_link_responses,
                None if row.figures.response_rate is None else round(row.figures.response_rate, 1),
            )
            for row in _rows(session, surveys)
        ),
    )


def _may_manage(principal: Principal) -> bool:
    from cpxm.access import CX_MANAGEMENT

    return CX_MANAGEMENT.allows(principal.role)


# -- the definition editor ------------------------------------------------------------------


def _editor(
    request: Request,
    principal: Principal,
    *,
    text: str,
    survey: Survey | None,
    checked: editor.Checked | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "surveys/editor.html",
        {
            "text": text,
            "survey": survey,
            "checked": checked,
            "csrf_token": principal.csrf_token or "",
            "principal": principal,
            "active_nav": "surveys",
        },
        status_code=status_code,
    )


@router.get("/surveys/new", response_class=HTMLResponse)
def new_survey(
    request: Request,
    session: DbSession,
    principal: CxManager,
    copy_of: Annotated[int | None, Query(alias="from", ge=1)] = None,
) -> Response:
    """The editor with a starter definition showing every question type, or a copy of a
    survey (``?from=ID``) under a new code, in draft: last year's survey, changed."""
    if copy_of is None:
        return _editor(request, principal, text=editor.STARTER, survey=None)
    document = service.export_definition(session, survey_id=copy_of)
    document["code"] = f"{document['code']}_copy"[:80]
    document["status"] = "draft"
    document.pop("schedule", None)  # a copy sends nothing by itself until it is given one
    return _editor(request, principal, text=editor.as_text(document), survey=None)


@router.get("/surveys/{survey_id}/edit", response_class=HTMLResponse)
def edit_survey(
    request: Request, session: DbSession, principal: CxManager, survey_id: int
) -> Response:
    survey = service.get_survey(session, survey_id=survey_id).survey
    text = editor.as_text(service.export_definition(session, survey_id=survey_id))
    return _editor(request, principal, text=text, survey=survey)


@router.post("/surveys/check")
def check_definition(
    principal: CxManager,
    definition: Annotated[str, Form(max_length=editor.MAX_DEFINITION_CHARACTERS + 1)],
) -> JSONResponse:
    """The editor's live check as the definition is typed: faults with where they are."""
    checked = editor.check_text(definition)
    return JSONResponse(
        {
            "valid": checked.definition is not None,
            "summary": checked.summary,
            "faults": [{"where": f.where, "message": f.message} for f in checked.faults],
        }
    )


@router.post("/surveys/save", response_class=HTMLResponse)
def save_survey(
    request: Request,
    session: DbSession,
    principal: CxManager,
    definition: Annotated[str, Form(max_length=editor.MAX_DEFINITION_CHARACTERS + 1)],
    survey_id: Annotated[str, Form(max_length=12, pattern=r"^\d*$")] = "",
    action: Annotated[Literal["check", "save"], Form()] = "save",
) -> Response:
    """Check the definition, and save it (a new survey, or the survey's next version)."""
    survey = service.get_survey(session, survey_id=int(survey_id)).survey if survey_id else None
    checked = editor.check_text(definition)
    if (
        survey is not None
        and checked.definition is not None
        and checked.definition.code != survey.code
    ):
        checked.faults.append(
            editor.Fault(
                "code",
                f"is the survey's key and stays '{survey.code}'; to start a copy under a "
                "new code, use New survey",
            )
        )
        checked.definition = None
    if checked.definition is None or action == "check":
        return _editor(
            request,
            principal,
            text=definition,
            survey=survey,
            checked=checked,
            status_code=422 if checked.faults else 200,
        )
    assert checked.document is not None
    if survey is None:
        taken = session.scalar(
            Survey.__table__.select()
            .with_only_columns(Survey.id)
            .where(Survey.code == checked.definition.code)
        )
        if taken is not None:
            checked.faults.append(
                editor.Fault(
                    "code",
                    f"'{checked.definition.code}' is taken by survey {taken}; choose another "
                    "code, or edit that survey",
                )
            )
            return _editor(
                request, principal, text=definition, survey=None, checked=checked, status_code=422
            )
    try:
        saved = service.save_definition(session, document=checked.document)
    except DomainError as error:
        session.rollback()
        faults = editor.faults_of(error, checked.document)  # type: ignore[arg-type]
        return _editor(
            request,
            principal,
            text=definition,
            survey=survey,
            checked=editor.Checked(faults=faults),
            status_code=422,
        )
    if saved.created:
        note = "created at version 1"
    elif saved.changed:
        note = f"saved as version {saved.survey.version}"
    else:
        note = "unchanged: the definition is the same as the current version"
    return RedirectResponse(f"/surveys/{saved.survey.id}?note={quote(note)}", status_code=303)


@router.post("/surveys/{survey_id}/status")
def change_status(
    session: DbSession,
    principal: CxManager,
    survey_id: int,
    status: Annotated[Literal["draft", "active", "closed"], Form()],
) -> Response:
    """Open a survey for answers and sending, close it, or return it to draft."""
    survey = service.get_survey(session, survey_id=survey_id).survey
    try:
        service.change_status(session, survey=survey, status=status)
    except DomainError as error:
        session.rollback()
        return RedirectResponse(
            f"/surveys/{survey_id}?error={quote(str(error.detail))}", status_code=303
        )
    words = {"active": "open for answers", "closed": "closed", "draft": "back in draft"}
    return RedirectResponse(
        f"/surveys/{survey_id}?note={quote('The survey is ' + words[status])}", status_code=303
    )


# -- the monitor ------------------------------------------------------------------------------


@router.get("/surveys/{survey_id}", response_class=HTMLResponse)
def survey_page(
    request: Request, session: DbSession, principal: CommercialReader, survey_id: int
) -> Response:
    """A survey's monitor: figures, activity day by day, waves, open links, and its actions."""
    found = service.get_survey(session, survey_id=survey_id)
    survey = found.survey
    watched = monitor.survey_monitor(session, survey_id=survey_id)
    if survey.confidential:
        watched.days = []  # see the template: totals only, never a few answers by day
    definition = service.current_definition(session, survey=survey)
    return templates.TemplateResponse(
        request,
        "surveys/survey.html",
        {
            "survey": survey,
            "definition": definition,
            "questions": [q for q in found.questions if q.removed_in_version is None],
            "versions": service.list_versions(session, survey_id=survey_id),
            "watched": watched,
            "figures": watched.figures,
            "activity_spec": charts.activity_spec(watched.days),
            "rate_spec": charts.response_rate_spec(watched.days),
            "links": monitor.open_links(session, survey_id=survey_id),
            "may_manage": _may_manage(principal),
            "csrf_token": principal.csrf_token or "",
            "note": request.query_params.get("note"),
            "error": request.query_params.get("error"),
            "principal": principal,
            "active_nav": "surveys",
        },
    )


@router.get("/surveys/{survey_id}/activity.csv")
def survey_activity_csv(
    session: DbSession, principal: CommercialReader, survey_id: int
) -> Response:
    """The monitor's day-by-day table as CSV."""
    survey = service.get_survey(session, survey_id=survey_id).survey
    watched = monitor.survey_monitor(session, survey_id=survey_id, days=100_000)
    if survey.confidential:
        watched.days = []  # totals only for a confidential survey, as on its page
    return csv_response(
        f"{survey.code}-activity.csv",
        ("day", "emailed", "opened", "started", "completed", "response_rate_percent"),
        (
            (
                row.day.isoformat(),
                row.emailed,
                row.opened,
                row.started,
                row.completed,
                None if row.response_rate is None else round(row.response_rate, 1),
            )
            for row in watched.days
        ),
    )
