from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session

from cpxm.errors import DomainError
from cpxm.safety import reconciliation, service
from cpxm.safety.exports import cases_csv, cases_e2b
from cpxm.safety.reconciliation import (
    cjk_font_path,
    reconcile,
    reconciliation_csv,
    reconciliation_pdf,
)
from cpxm.safety.screening import screen_items
from tests.factories import make_response, make_stakeholder, make_survey, make_taxonomy
from tests.safety.helpers import make_feedback

NOW = datetime(2026, 11, 23, 12, 0)


def test_csv_and_e2b_carry_product_event_and_reporter(session: Session) -> None:
    make_taxonomy(session)
    hcp = make_stakeholder(
        session,
        type="hcp",
        country_code="FR",
        first_name="Anne",
        last_name="Roy",
        specialty="Dermatology",
    )
    item = make_feedback(
        session,
        "One of my patients on Immuny developed severe hives after the second dose.",
        stakeholder_id=hcp.id,
        source_kind="call_note",
    )
    (case,) = screen_items(session, items=[item], now=NOW)[1]

    rows = list(csv.DictReader(io.StringIO(cases_csv([case]))))
    assert rows[0]["kind"] == "ae"
    assert rows[0]["product_code"] == "immu_y"
    assert "hives" in rows[0]["event_terms"]
    assert rows[0]["country_code"] == "FR"

    message = cases_e2b(session, [case])
    (report,) = message["ichicsr"]["safetyreport"]
    assert report["primarysource"]["qualification"] == "1"  # an HCP reported it
    assert report["primarysource"]["reporterfamilyname"] == "Roy"
    assert report["patient"]["drug"][0]["medicinalproduct"] == "Immuny"
    assert {"primarysourcereaction": "hives", "reactionmeddrapt": None} in report["patient"][
        "reaction"
    ]
    assert report["receivedate"] == "20261123"


def test_reconciliation_states_zero_events_explicitly(session: Session) -> None:
    survey = make_survey(session, name="Quiet survey")
    response = make_response(session, survey=survey)
    item = make_feedback(session, "The webinar was useful.", response_id=response.id)
    screen_items(session, items=[item], now=NOW)

    report = reconcile(session, survey_id=survey.id)
    assert report.zero_events
    assert report.items_screened == 1 and report.items_pending == 0
    assert report.statement.startswith("Zero events: 1 feedback item(s) in scope were screened")
    assert "Zero events" in reconciliation_csv(report)
    assert reconciliation_pdf(report).startswith(b"%PDF")


def test_reconciliation_lists_cases_and_warns_about_unscreened_items(session: Session) -> None:
    survey = make_survey(session, name="Busy survey")
    response = make_response(session, survey=survey)
    item = make_feedback(session, "I got a rash after the injection.", response_id=response.id)
    make_feedback(session, "Still waiting to be screened.", response_id=response.id)
    (case,) = screen_items(session, items=[item], now=NOW)[1]
    service.acknowledge(session, case_id=case.id, user_id=None, now=datetime(2026, 11, 23, 15, 0))

    report = reconcile(session, survey_id=survey.id)
    assert [listed.id for listed in report.cases] == [case.id]
    assert report.items_pending == 1
    assert report.statement.startswith("NOT COMPLETE")
    lines = reconciliation_csv(report).splitlines()
    assert lines[5].startswith("case_id,kind")
    assert lines[6].split(",")[10] == "yes"  # acknowledged within one business day
    assert reconciliation_pdf(report).startswith(b"%PDF")


def test_reconciliation_needs_a_scope(session: Session) -> None:
    with pytest.raises(DomainError, match="choose a scope"):
        reconcile(session)


