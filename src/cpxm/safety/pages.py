"""The PV officer's pages: the queue, one case with its decisions, and reconciliation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from cpxm.access import SafetyReader
from cpxm.deps import DbSession
from cpxm.errors import DomainError
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.safety import service
from cpxm.safety.reconciliation import reconcile, reconciliation_csv, reconciliation_pdf
from cpxm.timeutil import utc_now
from cpxm.web.templating import templates

router = APIRouter(prefix="/safety", include_in_schema=False)
SCREENED_OUT_SHOWN = 30


@router.get("", response_class=HTMLResponse)
def queue_page(
    request: Request,
    session: DbSession,
    principal: SafetyReader,
    status: str = "open",
    kind: str | None = None,
) -> Response:
    now = utc_now()
    case_filter = service.CaseFilter(status=None if status == "all" else status, kind=kind or None)
    cases, total = service.list_cases(session, case_filter=case_filter, limit=200, now=now)
    overdue = service.list_cases(
        session, case_filter=service.CaseFilter(overdue=True), limit=1, now=now
    )[1]
    return templates.TemplateResponse(
        request,
        "safety/queue.html",
        {
            "cases": cases,
            "total": total,
            "overdue": overdue,
            "status": status,
            "kind": kind or "",
            "now": now,
            "screened_out": _screened_out(session),
            "principal": principal,
            "active_nav": "safety",
        },
    )


def _screened_out(session: DbSession) -> list[tuple[int, str, list[str]]]:
    """Recent items whose mentions were all negated or hypothetical: shown, never dropped."""
    rows = session.execute(
        select(FeedbackItem.id, FeedbackAnalysis.redacted_text, FeedbackAnalysis.safety_contexts)
        .join(FeedbackAnalysis, FeedbackAnalysis.feedback_item_id == FeedbackItem.id)
        .where(FeedbackAnalysis.safety_mentions.is_not(None))
        .order_by(FeedbackItem.received_at.desc())
        .limit(400)
    ).all()
    shown = []
    for item_id, text, contexts in rows:
        if contexts and not set(contexts) & {"affirmed", "other_person", "historical"}:
            shown.append((item_id, text or "", contexts))
        if len(shown) >= SCREENED_OUT_SHOWN:
            break
    return shown


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request, session: DbSession, principal: SafetyReader, case_id: int
) -> Response:
    case = service.get_case(session, case_id)
    return templates.TemplateResponse(
        request,
        "safety/case.html",
        {
            "case": case,
            "events": service.case_events(session, case_id),
            "now": utc_now(),
            "csrf_token": principal.csrf_token or "",
            "principal": principal,
            "active_nav": "safety",
            "error": request.query_params.get("error"),
        },
    )


@router.post("/cases/{case_id}/decision")
def decide_case(
    session: DbSession,
    principal: SafetyReader,
    case_id: int,
    action: Annotated[str, Form(pattern="^(acknowledge|confirm|reject)$")],
    note: Annotated[str, Form(max_length=5_000)] = "",
) -> Response:
    if action == "acknowledge":
        service.acknowledge(session, case_id=case_id, user_id=principal.user_id)
    elif action == "reject" and not note.strip():
        return RedirectResponse(
            f"/safety/cases/{case_id}?error=Say+why+the+case+is+rejected.", status_code=303
        )
    else:
        decision = "confirmed" if action == "confirm" else "rejected"
        service.decide(
            session, case_id=case_id, decision=decision, user_id=principal.user_id, note=note
        )
    return RedirectResponse(f"/safety/cases/{case_id}", status_code=303)


@router.get("/reconciliation", response_class=HTMLResponse)
def reconciliation_page(request: Request, principal: SafetyReader) -> Response:
    return templates.TemplateResponse(
        request,
        "safety/reconciliation.html",
        {"principal": principal, "active_nav": "safety"},
    )


@router.get("/reconciliation/report")
def reconciliation_report(
    session: DbSession,
    principal: SafetyReader,
    survey_id: str = "",
    study_code: str = "",
    received_from: str = "",
    received_to: str = "",
    report_format: Annotated[str, Query(alias="format", pattern="^(pdf|csv)$")] = "pdf",
) -> Response:
    """The form's target: empty fields mean "not this scope"."""
    try:
        report = reconcile(
            session,
            survey_id=int(survey_id) if survey_id.strip() else None,
            study_code=study_code.strip() or None,
            period_from=datetime.fromisoformat(received_from) if received_from else None,
            period_to=datetime.fromisoformat(received_to) if received_to else None,
        )
    except ValueError as error:
        raise DomainError(f"cannot read the form: {error}") from None
    if report_format == "csv":
        return Response(
            reconciliation_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="reconciliation.csv"'},
        )
    return Response(
        reconciliation_pdf(report),
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="reconciliation.pdf"'},
    )
