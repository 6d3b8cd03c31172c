"""Exports of safety cases: CSV, a JSON intake file for the safety database, and Quality's CSV.

The JSON is **an intake file shaped after ICH E2B(R2) as openFDA renders it in JSON**, not an
E2B(R3) ICSR: no XML, no schema validation, no MedDRA coding (``reactionmeddrapt`` is null; the
reporter's words are in ``primarysourcereaction``). It uses the E2B(R2) element names
(``safetyreport``, ``reporttype``, ``primarysource.qualification``,
``primarysource.observestudytype``, ``patient.drug[].drugcharacterization``, ...) so a PV
system's importer can map it field by field; the ``cpxm`` object carries what E2B has no
element for (the four valid-case elements, seriousness as CPXM triaged it, the source).

- ``reporttype`` is 1 (spontaneous) for unsolicited sources and 2 (report from study) for
  solicited ones, with ``observestudytype`` 3 (other studies): survey answers, patient-support
  programmes and market research are organised data collection (GVP VI.B.1.2).
- ``qualification`` is 1 physician, 2 pharmacist, 3 other health professional, 5 consumer or
  other non-health professional, from the reporter's record.
- A follow-up is exported under its first case's ``safetyreportid`` with
  ``safetyreportversion`` 2, 3, ...

Product complaints go to Quality (:func:`quality_csv`, with the lot or batch number when the
reporter gave one), never into the AE intake file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm import csvout
from cpxm.errors import DomainError
from cpxm.feedback.models import FeedbackItem
from cpxm.interactions.models import Interaction
from cpxm.safety.models import SafetyCase
from cpxm.safety.service import CaseFilter
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.models import Survey
from cpxm.timeutil import utc_now
from cpxm.workspace.models import Product

CSV_COLUMNS = (
    "case_id",
    "kind",
    "subtypes",
    "status",
    "product_code",
    "product_written",
    "event_terms",
    "context",
    "has_patient",
    "has_reporter",
    "has_product",
    "has_event",
    "source_kind",
    "feedback_item_id",
    "survey_id",
    "study_code",
    "country_code",
    "aware_at",
    "forwarded_to_pv_at",
    "due_at",
    "acknowledged_at",
    "acknowledged_on_time",
    "escalation_level",
    "decided_at",
    "decision_note",
    "exported_at",
    "contact_permission",
    "verbatim",
)
# E2B primary-source qualification: 1 physician, 3 other health professional, 5 consumer.
# E2B(R2) A.2.1.4 qualification, by stakeholder type (an HCP's specialty refines it below).
_QUALIFICATION = {
    "hcp": "1",
    "investigator": "1",
    "site_staff": "3",
    "patient": "5",
    "caregiver": "5",
    "pharmacy": "2",
}
_REPORT_TYPE_SPONTANEOUS = "1"
_REPORT_TYPE_STUDY = "2"
_STUDY_TYPE_OTHER = "3"  # A.2.3.3: other studies (not a clinical trial, not named-patient use)
# Organised data collection (GVP VI.B.1.2): a case from these is solicited.
SOLICITED_DEPARTMENTS = ("patient_services", "market_access")


EXPORT_FORMATS = ("csv", "e2b", "quality")


def export_filter(
    export_format: str,
    *,
    status: str | None = None,
    kind: str | None = None,
    overdue: bool = False,
    survey_id: int | None = None,
    study_code: str | None = None,
    serious: bool = False,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
) -> CaseFilter:
    """The queue's filters for an export, with its defaults: only confirmed cases (``status``
    ``all`` for every status), AE and special situations for the safety database, product
    complaints only for Quality."""
    if export_format not in EXPORT_FORMATS:
        raise DomainError(f"format is '{export_format}', expected one of csv, e2b, quality")
    if export_format == "quality":
        if kind not in (None, "pc"):
            raise DomainError("the Quality export holds product complaints only (kind pc)")
        kinds: tuple[str, ...] = ("pc",)
    else:
        if kind == "pc":
            raise DomainError(
                "product complaints go to Quality, not the safety database: use format quality"
            )
        kinds = (kind,) if kind else ("ae", "srs")
    return CaseFilter(
        status=None if status == "all" else (status or "confirmed"),
        kinds=kinds,
        overdue=overdue,
        survey_id=survey_id,
        study_code=study_code,
        serious=serious,
        received_from=received_from,
        received_to=received_to,
    )


def qualification(reporter: Stakeholder | None) -> str | None:
    """E2B's 1 physician, 2 pharmacist, 3 other health professional, 5 consumer (or None)."""
    if reporter is None:
        return None
    specialty = (reporter.specialty or "").lower()
    if reporter.type == "hcp":
        if "pharmac" in specialty:
            return "2"
        if any(word in specialty for word in ("nurs", "midwi", "physio", "dietit", "technic")):
            return "3"
        return "1" if specialty else "3"  # an HCP of unknown profession: not claimed physician
    return _QUALIFICATION.get(reporter.type)


