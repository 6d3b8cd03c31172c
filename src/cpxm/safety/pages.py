"""The PV officer's pages: the queue, one case with its decisions, and reconciliation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from cpxm.access import SafetyReader, shield_stakeholders
from cpxm.auth.pages import client_address
from cpxm.auth.signatures import SignatureIn, signer_or_refusal
from cpxm.cases.history import Names
from cpxm.deps import DbSession
from cpxm.errors import DomainError
from cpxm.feedback.models import FeedbackItem
from cpxm.safety import intake, service, triage
from cpxm.safety.api import case_signatures
from cpxm.safety.exports import cases_csv
from cpxm.safety.history import KIND_NAMES, safety_trail
from cpxm.safety.models import CASE_KINDS, TRIAGE_REASONS, SafetyTriageItem
from cpxm.safety.reconciliation import reconcile, reconciliation_csv, reconciliation_pdf
from cpxm.safety.seriousness import SERIOUSNESS_CRITERIA
from cpxm.stakeholders.models import Stakeholder
from cpxm.stakeholders.schemas import stakeholder_out
from cpxm.timeutil import utc_now
from cpxm.web.lists import (
    CSV_LIMIT,
    Column,
    ListParams,
    csv_of,
    list_params,
    minutes,
    page_context,
    query_string,
)
from cpxm.web.people import people_as_shown
from cpxm.web.templating import templates
from cpxm.workspace.models import Product, Team, User

router = APIRouter(prefix="/safety", include_in_schema=False)


@dataclass(frozen=True)
class QueueFilters:
    """The queue's query string, checked: the page and its CSV read the same one."""

    status: str
    kind: str | None
    serious: bool
    overdue: bool
    listing: ListParams

    def case_filter(self) -> service.CaseFilter:
        return service.CaseFilter(
            status=None if self.status == "all" else self.status,
            kind=self.kind,
            serious=self.serious,
            overdue=self.overdue,
            q=self.listing.q,
        )

    def query(self) -> str:
        return query_string(
            {
                "status": self.status,
                "kind": self.kind,
                "serious": self.serious,
                "overdue": self.overdue,
                "q": self.listing.q,
                "sort": self.listing.sort,
            }
        )


def queue_filters(
    listing: Annotated[ListParams, list_params(service.CASE_SORTS, default="priority")],
    status: Annotated[Literal["open", "acknowledged", "confirmed", "rejected", "all"], Query()] = (
        "open"
    ),
    kind: Annotated[Literal["", "ae", "pc", "srs"], Query()] = "",
    serious: bool = False,
    overdue: bool = False,
) -> QueueFilters:
    return QueueFilters(
        status=status, kind=kind or None, serious=serious, overdue=overdue, listing=listing
    )


Filters = Annotated[QueueFilters, Depends(queue_filters)]


@router.get("", response_class=HTMLResponse)
def queue_page(
    request: Request, session: DbSession, principal: SafetyReader, filters: Filters
) -> Response:
    now = utc_now()
    listing = filters.listing
    cases, total = service.list_cases(
        session,
        case_filter=filters.case_filter(),
        limit=listing.page_size,
        offset=listing.offset,
        now=now,
        sort=listing.sort,
    )
    overdue = service.list_cases(
        session, case_filter=service.CaseFilter(overdue=True), limit=1, now=now
    )[1]
    return templates.TemplateResponse(
        request,
        "safety/queue.html",
        {
            **page_context(listing, total=total, query=filters.query(), sorts=service.CASE_SORTS),
            "cases": cases,
            "filters": filters,
            "overdue": overdue,
            "now": now,
            "triage_pending": sum(triage.triage_counts(session).values()),
            "csrf_token": principal.csrf_token or "",
            "error": request.query_params.get("error"),
            "principal": principal,
            "active_nav": "safety",
        },
    )


