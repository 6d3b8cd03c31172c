"""JSON routes for the PV queue: cases, decisions, exports and reconciliation (PV only)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from cpxm.access import SAFETY_DATA, SafetyReader, requires
from cpxm.auth import signatures
from cpxm.auth.pages import client_address
from cpxm.auth.signatures import SignatureIn, SignatureOut, signer_or_refusal
from cpxm.deps import DbSession
from cpxm.pagination import Page, Pagination
from cpxm.safety import intake, service, triage
from cpxm.safety.exports import cases_csv, cases_e2b, export_filter, quality_csv
from cpxm.safety.models import TRIAGE_REASONS, SafetyCase, SafetyCaseEvent, SafetyTriageItem
from cpxm.safety.reconciliation import reconcile, reconciliation_csv, reconciliation_pdf
from cpxm.timeutil import UtcDateTime

router = APIRouter(prefix="/safety", tags=["safety"], dependencies=[requires(SAFETY_DATA)])


class SafetyCaseOut(BaseModel):
    id: int
    feedback_item_id: int
    kind: str
    subtypes: list[str]
    status: str
    verbatim: str
    product_code: str | None
    product_written: str | None
    event_terms: list[str]
    context: str
    has_patient: bool
    has_reporter: bool
    has_product: bool
    has_event: bool
    reporter_stakeholder_id: int | None
    source_kind: str
    survey_id: int | None
    study_code: str | None
    country_code: str | None
    aware_at: UtcDateTime
    due_at: UtcDateTime
    created_at: UtcDateTime
    acknowledged_at: UtcDateTime | None
    decided_at: UtcDateTime | None
    decision_note: str | None
    escalation_level: int
    exported_at: UtcDateTime | None
    contact_permission: bool | None
    origin: str
    seriousness: list[str]
    seriousness_level: int
    seriousness_by: str
    handoff_due_at: UtcDateTime | None
    handed_off_at: UtcDateTime | None
    safety_db_reference: str | None
    follow_up_of: int | None
    version: int
    lot_number: str | None
    mentions: list[dict[str, Any]]

    @classmethod
    def of(cls, case: SafetyCase) -> SafetyCaseOut:
        return cls.model_validate(case, from_attributes=True)


class CaseEventOut(BaseModel):
    occurred_at: UtcDateTime
    event_type: str
    actor_user_id: int | None
    details: dict[str, Any] | None

    @classmethod
    def of(cls, event: SafetyCaseEvent) -> CaseEventOut:
        return cls.model_validate(event, from_attributes=True)


class SafetyCaseDetailOut(SafetyCaseOut):
    events: list[CaseEventOut]
    follow_up_ids: list[int] = Field(description="This case's follow-ups, by version.")
    signatures: list[SignatureOut]


class DecisionIn(SignatureIn):
    """A PV decision is electronically signed: password, meaning and reason (the note)."""


class ReclassifyIn(SignatureIn):
    kind: str = Field(pattern="^(ae|pc|srs)$", description="What the case really is.")


class TriageItemOut(BaseModel):
    id: int
    feedback_item_id: int
    kind: str
    reason: str
    reasons: list[str]
    sentence: str
    term: str
    product_code: str | None
    product_written: str | None
    source_kind: str
    received_at: UtcDateTime
    status: str
    resolved_at: UtcDateTime | None
    resolved_by: int | None
    resolution_note: str | None
    case_id: int | None
    mentions: list[dict[str, Any]]

    @classmethod
    def of(cls, entry: SafetyTriageItem) -> TriageItemOut:
        return cls.model_validate(entry, from_attributes=True)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=5_000, description="Why, for the audit trail.")


class SeriousnessIn(ReasonIn):
    criteria: list[str] = Field(
        description="ICH E2A criteria: death, life_threatening, hospitalisation, disability, "
        "congenital_anomaly, medically_important; empty for not serious."
    )


class LinkIn(ReasonIn):
    master_case_id: int = Field(description="The case this one follows up.")


class HandoffIn(BaseModel):
    reference: str = Field(min_length=1, max_length=100, description="The safety database's id.")


class CaseByHandIn(ReasonIn):
    kind: str = Field(pattern="^(ae|pc|srs)$")


class ReconciliationOut(BaseModel):
    scope: str
    generated_at: UtcDateTime
    items_screened: int
    items_pending: int
    zero_events: bool
    statement: str
    cases: list[SafetyCaseOut]


def _filter(
    status: str | None,
    kind: str | None,
    overdue: bool,
    survey_id: int | None,
    study_code: str | None,
    serious: bool = False,
    handoff_overdue: bool = False,
) -> service.CaseFilter:
    return service.CaseFilter(
        status=status,
        kind=kind,
        overdue=overdue,
        survey_id=survey_id,
        study_code=study_code,
        serious=serious,
        handoff_overdue=handoff_overdue,
    )


@router.get("/cases")
def list_cases(
    session: DbSession,
    page: Pagination,
    status: Annotated[str | None, Query(pattern="^(open|acknowledged|confirmed|rejected)$")] = None,
    kind: Annotated[str | None, Query(pattern="^(ae|pc|srs)$")] = None,
    overdue: bool = False,
    survey_id: int | None = None,
    study_code: str | None = None,
    serious: bool = False,
    handoff_overdue: bool = False,
) -> Page[SafetyCaseOut]:
    """The PV queue: open first; fatal or life-threatening, then serious; then most escalated
    and soonest due."""
    cases, total = service.list_cases(
        session,
        case_filter=_filter(status, kind, overdue, survey_id, study_code, serious, handoff_overdue),
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[SafetyCaseOut.of(case) for case in cases],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/cases/export")
def export_cases(
    session: DbSession,
    principal: SafetyReader,
    export_format: Annotated[str, Query(alias="format", pattern="^(csv|e2b|quality)$")] = "csv",
    status: Annotated[
        str | None, Query(pattern="^(open|acknowledged|confirmed|rejected|all)$")
    ] = None,
    kind: Annotated[str | None, Query(pattern="^(ae|pc|srs)$")] = None,
    overdue: bool = False,
    survey_id: int | None = None,
    study_code: str | None = None,
    serious: bool = False,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
) -> Response:
    """Cases for the safety database (CSV, or the JSON intake file shaped after E2B(R2)), or
    product complaints for Quality (``format=quality``); by default confirmed cases only.
    Takes the queue's filters; records the export on each case."""
    case_filter = export_filter(
        export_format,
        status=status,
        kind=kind,
        overdue=overdue,
        survey_id=survey_id,
        study_code=study_code,
        serious=serious,
        received_from=received_from,
        received_to=received_to,
    )
    cases = service.all_cases(session, case_filter=case_filter)
    service.mark_exported(session, cases=cases, user_id=principal.user_id, fmt=export_format)
    if export_format == "e2b":
        return Response(
            json.dumps(cases_e2b(session, cases), ensure_ascii=False),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="safety-cases-e2b.json"'},
        )
    quality = export_format == "quality"
    name = "quality-complaints.csv" if quality else "safety-cases.csv"
    return Response(
        quality_csv(cases) if quality else cases_csv(cases),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/cases/{case_id}")
def get_case(session: DbSession, case_id: int) -> SafetyCaseDetailOut:
    case = service.get_case(session, case_id)
    events = [CaseEventOut.of(event) for event in service.case_events(session, case_id)]
    return SafetyCaseDetailOut(
        **SafetyCaseOut.of(case).model_dump(),
        events=events,
        follow_up_ids=[follow_up.id for follow_up in intake.follow_ups(session, case.id)],
        signatures=case_signatures(session, case),
    )


@router.post("/cases/{case_id}/link")
def link_follow_up(
    session: DbSession, principal: SafetyReader, case_id: int, body: LinkIn
) -> SafetyCaseOut:
    """Make this case a follow-up (the next version) of another case."""
    return SafetyCaseOut.of(
        intake.link_follow_up(
            session,
            case_id=case_id,
            master_case_id=body.master_case_id,
            user_id=principal.user_id,
            reason=body.reason,
        )
    )


@router.post("/cases/{case_id}/unlink")
def unlink_follow_up(
    session: DbSession, principal: SafetyReader, case_id: int, body: ReasonIn
) -> SafetyCaseOut:
    """Make a follow-up a case of its own again."""
    return SafetyCaseOut.of(
        intake.unlink_follow_up(
            session, case_id=case_id, user_id=principal.user_id, reason=body.reason
        )
    )


def case_signatures(session: DbSession, case: SafetyCase) -> list[SignatureOut]:
    """The case's signatures, each saying whether the case is still as it was signed."""
    current = signatures.record_state(case)
    return [
        SignatureOut.of(signature, current)
        for signature in signatures.signatures_of(
            session, record_kind="safety_cases", record_id=case.id
        )
    ]


@router.post("/cases/{case_id}/acknowledge")
def acknowledge_case(session: DbSession, principal: SafetyReader, case_id: int) -> SafetyCaseOut:
    return SafetyCaseOut.of(
        service.acknowledge(session, case_id=case_id, user_id=principal.user_id)
    )


@router.post("/cases/{case_id}/confirm")
def confirm_case(
    request: Request, session: DbSession, principal: SafetyReader, case_id: int, body: DecisionIn
) -> SafetyCaseOut:
    """Confirm as a valid case, signed (password, meaning, reason); a wrong password is 403."""
    signer = signer_or_refusal(
        session, user_id=principal.user_id, signature=body, address=client_address(request)
    )
    return SafetyCaseOut.of(
        service.decide(session, case_id=case_id, decision="confirmed", signer=signer)
    )


@router.post("/cases/{case_id}/reject")
def reject_case(
    request: Request, session: DbSession, principal: SafetyReader, case_id: int, body: DecisionIn
) -> SafetyCaseOut:
    """Reject (not a case), signed; the reason says why."""
    signer = signer_or_refusal(
        session, user_id=principal.user_id, signature=body, address=client_address(request)
    )
    return SafetyCaseOut.of(
        service.decide(session, case_id=case_id, decision="rejected", signer=signer)
    )


@router.post("/cases/{case_id}/reclassify")
def reclassify_case(
    request: Request,
    session: DbSession,
    principal: SafetyReader,
    case_id: int,
    body: ReclassifyIn,
) -> SafetyCaseOut:
    """Change the case's kind (ae, pc, srs), signed."""
    signer = signer_or_refusal(
        session, user_id=principal.user_id, signature=body, address=client_address(request)
    )
    return SafetyCaseOut.of(
        service.reclassify(session, case_id=case_id, kind=body.kind, signer=signer)
    )


@router.post("/cases/{case_id}/seriousness")
def set_seriousness(
    session: DbSession, principal: SafetyReader, case_id: int, body: SeriousnessIn
) -> SafetyCaseOut:
    """Confirm or correct the ICH E2A criteria; the hand-off due date follows."""
    return SafetyCaseOut.of(
        service.set_seriousness(
            session,
            case_id=case_id,
            criteria=body.criteria,
            user_id=principal.user_id,
            reason=body.reason,
        )
    )


@router.post("/cases/{case_id}/handoff")
def record_handoff(
    session: DbSession, principal: SafetyReader, case_id: int, body: HandoffIn
) -> SafetyCaseOut:
    """A confirmed case is in the safety database under ``reference``."""
    return SafetyCaseOut.of(
        service.record_handoff(
            session, case_id=case_id, reference=body.reference, user_id=principal.user_id
        )
    )


@router.get("/triage")
def list_triage(
    session: DbSession,
    page: Pagination,
    status: Annotated[
        str | None, Query(pattern="^(pending|dismissed|case_opened|all)$")
    ] = "pending",
    reason: Annotated[
        str | None,
        Query(pattern=f"^({'|'.join(TRIAGE_REASONS)})$"),
    ] = None,
    kind: Annotated[str | None, Query(pattern="^(ae|pc|srs)$")] = None,
    product_code: str | None = None,
    source_kind: str | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
) -> Page[TriageItemOut]:
    """Safety mentions that opened no case (newest first), with the sentence and the reason."""
    entries, total = triage.list_triage(
        session,
        triage_filter=triage.TriageFilter(
            status=None if status == "all" else status,
            reason=reason,
            kind=kind,
            product_code=product_code,
            source_kind=source_kind,
            received_from=received_from,
            received_to=received_to,
        ),
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[TriageItemOut.of(entry) for entry in entries],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/triage/{triage_id}/dismiss")
def dismiss_triage(
    session: DbSession, principal: SafetyReader, triage_id: int, body: ReasonIn
) -> TriageItemOut:
    """No case is needed: recorded with who, when and why."""
    return TriageItemOut.of(
        triage.dismiss(session, triage_id=triage_id, user_id=principal.user_id, reason=body.reason)
    )


@router.post("/triage/{triage_id}/open-case", status_code=201)
def open_case_from_triage(
    session: DbSession, principal: SafetyReader, triage_id: int, body: ReasonIn
) -> SafetyCaseOut:
    """Open the case screening did not: due from when the text was received."""
    return SafetyCaseOut.of(
        intake.open_case_from_triage(
            session, triage_id=triage_id, user_id=principal.user_id, reason=body.reason
        )
    )


@router.post("/feedback/{feedback_item_id}/cases", status_code=201)
def open_case_by_hand(
    session: DbSession, principal: SafetyReader, feedback_item_id: int, body: CaseByHandIn
) -> SafetyCaseOut:
    """Open a case by hand from any feedback item, whatever screening found in it."""
    return SafetyCaseOut.of(
        intake.open_case_by_hand(
            session,
            feedback_item_id=feedback_item_id,
            kind=body.kind,
            user_id=principal.user_id,
            reason=body.reason,
        )
    )


@router.get("/reconciliation", response_model=None)
def reconciliation(
    session: DbSession,
    survey_id: int | None = None,
    study_code: str | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    report_format: Annotated[str, Query(alias="format", pattern="^(json|csv|pdf)$")] = "json",
) -> ReconciliationOut | Response:
    """Every event detected in a survey, study or period, its case and when it reached PV."""
    report = reconcile(
        session,
        survey_id=survey_id,
        study_code=study_code,
        period_from=received_from,
        period_to=received_to,
    )
    if report_format == "csv":
        return Response(
            reconciliation_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="reconciliation.csv"'},
        )
    if report_format == "pdf":
        return Response(
            reconciliation_pdf(report),
            media_type="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="reconciliation.pdf"'},
        )
    return ReconciliationOut(
        scope=report.scope,
        generated_at=report.generated_at,
        items_screened=report.items_screened,
        items_pending=report.items_pending,
        zero_events=report.zero_events,
        statement=report.statement,
        cases=[SafetyCaseOut.of(case) for case in report.cases],
    )