def solicited_case_ids(session: Session, cases: Sequence[SafetyCase]) -> set[int]:
    """The cases that came from organised data collection: surveys, programmes, research."""
    solicited = {case.id for case in cases if case.survey_id is not None}
    rest = {case.feedback_item_id: case.id for case in cases if case.survey_id is None}
    if rest:
        rows = session.execute(
            select(FeedbackItem.id, Interaction.department_code)
            .join(Interaction, Interaction.id == FeedbackItem.interaction_id)
            .where(FeedbackItem.id.in_(list(rest)))
        )
        solicited |= {
            rest[item_id] for item_id, department in rows if department in SOLICITED_DEPARTMENTS
        }
    return solicited


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="seconds") if moment else ""


def cases_csv(cases: Sequence[SafetyCase]) -> str:
    buffer = io.StringIO()
    writer = csvout.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for case in cases:
        on_time = case.acknowledged_at <= case.due_at if case.acknowledged_at else ""
        writer.writerow(
            [
                case.id,
                case.kind,
                ";".join(case.subtypes),
                case.status,
                case.product_code or "",
                case.product_written or "",
                ";".join(case.event_terms),
                case.context,
                case.has_patient,
                case.has_reporter,
                case.has_product,
                case.has_event,
                case.source_kind,
                case.feedback_item_id,
                case.survey_id or "",
                case.study_code or "",
                case.country_code or "",
                _iso(case.aware_at),
                _iso(case.created_at),
                _iso(case.due_at),
                _iso(case.acknowledged_at),
                on_time,
                case.escalation_level,
                _iso(case.decided_at),
                case.decision_note or "",
                _iso(case.exported_at),
                "" if case.contact_permission is None else case.contact_permission,
                case.verbatim,
            ]
        )
    return buffer.getvalue()


def _e2b_date(moment: datetime) -> str:
    return moment.strftime("%Y%m%d")  # E2B date format CCYYMMDD


