"""Exports of safety cases for the safety database: CSV, and JSON shaped after ICH E2B.

The JSON follows the ICH E2B individual case safety report's structure and element names as
the openFDA-style JSON rendering uses them (``safetyreport``, ``primarysource``,
``patient.reaction[].primarysourcereaction``, ``patient.drug[].medicinalproduct``,
``drugcharacterization``), so a PV system's importer can map it field by field. MedDRA coding
is left to PV (``reactionmeddrapt`` is null): the reporter's words are in
``primarysourcereaction``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm import csvout
from cpxm.safety.models import SafetyCase
from cpxm.stakeholders.models import Stakeholder
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
_QUALIFICATION = {"hcp": "1", "patient": "5", "caregiver": "5", "pharmacy": "3"}
_REPORT_TYPE_STUDY = "2"
_REPORT_TYPE_OTHER = "4"  # "not available to sender": solicited by a survey or programme


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
    reports = []
    for case in cases:
        reporter = reporters.get(case.reporter_stakeholder_id or 0)
        product = products.get(case.product_code or "")
        reports.append(
            {
                "safetyreportid": f"CPXM-{case.id}",
                "reporttype": _REPORT_TYPE_STUDY if case.study_code else _REPORT_TYPE_OTHER,
                "receivedate": _e2b_date(case.aware_at),
                "receiptdate": _e2b_date(case.aware_at),
                "occurcountry": case.country_code,
                "primarysource": {
                    "qualification": _QUALIFICATION.get(reporter.type) if reporter else None,
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
