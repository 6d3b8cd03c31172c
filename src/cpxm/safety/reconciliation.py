"""Reconciliation reports: every safety event detected in a survey, study or period, its case,
when it reached PV, and an explicit statement when there were none.

PV reconciles what the experience programme collected against what the safety database
received; a report that only lists rows cannot tell "none" from "not checked", so the report
says how many feedback items were screened, how many still wait, and, when nothing was found,
states it in words.
"""

from __future__ import annotations

import io
import logging
import os
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path

from fpdf import FPDF
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

logger = logging.getLogger(__name__)
_FONT_DIRECTORY = Path("/usr/share/fonts/truetype/dejavu")
# Chinese, Japanese and Korean glyphs come from the Noto Sans CJK font that the
# ``noto-cjk-sans-jp-regular`` package ships (a dependency); CPXM_CJK_FONT names another file.
CJK_FONT_ENV = "CPXM_CJK_FONT"
_CJK_FONT_PACKAGE = "noto_cjk_sans_jp_regular"
_CJK_FONT_FILE = "NotoSansCJKjp-Regular.otf"
CJK_MISSING_NOTE = (
    "Note: no CJK font is installed (Python package noto-cjk-sans-jp-regular), so Chinese, "
    "Japanese and Korean characters are shown as '?'; the CSV export has the exact text."
)


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
    pdf = FPDF(orientation="L", format="A4")
    family, has_cjk = _fonts(pdf)

    def safe(text: str) -> str:
        return _safe(text, family, has_cjk=has_cjk)

    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font(family, "B", 16)
    pdf.cell(0, 10, "Safety reconciliation report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 10)
    if not has_cjk and any(_is_cjk(case.verbatim) for case in report.cases):
        pdf.multi_cell(0, 5, CJK_MISSING_NOTE, new_x="LMARGIN", new_y="NEXT")
    for label, value in (
        ("Scope", report.scope),
        ("Generated", report.generated_at.isoformat(sep=" ", timespec="minutes") + " UTC"),
        ("Feedback items screened", str(report.items_screened)),
        ("Feedback items not yet screened", str(report.items_pending)),
        ("Safety cases", str(len(report.cases))),
    ):
        pdf.cell(60, 6, safe(label), new_x="RIGHT")
        pdf.cell(0, 6, safe(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(family, "B", 11)
    pdf.multi_cell(0, 7, safe(report.statement), border=1, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    if report.cases:
        widths = (14, 10, 40, 30, 48, 24, 28, 28, 28, 14, 22)
        headers = (
            "case",
            "kind",
            "subtypes",
            "product",
            "event",
            "context",
            "aware",
            "forwarded to PV",
            "acknowledged",
            "on time",
            "status",
        )
        pdf.set_font(family, "B", 8)
        for width, header in zip(widths, headers, strict=True):
            pdf.cell(width, 6, header, border=1)
        pdf.ln()
        pdf.set_font(family, "", 8)
        for case in report.cases:
            row = _row(case)
            values = (
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                row[6],
                row[7],
                row[9],
                row[10],
                row[11],
            )
            for width, value in zip(widths, values, strict=True):
                pdf.cell(width, 6, safe(_fit(pdf, value, width)), border=1)
            pdf.ln()
        # The reporter's own words, so PV can reconcile against the safety database's narrative.
        pdf.ln(4)
        pdf.set_font(family, "B", 11)
        pdf.cell(0, 7, "Verbatims", new_x="LMARGIN", new_y="NEXT")
        for case in report.cases:
            pdf.set_font(family, "B", 8)
            pdf.cell(14, 5, f"case {case.id}", new_x="RIGHT")
            pdf.set_font(family, "", 8)
            pdf.multi_cell(0, 5, safe(case.verbatim), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font(family, "", 10)
    pdf.cell(
        0,
        6,
        "Reviewed by (PV): ______________________    Date: __________",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())


def cjk_font_path() -> Path | None:
    """The CJK font file to embed, or None when neither the package nor CPXM_CJK_FONT has one."""
    configured = os.environ.get(CJK_FONT_ENV, "").strip()
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    try:
        path = Path(str(resources.files(_CJK_FONT_PACKAGE) / _CJK_FONT_FILE))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def _fonts(pdf: FPDF) -> tuple[str, bool]:
    """Register the fonts; returns the main family and whether CJK letters can be drawn."""
    cjk = cjk_font_path()
    if cjk is None:
        logger.warning("no CJK font found; CJK characters in PDFs are replaced by '?'")
    regular = _FONT_DIRECTORY / "DejaVuSans.ttf"
    bold = _FONT_DIRECTORY / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        pdf.add_font("DejaVu", "", str(regular))
        pdf.add_font("DejaVu", "B", str(bold))
        if cjk is not None:
            # What DejaVu cannot draw (CJK) falls back to Noto Sans CJK, bold included.
            pdf.add_font("NotoSansCJK", "", str(cjk))
            pdf.set_fallback_fonts(["NotoSansCJK"], exact_match=False)
        return "DejaVu", cjk is not None
    if cjk is not None:
        # Noto Sans CJK draws Latin too; the package ships one weight, so bold is regular.
        pdf.add_font("NotoSansCJK", "", str(cjk))
        pdf.add_font("NotoSansCJK", "B", str(cjk))
        return "NotoSansCJK", True
    return "Helvetica", False


def _is_cjk(text: str) -> bool:
    return any(unicodedata.east_asian_width(char) in ("W", "F") for char in text)


def _safe(text: str, family: str, *, has_cjk: bool) -> str:
    # The built-in Helvetica covers Latin-1 only; without DejaVu, other letters become "?".
    if family == "Helvetica":
        return text.encode("latin-1", "replace").decode("latin-1")
    if not has_cjk:
        return "".join(
            "?" if unicodedata.east_asian_width(char) in ("W", "F") else char for char in text
        )
    return text


def _fit(pdf: FPDF, text: str, width: float) -> str:
    if pdf.get_string_width(text) <= width - 2:
        return text
    while text and pdf.get_string_width(text + "…") > width - 2:
        text = text[:-1]
    return text + "…"