@router.get("/export.csv")
def queue_csv(session: DbSession, principal: SafetyReader, filters: Filters) -> Response:
    """Exactly the cases the queue shows with these filters (every page), in the safety export's
    columns; a working list, so unlike the hand-off exports it marks no case exported."""
    cases, _total = service.list_cases(
        session,
        case_filter=filters.case_filter(),
        limit=CSV_LIMIT,
        offset=0,
        sort=filters.listing.sort,
    )
    return Response(
        cases_csv(cases),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="pv-queue.csv"'},
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request, session: DbSession, principal: SafetyReader, case_id: int
) -> Response:
    case = service.get_case(session, case_id)
    people = session.execute(select(User.id, User.email, User.display_name)).all()
    names = Names(
        users={user_id: name for user_id, _email, name in people},
        teams=dict(session.execute(select(Team.id, Team.name)).all()),
        emails={email.lower(): name for _user_id, email, name in people},
    )
    reporter = None
    if case.reporter_stakeholder_id is not None:
        found = session.get(Stakeholder, case.reporter_stakeholder_id)
        if found is not None:
            reporter = shield_stakeholders(
                session, principal, [stakeholder_out(found)], purpose="safety case page"
            )[0]
    product = session.get(Product, case.product_code) if case.product_code else None
    return templates.TemplateResponse(
        request,
        "safety/case.html",
        {
            "case": case,
            "trail": safety_trail(service.case_events(session, case_id), names),
            "reporter": reporter,
            "product": product,
            "kind_names": KIND_NAMES,
            "signatures": case_signatures(session, case),
            "criteria": SERIOUSNESS_CRITERIA,
            "follow_ups": intake.follow_ups(session, case_id),
            "now": utc_now(),
            "csrf_token": principal.csrf_token or "",
            "principal": principal,
            "active_nav": "safety",
            "error": request.query_params.get("error"),
        },
    )


@router.post("/cases/{case_id}/decision")
def decide_case(
    request: Request,
    session: DbSession,
    principal: SafetyReader,
    case_id: int,
    action: Annotated[str, Form(pattern="^(acknowledge|confirm|reject|reclassify)$")],
    password: Annotated[str, Form(max_length=1024)] = "",
    meaning: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=5_000)] = "",
    kind: Annotated[str, Form(pattern="^(|ae|pc|srs)$")] = "",
) -> Response:
    """Acknowledge, or decide under an electronic signature (password, meaning, reason)."""
    if action == "acknowledge":
        service.acknowledge(session, case_id=case_id, user_id=principal.user_id)
        return RedirectResponse(f"/safety/cases/{case_id}", status_code=303)
    try:
        signer = signer_or_refusal(
            session,
            user_id=principal.user_id,
            signature=SignatureIn.given(password=password, meaning=meaning, reason=reason),
            address=client_address(request),
        )
    except DomainError as refusal:
        return RedirectResponse(
            f"/safety/cases/{case_id}?{urlencode({'error': str(refusal.detail)})}",
            status_code=303,
        )
    if action == "reclassify":
        service.reclassify(session, case_id=case_id, kind=kind, signer=signer)
    else:
        decision = "confirmed" if action == "confirm" else "rejected"
        service.decide(session, case_id=case_id, decision=decision, signer=signer)
    return RedirectResponse(f"/safety/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/seriousness")
def set_seriousness(
    session: DbSession,
    principal: SafetyReader,
    case_id: int,
    criteria: Annotated[list[str] | None, Form()] = None,
    reason: Annotated[str, Form(max_length=5_000)] = "",
) -> Response:
    if not reason.strip():
        return RedirectResponse(
            f"/safety/cases/{case_id}?" + urlencode({"error": "Say why (reason)."}),
            status_code=303,
        )
    service.set_seriousness(
        session,
        case_id=case_id,
        criteria=criteria or [],
        user_id=principal.user_id,
        reason=reason,
    )
    return RedirectResponse(f"/safety/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/link")
def link_follow_up(
    session: DbSession,
    principal: SafetyReader,
    case_id: int,
    action: Annotated[str, Form(pattern="^(link|unlink)$")],
    master_case_id: Annotated[int | None, Form()] = None,
    reason: Annotated[str, Form(max_length=5_000)] = "",
) -> Response:
    if not reason.strip() or (action == "link" and master_case_id is None):
        message = "Say why (reason)" + (
            " and which case this follows up." if action == "link" else "."
        )
        return RedirectResponse(
            f"/safety/cases/{case_id}?" + urlencode({"error": message}), status_code=303
        )
    if action == "link":
        assert master_case_id is not None
        intake.link_follow_up(
            session,
            case_id=case_id,
            master_case_id=master_case_id,
            user_id=principal.user_id,
            reason=reason,
        )
    else:
        intake.unlink_follow_up(session, case_id=case_id, user_id=principal.user_id, reason=reason)
    return RedirectResponse(f"/safety/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/handoff")
