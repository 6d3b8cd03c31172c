"""One bad-input suite for every target and every format: each row ends stored or quarantined
with a reason a person can act on, nothing is lost, and importing the same file again changes
nothing. A file that cannot be read at all fails before its first row, saying why."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cpxm.feedback.models import FeedbackItem
from cpxm.identity.models import SourceRecord
from cpxm.ingest.mapping import parse_mapping
from cpxm.ingest.models import DataQualityIssue, ImportLedgerEntry, QuarantinedRow
from cpxm.ingest.raw import ReadError
from cpxm.ingest.service import ImportReport, import_file
from cpxm.interactions.models import Interaction
from cpxm.outcomes.models import KpiValue
from cpxm.stakeholders.models import Affiliation, Consent
from cpxm.surveys.models import Response
from tests.factories import make_taxonomy
from tests.surveys.helpers import make_example_survey

Row = dict[str, str | None]
FORMATS = ("csv", "jsonl", "xlsx", "parquet")
# The first data row's number: a header is row 1; JSON Lines and Parquet count from 1.
FIRST_ROW = {"csv": 2, "jsonl": 1, "xlsx": 2, "parquet": 1}
CRM = {"source_system": "crm"}


@dataclass(frozen=True)
class Target:
    mapping: dict[str, Any]
    good: Row  # a row that is stored; "id" is the source id
    bad: list[tuple[Row, str]]  # changes that make it fail, and what the reason says
    model: type[Any]  # the table its records go to
    text_column: str  # a free-text column, to hold what text cannot
    # Changes to an optional attribute that is blanked and logged (``on_invalid: blank``): the
    # row is stored without it, and what the issue says.
    blanked: tuple[tuple[Row, str], ...] = ()


TARGETS: dict[str, Target] = {
    "stakeholders": Target(
        {
            "fields": {
                "type": "kind",
                "first_name": "first",
                "last_name": "last",
                "email": "email",
                "birth_date": "born",
                "country": "country",
            }
        },
        {
            "kind": "hcp",
            "first": "Anna",
            "last": "Schmidt",
            "email": "anna@example.org",
            "born": "1970-05-01",
            "country": "DE",
        },
        [
            ({"kind": "Dentist"}, "column 'kind' is 'Dentist', expected one of: hcp, patient"),
            ({"kind": None}, "column 'kind' is empty, and 'type' is required"),
            ({"email": "anna(at)example"}, "column 'email' is 'anna(at)example', expected an"),
            ({"country": "Narnia"}, "column 'country' is 'Narnia', which is not a known"),
            ({"first": "F" * 121}, "column 'first' is 121 characters long; 'first_name' takes"),
        ],
        SourceRecord,
        "last",
        (
            ({"born": "31/02/1970"}, "column 'born' is '31/02/1970', expected an ISO 8601 date"),
            ({"born": "19450493"}, "column 'born' is '19450493', expected an ISO 8601 date"),
        ),
    ),
    "interactions": Target(
        {
            "fields": {
                "stakeholder": {"column": "account", **CRM},
                "occurred_at": "when",
                "channel": "channel",
                "department": {"value": "sales"},
                "notes": "notes",
            }
        },
        {"account": "A1", "when": "2025-02-03T14:30:00", "channel": "phone", "notes": "Called"},
        [
            ({"account": "NOPE"}, "column 'account' is 'NOPE', but no stakeholder has that id"),
            ({"account": None}, "column 'account' is empty, and 'stakeholder' is required"),
            ({"when": "yesterday"}, "column 'when' is 'yesterday', expected an ISO 8601 date"),
            ({"when": "2025-13-01"}, "column 'when' is '2025-13-01', expected an ISO 8601"),
            ({"channel": "fax"}, "column 'channel' is 'fax', which is not a known channels"),
            ({"notes": "n" * 20_001}, "column 'notes' is 20001 characters long; 'notes' takes"),
        ],
        Interaction,
        "notes",
    ),
    "consents": Target(
        {
            "fields": {
                "stakeholder": {"column": "account", **CRM},
                "purpose": "purpose",
                "status": "status",
                "recorded_at": "recorded",
                "channel": "channel",
            }
        },
        {
            "account": "A1",
            "purpose": "survey",
            "status": "granted",
            "recorded": "2025-01-01",
            "channel": "email",
        },
        [
            ({"purpose": "spam"}, "column 'purpose' is 'spam', expected one of: survey"),
            ({"status": "maybe"}, "column 'status' is 'maybe', expected one of: granted"),
            ({"recorded": "01.01.2025"}, "column 'recorded' is '01.01.2025', expected an ISO"),
            ({"channel": "fax"}, "column 'channel' is 'fax', which is not a known channels"),
            ({"account": "O9"}, "column 'account' is 'O9', but no stakeholder has that id"),
        ],
        Consent,
        "purpose",
    ),
    "feedback": Target(
        {
            "fields": {
                "text": "text",
                "received_at": "received",
                "source_kind": "kind",
                "stakeholder": {"column": "account", **CRM},
                "language": "lang",
            }
        },
        {
            "text": "Helpful call",
            "received": "2025-02-03 10:00:00",
            "kind": "call_note",
            "account": "A1",
            "lang": "en",
        },
        [
            ({"text": None}, "column 'text' is empty, and 'text' is required"),
            ({"text": "t" * 20_001}, "column 'text' is 20001 characters long; 'text' takes"),
            ({"kind": "tweet"}, "column 'kind' is 'tweet', expected one of: survey_comment"),
            ({"received": "2025-02-30"}, "column 'received' is '2025-02-30', expected an ISO"),
            ({"lang": "english-uk"}, "column 'lang' is 10 characters long; 'language' takes"),
            ({"account": "NOPE"}, "column 'account' is 'NOPE', but no stakeholder has that id"),
        ],
        FeedbackItem,
        "text",
    ),
    "affiliations": Target(
        {
            "fields": {
                "person": {"column": "person", **CRM},
                "organisation": {"column": "org", **CRM},
                "role": "role",
                "started_on": "started",
            }
        },
        {"person": "A1", "org": "O1", "role": "consultant", "started": "2020-01-01"},
        [
            ({"person": "O1"}, "column 'person' is 'O1', which names an organisation; expected"),
            ({"org": "A1"}, "column 'org' is 'A1', which names a person; expected an organisation"),
            ({"org": "NOPE"}, "column 'org' is 'NOPE', but no stakeholder has that id"),
            ({"role": None}, "column 'role' is empty, and 'role' is required"),
            ({"role": "r" * 81}, "column 'role' is 81 characters long; 'role' takes at most 80"),
            ({"started": "2020-1-1"}, "column 'started' is '2020-1-1', expected an ISO 8601"),
        ],
        Affiliation,
        "role",
    ),
    "kpis": Target(
        {
            "fields": {
                "kpi": "kpi",
                "period_start": "start",
                "period_end": "end",
                "value": "value",
                "stakeholder": {"column": "account", **CRM},
                "unit": "unit",
            }
        },
        {
            "kpi": "prescriptions",
            "start": "2025-01-01",
            "end": "2025-01-31",
            "value": "12",
            "account": "A1",
            "unit": "packs",
        },
        [
            ({"value": "12,5"}, "column 'value' is '12,5', expected a number such as 1234.5"),
            ({"value": "twelve"}, "column 'value' is 'twelve', expected a number such as"),
            ({"value": "NaN"}, "column 'value' is 'NaN', expected a number such as 1234.5"),
            ({"value": "1e400"}, "column 'value' is '1e400', expected a number such as 1234.5"),
            ({"value": None}, "column 'value' is empty, and 'value' is required"),
            ({"end": "2024-12-31"}, "the period ends (2024-12-31) before it starts (2025-01-01)"),
            ({"start": "January"}, "column 'start' is 'January', expected an ISO 8601 date"),
        ],
        KpiValue,
        "unit",
    ),
    "responses": Target(
        {
            "fields": {
                "survey": {"value": "hcp_pulse"},
                "submitted_at": "submitted",
                "respondent": {"column": "account", **CRM},
            },
            "answers": {"nps": "nps", "reason": "comment"},
        },
        {"submitted": "2025-02-03T10:00:00", "account": "A1", "nps": "9", "comment": "Helpful"},
        [
            ({"nps": "11"}, "column 'nps' is '11', but question 'nps' (nps) is answered 0 to 10"),
            ({"nps": "ten"}, "column 'nps' is 'ten', not a number; question 'nps' (nps)"),
            ({"nps": "9.5"}, "column 'nps' is '9.5'; question 'nps' (nps) is answered 0 to 10"),
            ({"submitted": "soon"}, "column 'submitted' is 'soon', expected an ISO 8601 date"),
            ({"account": "NOPE"}, "column 'account' is 'NOPE', but no stakeholder has that id"),
        ],
        Response,
        "comment",
    ),
}


def _mapping(target: str) -> dict[str, Any]:
    return {
        "name": f"suite-{target}",
        "source_system": "suite",
        "target": target,
        "source_id": "id",
        **TARGETS[target].mapping,
    }


def _seed(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as session:
        make_taxonomy(session)
        make_example_survey(session)
        session.commit()
    people = tmp_path / "crm.csv"
    people.write_text("id,kind,name\nA1,hcp,Anna Schmidt\nO1,hospital,City Hospital\n")
    crm = {
        "source_system": "crm",
        "target": "stakeholders",
        "source_id": "id",
        "fields": {"type": "kind", "name": "name"},
    }
    report = import_file(engine, path=people, mapping=parse_mapping(crm))
    assert report.created == 2


def _write(path: Path, file_format: str, header: list[str], rows: list[Row]) -> Path:
    """``rows`` in ``file_format``; a row of None only is a blank one (a blank line)."""
    path = path.with_suffix(f".{file_format}")
    if file_format == "csv":
        with path.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream, delimiter=";")
            writer.writerow(header)
            writer.writerows([row.get(column) for column in header] for row in rows)
    elif file_format == "jsonl":
        records = [{column: row.get(column) for column in header} for row in rows]
        lines = [json.dumps(record) if any(record.values()) else "" for record in records]
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    elif file_format == "xlsx":
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.append(header)
        for row in rows:
            sheet.append([row.get(column) for column in header])
        workbook.save(path)
    else:
        columns = {column: [row.get(column) for row in rows] for column in header}
        pq.write_table(
            pa.table(columns, schema=pa.schema([(c, pa.string()) for c in header])), path
        )
    return path


def _counts(report: ImportReport) -> tuple[int, int, int, int, int]:
    return (report.read, report.created, report.updated, report.unchanged, report.quarantined)


def _snapshot(engine: Engine, target: str) -> dict[str, Any]:
    """What the suite's imports left in the store."""
    with Session(engine) as session:
        ledger = sorted(
            session.execute(
                select(
                    ImportLedgerEntry.source_id,
                    ImportLedgerEntry.entity_id,
                    ImportLedgerEntry.content_sha256,
                ).where(ImportLedgerEntry.source_system == "suite")
            ).all()
        )
        records = session.scalar(select(func.count()).select_from(TARGETS[target].model))
        open_rows = sorted(
            session.execute(
                select(QuarantinedRow.row_number, QuarantinedRow.reason).where(
                    QuarantinedRow.status == "open"
                )
            ).all()
        )
        issues = list(
            session.execute(
                select(
                    DataQualityIssue.source_key, DataQualityIssue.reason, DataQualityIssue.status
                ).order_by(DataQualityIssue.id)
            ).all()
        )
    return {"ledger": ledger, "records": records, "open": open_rows, "issues": issues}


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_row_is_stored_or_quarantined_and_a_second_import_changes_nothing(
    store_engine: Engine, tmp_path: Path, target: str, file_format: str
) -> None:
    _seed(store_engine, tmp_path)
    spec = TARGETS[target]
    header = ["id", *spec.good]
    good = {"id": "G1", **spec.good}
    text = spec.text_column
    rows: list[tuple[Row, str | None]] = [
        (good, None),
        ({**good, "id": "G2"}, None),
        ({**good, "id": " G3 ", text: f"  {good[text]}\t"}, None),  # padding is stripped
        (dict.fromkeys(header), None),  # blank: skipped
        ({**good, "id": None}, "column 'id' is empty; it is the source id and must be given"),
        ({**good, "id": "L" * 201}, "the source id is 201 characters long; at most 200 fit"),
        (good, None),  # the same row again: unchanged
    ]
    if file_format != "xlsx":  # a workbook cannot hold a NUL character at all
        rows.append(({**good, "id": "N1", text: "a\x00b"}, f"column '{text}' contains a NUL"))
    rows += [({**good, "id": f"B{n}", **change}, why) for n, (change, why) in enumerate(spec.bad)]
    blanked = [
        ({**good, "id": f"Q{n}", **change}, why) for n, (change, why) in enumerate(spec.blanked)
    ]
    path = _write(
        tmp_path / f"{target}-export",
        file_format,
        header,
        [row for row, _ in rows] + [row for row, _ in blanked],
    )
    mapping = parse_mapping(_mapping(target))

    first = import_file(store_engine, path=path, mapping=mapping)

    quarantined = sum(why is not None for _, why in rows)
    read = len(rows) - 1 + len(blanked)
    assert _counts(first) == (read, 3 + len(blanked), 0, 1, quarantined), _snapshot(
        store_engine, target
    )["open"]
    assert first.blanked == len(blanked)
    stored = _snapshot(store_engine, target)
    stored_ids = ["G1", "G2", "G3", *(f"Q{n}" for n in range(len(blanked)))]
    assert [source_id for source_id, *_ in stored["ledger"]] == stored_ids
    reasons = dict(stored["open"])
    for position, (_, why) in enumerate(rows):
        row_number = FIRST_ROW[file_format] + position
        if why is None:
            assert row_number not in reasons
        else:
            assert reasons[row_number].startswith(f"row {row_number}: {why}"), reasons[row_number]
    assert len(reasons) == quarantined
    issues = stored["issues"]
    assert [(source_key, status) for source_key, _, status in issues] == [
        (f"Q{n}", "open") for n in range(len(blanked))
    ]
    for position, ((_, why), (_, reason, _)) in enumerate(zip(blanked, issues, strict=True)):
        row_number = FIRST_ROW[file_format] + len(rows) + position
        assert reason.startswith(f"row {row_number}: {why}"), reason

    again = import_file(store_engine, path=path, mapping=mapping)
    assert _counts(again) == (read, 0, 0, 4 + len(blanked), quarantined)
    assert _snapshot(store_engine, target) == stored


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_empty_files_import_nothing_and_missing_columns_fail_before_any_row(
    store_engine: Engine, tmp_path: Path, target: str, file_format: str
) -> None:
    _seed(store_engine, tmp_path)
    spec = TARGETS[target]
    mapping = parse_mapping(_mapping(target))
    header = ["id", *spec.good]
    good = {"id": "G1", **spec.good}

    empty = tmp_path / f"empty.{file_format}"
    empty.write_bytes(b"")
    if file_format in ("csv", "jsonl"):
        assert _counts(import_file(store_engine, path=empty, mapping=mapping)) == (0, 0, 0, 0, 0)
    else:
        kind = r"\.xlsx workbook" if file_format == "xlsx" else "Parquet file"
        with pytest.raises(ReadError, match=f"empty.{file_format} is not a readable {kind}"):
            import_file(store_engine, path=empty, mapping=mapping)

    header_only = _write(tmp_path / "header-only", file_format, header, [])
    report = import_file(store_engine, path=header_only, mapping=mapping)
    assert _counts(report) == (0, 0, 0, 0, 0)

    # A mapped column the file lacks (for JSON Lines: no record of its first batch names the
    # key): nothing is read. A key some JSON records leave out is empty in those records.
    missing = spec.text_column
    narrow = [column for column in header if column != missing]
    lacking = _write(tmp_path / "lacking", file_format, narrow, [good, {**good, "id": "G2"}])
    with pytest.raises(ReadError, match=f"lacking.{file_format} has no column '{missing}'"):
        import_file(store_engine, path=lacking, mapping=mapping)
    assert _snapshot(store_engine, target)["ledger"] == []
    if file_format != "jsonl":  # a header of its own, checked even without a row under it
        unread = _write(tmp_path / "header-only", file_format, narrow, [])
        with pytest.raises(ReadError, match=f"header-only.{file_format} has no column"):
            import_file(store_engine, path=unread, mapping=mapping)