def cases_e2b(
    session: Session, cases: Sequence[SafetyCase], *, sender: str = "CPXM"
) -> dict[str, Any]:
    """An ``ichicsr`` message with one ``safetyreport`` per case."""
    reporter_ids = {case.reporter_stakeholder_id for case in cases if case.reporter_stakeholder_id}
    reporters = (
        {
            stakeholder.id: stakeholder
            for stakeholder in session.scalars(
                select(Stakeholder).where(Stakeholder.id.in_(reporter_ids))
            )
        }
        if reporter_ids
        else {}
    )
    product_codes = {case.product_code for case in cases if case.product_code}
    products = (
        {
            product.code: product
            for product in session.scalars(select(Product).where(Product.code.in_(product_codes)))
        }
        if product_codes
        else {}
    )
    solicited = solicited_case_ids(session, cases)
    reports = []
    for case in cases:
        reporter = reporters.get(case.reporter_stakeholder_id or 0)
        product = products.get(case.product_code or "")
        study = case.id in solicited
        reports.append(
            {
                "safetyreportid": f"CPXM-{case.follow_up_of or case.id}",
                "safetyreportversion": str(case.version),
                "reporttype": _REPORT_TYPE_STUDY if study else _REPORT_TYPE_SPONTANEOUS,
                "serious": "1" if case.seriousness_level else "2",
                "seriousnessdeath": "1" if "death" in case.seriousness else None,
                "seriousnesslifethreatening": "1"
                if "life_threatening" in case.seriousness
                else None,
                "seriousnesshospitalization": "1"
                if "hospitalisation" in case.seriousness
                else None,
                "seriousnessdisabling": "1" if "disability" in case.seriousness else None,
                "seriousnesscongenitalanomali": "1"
                if "congenital_anomaly" in case.seriousness
                else None,
                "seriousnessother": "1" if "medically_important" in case.seriousness else None,
                "receivedate": _e2b_date(case.aware_at),
                "receiptdate": _e2b_date(case.aware_at),
                "occurcountry": case.country_code,
                "primarysource": {
                    "qualification": qualification(reporter),
                    "observestudytype": _STUDY_TYPE_OTHER if study else None,
                    "studyname": _study_name(session, case) if study else None,
                    "sponsorstudynumber": case.study_code,
                    "reportercountry": reporter.country_code if reporter else case.country_code,
                    "reportergivename": reporter.first_name if reporter else None,
                    "reporterfamilyname": reporter.last_name if reporter else None,
                    "contactpermission": case.contact_permission,
                },
                "sender": {"senderorganization": sender},
                "cpxm": {
                    "kind": case.kind,
                    "subtypes": case.subtypes,
                    "context": case.context,
                    "valid_case_elements": {
                        "identifiable_patient": case.has_patient,
                        "identifiable_reporter": case.has_reporter,
                        "suspect_product": case.has_product,
                        "event": case.has_event,
                    },
                    "source_kind": case.source_kind,
                    "study_code": case.study_code,
                    "status": case.status,
                    "seriousness": case.seriousness,
                    "seriousness_by": case.seriousness_by,
                    "follow_up_of": case.follow_up_of,
                    "case_id": case.id,
                    "handoff_due_at": _iso(case.handoff_due_at) or None,
                },
                "patient": {
                    "reaction": [
                        {"primarysourcereaction": term, "reactionmeddrapt": None}
                        for term in case.event_terms
                    ],
                    "drug": [
                        {
                            "drugcharacterization": "1",  # suspect
                            "medicinalproduct": product.name if product else case.product_written,
                            "activesubstance": {
                                "activesubstancename": product.generic_name if product else None
                            },
                        }
                    ]
                    if case.has_product
                    else [],
                    "summary": {"narrativeincludeclinical": case.verbatim},
                },
            }
        )
    return {
        "ichicsr": {
            "messageheader": {
                "messagetype": "ichicsr",
                "messagesenderidentifier": sender,
                "messagedate": utc_now().strftime("%Y%m%d%H%M%S"),
            },
            "safetyreport": reports,
        }
    }


def _study_name(session: Session, case: SafetyCase) -> str | None:
    if case.survey_id is None:
        return None
    return session.scalar(select(Survey.name).where(Survey.id == case.survey_id))


QUALITY_COLUMNS = (
    "case_id",
    "feedback_item_id",
    "subtypes",
    "status",
    "product_code",
    "product_written",
    "lot_number",
    "complaint_terms",
    "source_kind",
    "country_code",
    "aware_at",
    "contact_permission",
    "verbatim",
)


def quality_csv(cases: Sequence[SafetyCase]) -> str:
    """Product complaints for Quality, with the lot or batch number when given."""
    buffer = io.StringIO()
    writer = csvout.writer(buffer)
    writer.writerow(QUALITY_COLUMNS)
    for case in cases:
        writer.writerow(
            [
                case.id,
                case.feedback_item_id,
                ";".join(case.subtypes),
                case.status,
                case.product_code or "",
                case.product_written or "",
                case.lot_number or "",
                ";".join(case.event_terms),
                case.source_kind,
                case.country_code or "",
                _iso(case.aware_at),
                "" if case.contact_permission is None else case.contact_permission,
                case.verbatim,
            ]
        )
    return buffer.getvalue()
