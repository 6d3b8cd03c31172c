"""Reconciliation reports: every safety event detected in a survey, study or period, its case,
when it reached PV, and an explicit statement when there were none.

PV reconciles what the experience programme collected against what the safety database
received; a report that only lists rows cannot tell "none" from "not checked", so the report
says how many feedback items were screened, how many still wait, and, when nothing was found,
states it in words.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cpxm import csvout
from cpxm.errors import DomainError, NotFoundError
from cpxm.feedback.models import FeedbackItem
from cpxm.safety.models import SafetyCase
from cpxm.safety.service import CaseFilter, all_cases
from cpxm.surveys.models import Response, Survey
from cpxm.timeutil import utc_now
from cpxm.workspace.models import Product


@dataclass
class Reconciliation:
    scope: str  # human-readable: "survey 3 (Patient experience 2026)", "study MRD-4410", ...
    period_from: datetime | None
    period_to: datetime | None
    generated_at: datetime
    items_screened: int
    items_pending: int
    cases: list[SafetyCase] = field(default_factory=list)

    @property
    def zero_events(self) -> bool:
        return not self.cases

    @property
    def statement(self) -> str:
        if self.items_pending:
            return (
                f"NOT COMPLETE: {self.items_pending} feedback item(s) in scope are not yet "
                "screened; run `cpxm analyze` and produce this report again."
            )
        if self.zero_events and not self.items_screened:
            return (
                "Zero events: no feedback item was received in scope, so there was nothing to "
                "detect."
            )
        if self.zero_events:
            return (
                f"Zero events: {self.items_screened} feedback item(s) in scope were screened and "
                "no adverse event, product complaint or special situation was detected."
            )
        forwarded_late = sum(1 for case in self.cases if not _on_time(case))
        return (
            f"{len(self.cases)} safety case(s) from {self.items_screened} screened feedback "
            f"item(s); {forwarded_late} acknowledged late or not yet acknowledged."
        )


def _on_time(case: SafetyCase) -> bool:
    return case.acknowledged_at is not None and case.acknowledged_at <= case.due_at


def reconcile(
    session: Session,
    *,
    survey_id: int | None = None,
    study_code: str | None = None,
    period_from: datetime | None = None,
    period_to: datetime | None = None,
) -> Reconciliation:
    """The reconciliation for one survey, one study (its product code) or a period."""
    if survey_id is None and study_code is None and period_from is None and period_to is None:
        raise DomainError("choose a scope: a survey, a study, or a period (from and/or to)")
    items = select(func.count()).select_from(FeedbackItem)
    scope_parts = []
    if survey_id is not None:
        survey = session.get(Survey, survey_id)
        if survey is None:
            raise NotFoundError("survey", survey_id)
        scope_parts.append(f"survey {survey.id} ({survey.name})")
        items = items.where(
            FeedbackItem.response_id.in_(select(Response.id).where(Response.survey_id == survey_id))
        )
    if study_code is not None:
        product = session.get(Product, study_code)
        if product is None:
            raise NotFoundError("study (product code)", study_code)
        scope_parts.append(f"study {product.code} ({product.name})")
        names = [name for name in (product.name, product.generic_name, product.code) if name]
        items = items.where(
            or_(*(func.lower(FeedbackItem.text).contains(name.lower()) for name in names))
        )
    if period_from is not None:
        items = items.where(FeedbackItem.received_at >= period_from)
    if period_to is not None:
        items = items.where(FeedbackItem.received_at < period_to)
    if period_from is not None or period_to is not None:
        scope_parts.append(
            f"received {period_from.date() if period_from else '…'} to "
            f"{period_to.date() if period_to else '…'}"
        )
    screened = int(session.scalar(items.where(FeedbackItem.analysis_status != "pending")) or 0)
    pending = int(session.scalar(items.where(FeedbackItem.analysis_status == "pending")) or 0)
    cases = all_cases(
        session,
        case_filter=CaseFilter(
            survey_id=survey_id,
            study_code=study_code,
            received_from=period_from,
            received_to=period_to,
        ),
    )
    return Reconciliation(
        scope=", ".join(scope_parts),
        period_from=period_from,
        period_to=period_to,
        generated_at=utc_now(),
        items_screened=screened,
        items_pending=pending,
        cases=cases,
    )


RECONCILIATION_COLUMNS = (
    "case_id",
    "kind",
    "subtypes",
    "product",
    "event",
    "context",
    "aware_at",
    "forwarded_to_pv_at",
    "due_at",
    "acknowledged_at",
    "on_time",
    "status",
    "exported_at",
)


def _row(case: SafetyCase) -> list[str]:
    def iso(moment: datetime | None) -> str:
        return moment.isoformat(sep=" ", timespec="minutes") if moment else ""

    return [
        str(case.id),
        case.kind,
        ";".join(case.subtypes),
        case.product_code or case.product_written or "",
        ";".join(case.event_terms),
        case.context,
        iso(case.aware_at),
        iso(case.created_at),
        iso(case.due_at),
        iso(case.acknowledged_at),
        "yes" if _on_time(case) else "no",
        case.status,
        iso(case.exported_at),
    ]


def reconciliation_csv(report: Reconciliation) -> str:
    buffer = io.StringIO()
    writer = csvout.writer(buffer)
    writer.writerow(["# scope", report.scope])
    writer.writerow(["# generated_at", report.generated_at.isoformat(timespec="seconds")])
    writer.writerow(["# items_screened", report.items_screened])
    writer.writerow(["# items_pending", report.items_pending])
    writer.writerow(["# statement", report.statement])
    writer.writerow(RECONCILIATION_COLUMNS)
    for case in report.cases:
        writer.writerow(_row(case))
    return buffer.getvalue()


def reconciliation_pdf(report: Reconciliation) -> bytes:
    """The report as PDF, laid out from ``safety/reconciliation_report.html`` by WeasyPrint:
    page numbers, the scope on every page, headers repeated, verbatims wrapped whole, sign-off."""
    from cpxm import pdfout

    texts = [report.scope, *(case.verbatim for case in report.cases)]
    texts += [cell for case in report.cases for cell in _row(case)]
    cjk_missing = pdfout.has_cjk(texts) and not pdfout.cjk_font_available()
    rows = [dict(zip(RECONCILIATION_COLUMNS, _row(case), strict=True)) for case in report.cases]
    return pdfout.render_pdf(
        "safety/reconciliation_report.html",
        {
            "report": report,
            "rows": rows,
            "cjk_missing": pdfout.CJK_MISSING_NOTE if cjk_missing else "",
        },
    )
