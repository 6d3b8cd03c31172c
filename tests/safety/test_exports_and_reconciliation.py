from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from cpxm import pdfout
from cpxm.errors import DomainError
from cpxm.safety import service
from cpxm.safety.exports import cases_csv, cases_e2b
from cpxm.safety.reconciliation import reconcile, reconciliation_csv, reconciliation_pdf
from cpxm.safety.screening import screen_items
from tests.factories import make_response, make_stakeholder, make_survey, make_taxonomy
from tests.pdf import font_names, pdf_pages, pdf_text
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


JAPANESE_AE = "Immunyを使ってから発疹が出ました。"


def test_reconciliation_pdf_shows_japanese_verbatims(session: Session) -> None:
    if not pdfout.cjk_font_available():
        pytest.skip("no CJK font: scripts/_bootstrap.sh installs Debian's fonts-noto-cjk")
    survey = make_survey(session, name="患者アンケート")
    response = make_response(session, survey=survey)
    item = make_feedback(session, JAPANESE_AE, response_id=response.id)
    (case,) = screen_items(session, items=[item], now=NOW)[1]
    assert case.event_terms == ["発疹"]

    pdf = reconciliation_pdf(reconcile(session, survey_id=survey.id))
    assert any("Noto-Sans-CJK" in name for name in font_names(pdf))  # the embedded CJK font
    text = pdf_text(pdf)
    assert "患者アンケート" in text  # the scope line
    assert "発疹" in text  # the event column
    assert JAPANESE_AE in text.replace("\n", "")  # the verbatim, whole
    assert "no font for Chinese" not in text


def test_reconciliation_pdf_says_so_when_no_cjk_font_is_found(
    session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A machine whose fontconfig knows DejaVu only (no fonts-noto-cjk).
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir>'
        f"<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>",
        encoding="utf-8",
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(config))
    survey = make_survey(session, name="Survey JP")
    response = make_response(session, survey=survey)
    item = make_feedback(session, JAPANESE_AE, response_id=response.id)
    screen_items(session, items=[item], now=NOW)

    text = " ".join(pdf_text(reconciliation_pdf(reconcile(session, survey_id=survey.id))).split())
    assert "this machine has no font for Chinese, Japanese or Korean letters" in text


def test_reconciliation_pdf_pages_repeat_headers_and_keep_long_verbatims_whole(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPXM_WORKSPACE_NAME", "Acme Pharma EU")
    survey = make_survey(session, name="Long survey")
    response = make_response(session, survey=survey)
    story = " ".join(
        f"in week{number} I went to the clinic to see the nurse" for number in range(50)
    )
    items = [
        make_feedback(
            session,
            f"I got a rash after the injection, patient {number}. {story}",
            response_id=response.id,
        )
        for number in range(12)
    ]
    screen_items(session, items=items, now=NOW)
    assert len(reconcile(session, survey_id=survey.id).cases) >= 12

    pages = pdf_pages(reconciliation_pdf(reconcile(session, survey_id=survey.id)))
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        flat = " ".join(page.split())
        assert f"Page {number} of {len(pages)}" in flat
        assert "Acme Pharma EU · Safety reconciliation report" in flat  # the running header
        assert f"survey {survey.id} (Long survey)" in flat
    # Every page that continues a table starts it with its header row again.
    continued = [page for page in pages[1:] if "week" in page]
    assert continued and all("case verbatim" in " ".join(page.split()) for page in continued)
    everything = "".join("".join(pages).split())
    for number in range(12):  # each verbatim whole, none cut or overprinted
        whole = "".join(f"I got a rash after the injection, patient {number}. {story}".split())
        assert whole in everything.replace("-", "") or whole in everything
    flat_last = " ".join(pages[-1].split())
    assert "Reviewed by (PV)" in flat_last and "Signature" in flat_last


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


def test_reconcile_command_writes_the_pdf_on_a_fresh_store(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "CPXM_DATABASE_URL": f"sqlite:///{tmp_path / 'cpxm.db'}",
        "CPXM_WORKSPACE_NAME": "Acme Pharma",
    }

    def cpxm(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cpxm", *arguments],
            env=environment,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    assert cpxm("init").returncode == 0
    done = cpxm("safety", "reconcile", "feb.pdf", "--from", "2027-01-01", "--to", "2027-02-01")
    assert done.returncode == 0, done.stderr
    assert "written to feb.pdf" in done.stdout
    (page,) = pdf_pages((tmp_path / "feb.pdf").read_bytes())
    flat = " ".join(page.split())
    assert "Zero events: no feedback item was received in scope" in flat
    assert "Acme Pharma · Safety reconciliation report" in flat
    assert "received 2027-01-01 to 2027-02-01" in flat and "Page 1 of 1" in flat
    refused = cpxm("safety", "reconcile", "feb.txt", "--from", "2027-01-01")
    assert refused.returncode != 0 and "write the report to a .pdf or .csv file" in (
        refused.stdout + refused.stderr
    )