def record_handoff(
    session: DbSession,
    principal: SafetyReader,
    case_id: int,
    reference: Annotated[str, Form(min_length=1, max_length=100)],
) -> Response:
    service.record_handoff(session, case_id=case_id, reference=reference, user_id=principal.user_id)
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


def _date_or_none(text: str, field: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise DomainError(f"{field} is '{text}', expected a date like 2026-01-31") from None


@dataclass(frozen=True)
class TriageFilters:
    """The triage list's query string, checked: the page and its CSV read the same one."""

    status: str
    reason: str
    kind: str
    product_code: str
    source_kind: str
    received_from: str
    received_to: str
    listing: ListParams

    def triage_filter(self) -> triage.TriageFilter:
        return triage.TriageFilter(
            status=None if self.status == "all" else self.status,
            reason=self.reason or None,
            kind=self.kind or None,
            product_code=self.product_code.strip() or None,
            source_kind=self.source_kind or None,
            received_from=_date_or_none(self.received_from, "received from"),
            received_to=_date_or_none(self.received_to, "received to"),
            q=self.listing.q,
        )

    def query(self) -> str:
        return query_string(
            {
                "status": self.status,
                "reason": self.reason,
                "kind": self.kind,
                "product_code": self.product_code,
                "source_kind": self.source_kind,
                "received_from": self.received_from,
                "received_to": self.received_to,
                "q": self.listing.q,
                "sort": self.listing.sort,
            }
        )


def triage_filters(
    listing: Annotated[ListParams, list_params(triage.TRIAGE_SORTS, default="newest")],
    status: Annotated[Literal["pending", "dismissed", "case_opened", "all"], Query()] = "pending",
    reason: Annotated[str, Query(max_length=40)] = "",
    kind: Annotated[Literal["", "ae", "pc", "srs"], Query()] = "",
    product_code: Annotated[str, Query(max_length=60)] = "",
    source_kind: Annotated[str, Query(max_length=40)] = "",
    received_from: Annotated[str, Query(max_length=40)] = "",
    received_to: Annotated[str, Query(max_length=40)] = "",
) -> TriageFilters:
    return TriageFilters(
        status=status,
        reason=reason,
        kind=kind,
        product_code=product_code,
        source_kind=source_kind,
        received_from=received_from,
        received_to=received_to,
        listing=listing,
    )


TriageQuery = Annotated[TriageFilters, Depends(triage_filters)]


@router.get("/triage", response_class=HTMLResponse)
def triage_page(
    request: Request, session: DbSession, principal: SafetyReader, filters: TriageQuery
) -> Response:
    """Mentions that opened no case: the sentence, the reason, and PV's two actions."""
    listing = filters.listing
    entries, total = triage.list_triage(
        session,
        triage_filter=filters.triage_filter(),
        limit=listing.page_size,
        offset=listing.offset,
        sort=listing.sort,
    )
    return templates.TemplateResponse(
        request,
        "safety/triage.html",
        {
            **page_context(listing, total=total, query=filters.query(), sorts=triage.TRIAGE_SORTS),
            "entries": entries,
            "writers": _writers(session, principal, [e.feedback_item_id for e in entries]),
            "filters": filters,
            "reasons": TRIAGE_REASONS,
            "kinds": CASE_KINDS,
            "products": dict(
                session.execute(select(Product.code, Product.name).order_by(Product.name)).all()
            ),
            "counts": triage.triage_counts(session),
            "csrf_token": principal.csrf_token or "",
            "principal": principal,
            "active_nav": "safety",
            "error": request.query_params.get("error"),
            "done": request.query_params.get("done"),
        },
    )


@router.get("/triage/export.csv")
def triage_csv(session: DbSession, principal: SafetyReader, filters: TriageQuery) -> Response:
    """Exactly the entries the triage list shows with these filters (every page), in its
    order, with who wrote each as the role may see them."""
    entries, _total = triage.list_triage(
        session,
        triage_filter=filters.triage_filter(),
        limit=CSV_LIMIT,
        offset=0,
        sort=filters.listing.sort,
    )
    writers = _writers(session, principal, [e.feedback_item_id for e in entries])

    def writer(entry: SafetyTriageItem) -> object:
        shown = writers.get(entry.feedback_item_id)
        return shown.display_name if shown is not None else None

    columns: list[Column[SafetyTriageItem]] = [
        Column("entry_id", lambda e: e.id),
        Column("feedback_id", lambda e: e.feedback_item_id),
        Column("received_at", lambda e: minutes(e.received_at)),
        Column("from", writer),
        Column("from_id", lambda e: getattr(writers.get(e.feedback_item_id), "id", None)),
        Column("source_kind", lambda e: e.source_kind),
        Column("kind", lambda e: e.kind),
        Column("product_code", lambda e: e.product_code),
        Column("product_written", lambda e: e.product_written),
        Column("reasons", lambda e: "; ".join(e.reasons or [])),
        Column("sentence", lambda e: e.sentence),
        Column("words", lambda e: e.term),
        Column("status", lambda e: e.status),
        Column("resolved_at", lambda e: minutes(e.resolved_at)),
        Column("resolution_note", lambda e: e.resolution_note),
        Column("case_id", lambda e: e.case_id),
    ]
    return csv_of("pv-triage.csv", columns, entries)


def _writers(
    session: DbSession, principal: SafetyReader, feedback_ids: list[int]
) -> dict[int, Any]:
    """Who wrote each feedback item, as the role may see them (a name linked to the profile,
    or a pseudonym), by feedback item id."""
    pairs = session.execute(
        select(FeedbackItem.id, FeedbackItem.stakeholder_id).where(
            FeedbackItem.id.in_(feedback_ids), FeedbackItem.stakeholder_id.is_not(None)
        )
    ).all()
    people = people_as_shown(
        session, principal, (sid for _fid, sid in pairs), purpose="PV triage list"
    )
    return {fid: people[sid] for fid, sid in pairs if sid in people}


@router.post("/triage/{triage_id}/decision")
def triage_decision(
    session: DbSession,
    principal: SafetyReader,
    triage_id: int,
    action: Annotated[str, Form(pattern="^(open_case|dismiss)$")],
    reason: Annotated[str, Form(max_length=5_000)] = "",
    back: Annotated[str, Form(max_length=2_000)] = "",
) -> Response:
    # Back to the same filtered page; only a query string is accepted, never another address.
    target = "/safety/triage" + ("?" + back.lstrip("?") if back.startswith("?") else "")
    joiner = "&" if "?" in target else "?"
    if not reason.strip():
        message = urlencode({"error": f"Entry {triage_id}: say why (reason)."})
        return RedirectResponse(f"{target}{joiner}{message}", status_code=303)
    if action == "dismiss":
        triage.dismiss(session, triage_id=triage_id, user_id=principal.user_id, reason=reason)
        done = f"Entry {triage_id} dismissed."
    else:
        case = intake.open_case_from_triage(
            session, triage_id=triage_id, user_id=principal.user_id, reason=reason
        )
        done = f"Case {case.id} opened from entry {triage_id}."
    return RedirectResponse(f"{target}{joiner}{urlencode({'done': done})}", status_code=303)


@router.post("/feedback/case")
def open_case_by_hand(
    session: DbSession,
    principal: SafetyReader,
    feedback_item_id: Annotated[int, Form(ge=1)],
    kind: Annotated[str, Form(pattern="^(ae|pc|srs)$")],
    reason: Annotated[str, Form(max_length=5_000)] = "",
) -> Response:
    """The queue page's "open a case by hand" form, for any feedback item."""
    if not reason.strip():
        return RedirectResponse(
            "/safety?" + urlencode({"error": "Say why you open the case (reason)."}),
            status_code=303,
        )
    case = intake.open_case_by_hand(
        session,
        feedback_item_id=feedback_item_id,
        kind=kind,
        user_id=principal.user_id,
        reason=reason,
    )
    return RedirectResponse(f"/safety/cases/{case.id}", status_code=303)
