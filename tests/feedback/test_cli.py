from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cpxm.auth.service import create_api_token, create_user
from cpxm.cli import app
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.safety.models import SafetyCase
from cpxm.workspace.models import AuditLogEntry
from tests.auth.signing import PASSWORD
from tests.conftest import url_of

runner = CliRunner()


def test_analyze_file_adds_columns_and_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPXM_DATABASE_URL", f"sqlite:///{tmp_path}/absent.db")
    source = tmp_path / "comments.csv"
    source.write_text(
        "id,comment\n"
        '1,"Since starting the tablets I get headaches. Mail me at a.b@example.org"\n'
        "2,No side effects at all. Great support team!\n"
        '3,"The pen leaked, what a waste."\n',
        encoding="utf-8",
    )
    output = tmp_path / "out.csv"
    result = runner.invoke(
        app,
        ["analyze", "--input", str(source), "--text-column", "comment", "--output", str(output)],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(output.open(encoding="utf-8")))
    assert [row["id"] for row in rows] == ["1", "2", "3"]
    assert rows[0]["safety"] == "ae"
    assert "[EMAIL]" in rows[0]["redacted_text"]
    assert rows[1]["safety"] == "" and rows[1]["safety_context"] == "negated"
    assert rows[1]["sentiment_label"] == "positive"
    assert rows[2]["safety"] == "pc"
    assert "2 with a possible safety event" in result.output


def test_analyze_file_reads_rows_with_a_product_as_about_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPXM_DATABASE_URL", f"sqlite:///{tmp_path}/absent.db")
    source = tmp_path / "reviews.csv"
    # A review on a drug's page need not name the drug for "did not help" to be about it.
    source.write_text("id,drug,review\n1,Zolmitriptan,Did not help.\n2,,Did not help.\n")
    output = tmp_path / "out.csv"
    arguments = ["analyze", "--input", str(source), "--text-column", "review"]
    result = runner.invoke(app, [*arguments, "--product-column", "drug", "--output", str(output)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(output.open(encoding="utf-8")))
    assert [row["safety"] for row in rows] == ["srs", ""]
    missing = runner.invoke(
        app, [*arguments, "--product-column", "medicine", "--output", str(output)]
    )
    assert missing.exit_code == 1
    assert "has no column 'medicine'; its columns are: id, drug, review" in missing.output


def test_analyze_file_names_a_missing_column(tmp_path: Path) -> None:
    source = tmp_path / "comments.csv"
    source.write_text("id,text\n1,hello\n", encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "analyze",
            "--input",
            str(source),
            "--text-column",
            "comment",
            "--output",
            str(tmp_path / "o.csv"),
        ],
    )
    assert result.exit_code == 1
    assert "has no column 'comment'; its columns are: id, text" in result.output
    assert not (tmp_path / "o.csv").exists()


def test_analyze_store_screens_pending_feedback(
    store_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(store_engine) as session:
        session.add_all(
            FeedbackItem(
                source_kind="call_centre_log",
                text=text,
                received_at=datetime(2026, 11, 20, 9, 0),
                analysis_status="pending",
            )
            for text in ("Caller reports vomiting since the last dose.", "Asked about delivery.")
        )
        session.commit()
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    result = runner.invoke(app, ["analyze", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "analysed 2 feedback item(s), 0 failed; 1 safety case(s) opened (ae 1)" in result.output
    with Session(store_engine) as session:
        assert session.scalar(select(func.count()).select_from(FeedbackAnalysis)) == 2
        assert session.scalar(select(func.count()).select_from(SafetyCase)) == 1
    again = runner.invoke(app, ["analyze"])
    assert "analysed 0 feedback item(s)" in again.output

    queue = runner.invoke(app, ["safety", "queue"])
    assert queue.exit_code == 0 and "1 safety case(s)" in queue.output


def test_safety_commands_export_and_reconcile(
    store_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with Session(store_engine) as session:
        session.add(
            FeedbackItem(
                source_kind="web_form",
                text="My daughter got hives after her injection.",
                received_at=datetime(2026, 11, 20, 9, 0),
                analysis_status="pending",
            )
        )
        session.commit()
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    assert runner.invoke(app, ["analyze"]).exit_code == 0
    with Session(store_engine) as session:
        case_id = session.scalar(select(SafetyCase.id))
    exported = tmp_path / "cases.json"
    refused = runner.invoke(app, ["safety", "export", str(exported), "--format", "e2b"])
    assert refused.exit_code == 1 and "CPXM_TOKEN" in refused.output  # who exports, for the trail
    with Session(store_engine) as session:
        officer = create_user(session, email="pv@example.org", role="pv_officer", password=PASSWORD)
        sales = create_user(session, email="rep@example.org", role="commercial")
        pv_token = create_api_token(session, user=officer).token
        sales_token = create_api_token(session, user=sales).token
        officer_id = officer.id
        session.commit()
    monkeypatch.setenv("CPXM_TOKEN", sales_token)
    signed = ["--meaning", "confirmed as adverse event", "--reason", "valid", "--password-stdin"]
    refused = runner.invoke(app, ["safety", "confirm", str(case_id), *signed], input=PASSWORD)
    assert refused.exit_code == 1 and "may not do this" in refused.output
    monkeypatch.setenv("CPXM_TOKEN", pv_token)
    result = runner.invoke(
        app, ["safety", "export", str(exported), "--format", "e2b", "--status", "all"]
    )
    assert result.exit_code == 0, result.output
    assert '"primarysourcereaction": "hives"' in exported.read_text(encoding="utf-8")
    rejected = runner.invoke(app, ["safety", "reject", str(case_id)])
    assert rejected.exit_code != 0  # a rejection needs its reason
    wrong = runner.invoke(app, ["safety", "confirm", str(case_id), *signed], input="guess\n")
    assert wrong.exit_code == 1 and "password is wrong" in wrong.output
    confirmed = runner.invoke(app, ["safety", "confirm", str(case_id), *signed], input=PASSWORD)
    assert confirmed.exit_code == 0, confirmed.output
    with Session(store_engine) as session:
        case = session.get(SafetyCase, case_id)
        assert case is not None and case.decided_by == officer_id
        actors = set(
            session.scalars(
                select(AuditLogEntry.user_id).where(AuditLogEntry.entity_type == "safety_cases")
            )
        )
        assert actors == {officer_id}  # every change the command made is the officer's
    report = tmp_path / "reconciliation.pdf"
    result = runner.invoke(app, ["safety", "reconcile", str(report), "--from", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert report.read_bytes().startswith(b"%PDF")
    assert "1 safety case(s) from 1 screened feedback item(s)" in result.output
    empty = runner.invoke(
        app, ["safety", "reconcile", str(tmp_path / "r.csv"), "--from", "2027-01-01"]
    )
    assert "Zero events: no feedback item was received in scope" in empty.output