def _pdf_text(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    # fpdf2 encodes CFF-font text as two-byte codes through an embedded CMap, which pypdf reads
    # one byte at a time: each CJK letter comes back after a NUL. The letters are right.
    return text.replace("\x00", "")


JAPANESE_AE = "Immunyを使ってから発疹が出ました。"


def test_reconciliation_pdf_shows_japanese_verbatims(session: Session) -> None:
    if cjk_font_path() is None:
        pytest.skip("no CJK font: install the project's dependencies (noto-cjk-sans-jp-regular)")
    survey = make_survey(session, name="患者アンケート")
    response = make_response(session, survey=survey)
    item = make_feedback(session, JAPANESE_AE, response_id=response.id)
    (case,) = screen_items(session, items=[item], now=NOW)[1]
    assert case.event_terms == ["発疹"]

    pdf = reconciliation_pdf(reconcile(session, survey_id=survey.id))
    assert b"NotoSansCJK" in pdf  # the glyphs come from the embedded CJK font
    text = _pdf_text(pdf)
    assert "患者アンケート" in text  # the scope line
    assert "発疹" in text  # the event column
    assert JAPANESE_AE in text.replace("\n", "")  # the verbatim, whole
    assert "no CJK font" not in text


def test_reconciliation_pdf_says_so_when_no_cjk_font_is_found(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPXM_CJK_FONT", "/nonexistent/font.otf")
    survey = make_survey(session, name="Survey JP")
    response = make_response(session, survey=survey)
    item = make_feedback(session, JAPANESE_AE, response_id=response.id)
    screen_items(session, items=[item], now=NOW)

    text = _pdf_text(reconciliation_pdf(reconcile(session, survey_id=survey.id)))
    assert "no CJK font is installed" in " ".join(text.split())
    assert "Immuny???????" in text.replace("\n", "")


def test_reconciliation_pdf_without_dejavu_draws_everything_in_noto(
    session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if cjk_font_path() is None:
        pytest.skip("no CJK font: install the project's dependencies (noto-cjk-sans-jp-regular)")
    monkeypatch.setattr(reconciliation, "_FONT_DIRECTORY", tmp_path)  # a machine without DejaVu
    survey = make_survey(session, name="Umfrage Österreich")
    response = make_response(session, survey=survey)
    item = make_feedback(session, JAPANESE_AE, response_id=response.id)
    screen_items(session, items=[item], now=NOW)

    pdf = reconciliation_pdf(reconcile(session, survey_id=survey.id))
    assert b"DejaVu" not in pdf
    text = _pdf_text(pdf)
    assert "Umfrage Österreich" in text and JAPANESE_AE in text.replace("\n", "")


def test_exports_default_to_confirmed_ae_and_srs_and_send_complaints_to_quality(
    session: Session,
) -> None:
    from cpxm.safety.exports import export_filter, qualification, quality_csv, solicited_case_ids

    make_taxonomy(session)
    pharmacist = make_stakeholder(session, type="hcp", specialty="Hospital pharmacy")
    patient = make_stakeholder(session, type="patient")
    survey = make_survey(session, name="Patient experience")
    response = make_response(session, survey=survey)
    ae_item = make_feedback(
        session,
        "I had a rash after my Immuny injection.",
        stakeholder_id=patient.id,
        response_id=response.id,
    )
    pc_item = make_feedback(
        session,
        "The Immuny pen from lot AB1234 leaked.",
        stakeholder_id=pharmacist.id,
        source_kind="call_note",
    )
    (ae,) = screen_items(session, items=[ae_item], now=NOW)[1]
    (pc,) = screen_items(session, items=[pc_item], now=NOW)[1]
    assert pc.kind == "pc" and pc.lot_number == "AB1234" and pc.handoff_due_at is None

    default = service.all_cases(session, case_filter=export_filter("e2b"))
    assert default == []  # nothing confirmed yet
    every = service.all_cases(session, case_filter=export_filter("e2b", status="all"))
    assert every == [ae]  # the complaint never goes into the AE intake file
    with pytest.raises(DomainError, match="use format quality"):
        export_filter("csv", kind="pc")
    quality = service.all_cases(session, case_filter=export_filter("quality", status="all"))
    assert quality == [pc]
    rows = list(csv.DictReader(io.StringIO(quality_csv(quality))))
    assert rows[0]["lot_number"] == "AB1234"

    assert solicited_case_ids(session, [ae, pc]) == {ae.id}
    (report,) = cases_e2b(session, [ae])["ichicsr"]["safetyreport"]
    assert report["reporttype"] == "2"  # a survey answer: report from study
    assert report["primarysource"]["observestudytype"] == "3"
    assert report["primarysource"]["studyname"] == "Patient experience"
    assert report["primarysource"]["qualification"] == "5"
    assert qualification(pharmacist) == "2"
    assert qualification(make_stakeholder(session, type="hcp", specialty="Cardiology")) == "1"
    assert qualification(make_stakeholder(session, type="hcp", specialty="Oncology nursing")) == "3"
