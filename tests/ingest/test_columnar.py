"""The guard of the one import pipeline. Whole columns must convert every row as the row
converter (the reference for values and reasons) does, for every target; and a file read into
column batches must end exactly as its rows read one by one do: the same records, ledger, report
counts, and quarantined rows with the same numbers and reasons."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from cpxm.analytics.summaries import summary_drift
from cpxm.ingest.column_reader import WHITESPACE, column_batches
from cpxm.ingest.columnar import ColumnConverter
from cpxm.ingest.mapping import ImportMapping, parse_mapping
from cpxm.ingest.models import ImportLedgerEntry, ImportRun, QuarantinedRow
from cpxm.ingest.raw import RawRecord
from cpxm.ingest.readers import read_rows
from cpxm.ingest.rows import RowError
from cpxm.ingest.service import ImportReport, import_file, import_records, load_lookups
from cpxm.interactions.models import Interaction
from cpxm.workspace.models import Product
from tests.ingest.test_bad_input_suite import TARGETS as SUITE
from tests.ingest.test_bad_input_suite import _mapping as suite_mapping
from tests.ingest.test_bad_input_suite import _seed as suite_seed
from tests.ingest.test_service import (
    CALL_MAPPING,
    HCP_MAPPING,
    HCPS,
    _mapping,
    _seed_taxonomy,
    _write,
)

MAPPING: dict[str, Any] = {
    **CALL_MAPPING,
    "fields": {
        **CALL_MAPPING["fields"],
        "interaction_type": {"column": "TYPE", "default": "visit"},
        "direction": "DIRECTION",
        "product": "PRODUCT",
    },
}
HEADER = "CALL_ID;ACCOUNT_ID;WHEN;CHANNEL;TYPE;DIRECTION;PRODUCT;NOTES\n"
LONG_ID = "C" * 201
FIRST = HEADER + (
    'C1;A1;03/02/2025 14:30;F2F;call;inbound;drug_x;"Dosing; ""urgent"".\n\nFollow-up."\n'
    "C2;A1;3/2/2025  9:05;Tel;;;;\n"
    "C3;A9;03/02/2025 15:00;Tel;call;;;unknown account\n"  # no such stakeholder
    "C4;A1;2025-02-04T09:00:00+01:00;tel;;OUTBOUND;;ISO date, read by the row path\n"
    "C5;A1;31/02/2025 10:00;F2F;;;;no such day\n"
    "C6;A1;04/02/2025 11:00;Fax;;;;not in the value map\n"
    ";;;;;;;\n"  # blank: skipped, but counted in the row numbers
    "C7;;04/02/2025 11:00;F2F;;;;no account\n"
    "C8;A1;;F2F;;;;no date\n"
    ";A1;04/02/2025 11:00;F2F;;;;no call id\n"
    'C1;A1;03/02/2025 14:30;F2F;call;inbound;drug_x;"Dosing; ""urgent"".\n\nFollow-up."\n'
    "C9;A1;05/02/2025 08:00;F2F;;;;first say\n"
    "C9;A1;05/02/2025 08:00;F2F;;;;second say\n"  # the same id again, saying otherwise
    "  C10 ; A1 ; 06/02/2025 10:00 ; F2F ;;\u00a0inbound ;DRUG_X; padded \n"
    "C11;A1;06/02/2025 10:00;PHONE;;sideways;;not a direction\n"
    "C12;A1;06/02/2025 10:00;F2F;;;drug_z;unknown product\n"
    f"C13;A1;07/02/2025 10:00;F2F;{'t' * 61};;;type too long\n"
    f"{LONG_ID};A1;07/02/2025 10:00;F2F;;;;source id too long\n"
    f"C14;A1;07/02/2025 10:00;F2F;;;;{'n' * 20_001}\n"
    "C15;A2;29/02/2024 23:59;F2F;;;;leap day\n"
    "\n"  # an empty line, skipped as the blank record is
)
# The same export a day later: C2 changed, C5 corrected, C20 new, C9 and C11 gone.
CHANGED = (
    FIRST.replace("C2;A1;3/2/2025  9:05;Tel;;;;", "C2;A1;3/2/2025  9:05;Tel;;;;called back")
    .replace("31/02/2025 10:00", "28/02/2025 10:00")
    .replace("C9;A1;05/02/2025 08:00;F2F;;;;first say\n", "")
    .replace("C9;A1;05/02/2025 08:00;F2F;;;;second say\n", "")
    .replace("C11;A1;06/02/2025 10:00;PHONE;;sideways;;not a direction\n", "")
    + "C20;A2;08/02/2025 10:00;Tel;;;;new\n"
)
HCPS_WITH_A2 = HCPS + "A2,Bob,Jones,,,USA,\n"  # A2 quarantined, then stored


def _seed(engine: Engine, tmp_path: Path) -> None:
    _seed_taxonomy(engine)
    with Session(engine) as session:
        session.add(
            Product(
                code="drug_x",
                name="Drug X",
                therapeutic_area_code="oncology",
                lifecycle_phase_code="commercial",
            )
        )
        session.commit()
    import_file(
        engine,
        path=_write(tmp_path / "hcps.csv", HCPS_WITH_A2),
        mapping=_mapping(HCP_MAPPING),
    )


def _counts(report: ImportReport) -> tuple[int, ...]:
    return (report.read, report.created, report.updated, report.unchanged, report.quarantined)


def _state(engine: Engine) -> dict[str, Any]:
    """What the interaction imports left: records by source id, and every quarantined row."""
    with Session(engine) as session:
        runs = list(
            session.scalars(
                select(ImportRun.id)
                .where(ImportRun.target == "interactions")
                .order_by(ImportRun.id)
            )
        )
        stored = {
            source_id: (digest, runs.index(run_id), *values)
            for source_id, digest, run_id, *values in session.execute(
                select(
                    ImportLedgerEntry.source_id,
                    ImportLedgerEntry.content_sha256,
                    ImportLedgerEntry.import_run_id,
                    Interaction.stakeholder_id,
                    Interaction.source_record_id,
                    Interaction.occurred_at,
                    Interaction.channel_code,
                    Interaction.department_code,
                    Interaction.interaction_type,
                    Interaction.direction,
                    Interaction.product_code,
                    Interaction.therapeutic_area_code,
                    Interaction.lifecycle_phase_code,
                    Interaction.outcome,
                    Interaction.notes,
                )
                .join(Interaction, Interaction.id == ImportLedgerEntry.entity_id)
                .where(ImportLedgerEntry.target == "interactions")
            )
        }
        quarantined = [
            (runs.index(run_id), row_number, key, raw, reason, status)
            for run_id, row_number, key, raw, reason, status in session.execute(
                select(
                    QuarantinedRow.import_run_id,
                    QuarantinedRow.row_number,
                    QuarantinedRow.source_key,
                    QuarantinedRow.raw,
                    QuarantinedRow.reason,
                    QuarantinedRow.status,
                )
                .where(QuarantinedRow.import_run_id.in_(runs))
                .order_by(QuarantinedRow.id)
            )
        ]
        run_counts = list(
            session.execute(
                select(
                    ImportRun.status,
                    ImportRun.rows_read,
                    ImportRun.rows_created,
                    ImportRun.rows_updated,
                    ImportRun.rows_unchanged,
                    ImportRun.rows_quarantined,
                )
                .where(ImportRun.id.in_(runs))
                .order_by(ImportRun.id)
            )
        )
        interactions = session.scalar(select(func.count()).select_from(Interaction))
        drifted = summary_drift(session).drifted_groups
    return {
        "stored": stored,
        "quarantined": quarantined,
        "runs": [tuple(counts) for counts in run_counts],
        "interactions": interactions,
        "summary_drifted_groups": drifted,  # the analytics' daily counts (kept exact)
    }


def _forget_interactions(engine: Engine) -> None:
    with Session(engine) as session:
        runs = select(ImportRun.id).where(ImportRun.target == "interactions")
        session.execute(delete(QuarantinedRow).where(QuarantinedRow.import_run_id.in_(runs)))
        session.execute(delete(ImportLedgerEntry).where(ImportLedgerEntry.target == "interactions"))
        session.execute(delete(Interaction))
        session.execute(delete(ImportRun).where(ImportRun.target == "interactions"))
        session.commit()


def _by_rows(engine: Engine, path: Path, mapping: ImportMapping, batch_size: int) -> ImportReport:
    """The row-by-row import of ``path``: the reference the column path must match."""
    return import_records(
        engine,
        records=read_rows(path, mapping.file),
        mapping=mapping,
        file_name=path.name,
        batch_size=batch_size,
    )


def _by_columns(
    engine: Engine, path: Path, mapping: ImportMapping, batch_size: int
) -> ImportReport:
    return import_file(engine, path=path, mapping=mapping, batch_size=batch_size)


@pytest.mark.parametrize("batch_size", [4, 1000])
def test_column_import_ends_as_the_row_import_does(
    store_engine: Engine, tmp_path: Path, batch_size: int
) -> None:
    _seed(store_engine, tmp_path)
    mapping = _mapping(MAPPING)
    path = tmp_path / "calls.csv"
    steps = [FIRST, FIRST, CHANGED, CHANGED]
    outcomes: dict[str, list[tuple[tuple[int, ...], dict[str, Any]]]] = {}
    for name, importer in (("rows", _by_rows), ("columns", _by_columns)):
        _forget_interactions(store_engine)
        outcomes[name] = []
        for text in steps:
            report = importer(store_engine, _write(path, text), mapping, batch_size)
            outcomes[name].append((_counts(report), _state(store_engine)))
    for step, (by_rows, by_columns) in enumerate(
        zip(outcomes["rows"], outcomes["columns"], strict=True)
    ):
        assert by_columns[0] == by_rows[0], f"report of step {step}"
        for part in by_rows[1]:
            assert by_columns[1][part] == by_rows[1][part], f"{part} after step {step}"
    # And what they agree on is right: read (blank row skipped), created, updated, unchanged,
    # quarantined; a repeated row counts as written again, its last say stored.
    first, again, changed, changed_again = (counts for counts, _ in outcomes["columns"])
    assert first == (19, 6, 1, 1, 11)
    assert again == (19, 0, 2, 6, 11)  # C9's two says, one after the other
    assert changed == (17, 2, 1, 5, 9)
    assert changed_again == (17, 0, 0, 8, 9)
    assert all(state["summary_drifted_groups"] == 0 for _, state in outcomes["columns"])
    state = outcomes["columns"][0][1]
    reasons = {row_number: reason for _, row_number, _, _, reason, _ in state["quarantined"]}
    assert sorted(reasons) == [4, 6, 7, 9, 10, 11, 16, 17, 18, 19, 20]
    assert reasons[4] == (
        "row 4: column 'ACCOUNT_ID' is 'A9', but no stakeholder has that id in source system "
        "'crm'; import that system's stakeholders first, or correct the id"
    )
    assert reasons[6] == (
        "row 6: column 'WHEN' is '31/02/2025 10:00', expected a date like 31/12/2024 14:30"
    )
    assert reasons[7].startswith("row 7: column 'CHANNEL' is 'Fax', which is not a known")
    assert reasons[9] == "row 9: column 'ACCOUNT_ID' is empty, and 'stakeholder' is required"
    assert reasons[10] == "row 10: column 'WHEN' is empty, and 'occurred_at' is required"
    assert reasons[11] == (
        "row 11: column 'CALL_ID' is empty; it is the source id and must be given"
    )
    assert reasons[19] == "row 19: the source id is 201 characters long; at most 200 fit"
    stored = state["stored"]
    assert stored["C1"][-1] == 'Dosing; "urgent".\n\nFollow-up.'
    assert stored["C9"][-1] == "second say"
    c10 = stored["C10"]
    assert (c10[7], c10[8], c10[9], c10[-1]) == ("visit", "inbound", "drug_x", "padded")
    assert stored["C2"][4].isoformat() == "2025-02-03T09:05:00"
    assert stored["C4"][4].isoformat() == "2025-02-04T08:00:00"
    assert outcomes["columns"][2][1]["stored"]["C2"][-1] == "called back"
    statuses = [status for *_, status in outcomes["columns"][-1][1]["quarantined"]]
    # C5, corrected, is resolved; the row without a call id is open once, from the last import.
    assert (statuses.count("open"), statuses.count("resolved")) == (10, 1)


def _as_format(path: Path, text: str, file_format: str) -> Path:
    """The CSV ``text``'s records written as JSON Lines or Parquet (every value a string)."""
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    header, records = rows[0], [row for row in rows[1:] if row]
    values = [dict(zip(header, (value or None for value in row), strict=True)) for row in records]
    path = path.with_suffix(f".{file_format}")
    if file_format == "jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in values), encoding="utf-8")
    else:
        columns = {name: pa.array([row[name] for row in values], pa.string()) for name in header}
        pq.write_table(pa.table(columns), path)
    return path


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_json_lines_and_parquet_take_the_column_path_to_the_same_end(
    store_engine: Engine, tmp_path: Path, file_format: str
) -> None:
    _seed(store_engine, tmp_path)
    mapping = _mapping(MAPPING)
    outcomes: dict[str, list[tuple[tuple[int, ...], dict[str, Any]]]] = {}
    for name, importer in (("rows", _by_rows), ("columns", _by_columns)):
        _forget_interactions(store_engine)
        outcomes[name] = []
        for text in [FIRST, FIRST, CHANGED, CHANGED]:
            path = _as_format(tmp_path / "calls", text, file_format)
            report = importer(store_engine, path, mapping, 4)
            outcomes[name].append((_counts(report), _state(store_engine)))
    assert outcomes["columns"] == outcomes["rows"]
    assert [counts for counts, _ in outcomes["columns"]] == [
        (19, 6, 1, 1, 11),
        (19, 0, 2, 6, 11),
        (17, 2, 1, 5, 9),
        (17, 0, 0, 8, 9),
    ]


def test_column_dry_run_reports_like_the_import_and_writes_nothing(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed(store_engine, tmp_path)
    mapping = _mapping(MAPPING)
    path = _write(tmp_path / "calls.csv", FIRST)
    dry = import_file(store_engine, path=path, mapping=mapping, dry_run=True)
    assert _state(store_engine) == {
        "stored": {},
        "quarantined": [],
        "runs": [],
        "interactions": 0,
        "summary_drifted_groups": 0,
    }
    real = import_file(store_engine, path=path, mapping=mapping)
    assert _counts(dry) == _counts(real) == (19, 6, 1, 1, 11)


def _records(path: Path, mapping: ImportMapping, batch_size: int) -> list[Any]:
    records: list[Any] = []
    for batch in column_batches(path, mapping, batch_size):
        records.extend(
            (r.row_number, r.values, r.problem) for r in batch.records(np.arange(len(batch)))
        )
    return records


SHAPE_MAPPING: dict[str, Any] = {
    **MAPPING,
    "source_id": "ID",
    "fields": {
        "stakeholder": "A",
        "occurred_at": "W",
        "channel": "C",
        "department": {"value": "s"},
    },
}
CSV_SHAPES = {
    "quotes": 'ID,A,W,C\n1,a"b,"x""y",z\n2,"ab"cd, "q" ,"p" \n3,"",,\n',
    "newlines in values": 'ID,A,W,C\r\n1,"a\nb",x,y\r\n2,"c\r\nd",x,y\r\n',
    "carriage returns": "ID,A,W,C\r1,a,b,c\r2,d,e,f\r",
    "unicode spaces": "ID,A,W,C\n1,\u00a0a\u3000,\x1cb\x1d, x\u2028\n2,\x0b,\x0c,\x85\n",
    "blank record": "ID,A,W,C\n1,a,b,c\n,,,\n2,a,b,c",
    "byte order mark": "\ufeffID,A,W,C\n1,a,b,c\n",
    "quoted header": '"ID","A","W","C"\n1,a,b,c\n',
    "unterminated quote": 'ID,A,W,C\n1,"ab,c,d\n2,b,c,d\n',
    "blank lines": 'ID,A,W,C\n1,a,b,c\n\n2,a,b,c\r\n\r\n3,"x\n\ny",b,c\n\n\n',
    "short row": "ID,A,W,C\n1,a,b,c\n2,a\n3,a,b,c\n",
    "long row": "ID,A,W,C\n1,a,b,c\n2,a,b,c,d\n3,a,b,c,\n",
}


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
@pytest.mark.parametrize("shape", sorted(CSV_SHAPES))
def test_column_batches_read_what_the_row_reader_reads(
    tmp_path: Path, shape: str, encoding: str
) -> None:
    mapping = _mapping(SHAPE_MAPPING)
    path = tmp_path / "shape.csv"
    try:
        path.write_bytes(CSV_SHAPES[shape].encode(encoding))
    except UnicodeEncodeError:
        pytest.skip(f"{encoding} cannot write this shape")
    expected = [(r.row_number, r.values, r.problem) for r in read_rows(path, mapping.file)]
    assert _records(path, mapping, 2) == expected


def test_a_record_pyarrow_cannot_split_hands_the_rest_to_the_row_reader(tmp_path: Path) -> None:
    mapping = _mapping(SHAPE_MAPPING)
    lines = ["ID,A,W,C"]
    for number in range(60_000):
        if number == 20_000:
            lines.append(",,,")
        elif number == 30_000:
            lines.append('q,"two\nlines",x,y')
        elif number == 45_000:
            lines.append("short,row")
        else:
            lines.append(f"{number},account{number % 100},2024-01-01,phone")
    path = _write(tmp_path / "big.csv", "\n".join(lines) + "\n")
    expected = [(r.row_number, r.values, r.problem) for r in read_rows(path, mapping.file)]
    assert _records(path, mapping, 5_000) == expected
    assert expected[-1][0] == 60_001


def test_the_column_path_strips_what_str_strip_strips() -> None:
    assert "".join(chr(code) for code in range(0x110000) if chr(code).isspace()) == WHITESPACE


JSONL_MAPPING: dict[str, Any] = {
    "source_system": "crm",
    "target": "stakeholders",
    "source_id": "ID",
    "fields": {"type": {"value": "hcp"}, "first_name": "A"},
}
JSONL_SHAPES = {
    "strings": '{"ID": "1", "A": " a ", "W": "2024-01-01T10:00:00", "C": "x"}\n' * 3,
    "numbers and booleans": '{"ID": 1, "A": true, "W": false, "C": -7}\n{"ID": 2, "A": null}\n',
    "blank lines": '\n{"ID": "1", "A": "a"}\n\n  \n{"ID": "2", "A": "b"}\r\n\r\n',
    "a key seen late": '{"ID": "1"}\n{"ID": "2", "A": "a", "W": "w", "C": "c"}\n',
    "decimals": '{"ID": 1, "A": 1.5, "W": 2.0, "C": 1e16}\n',
    "nested": '{"ID": 1, "A": {"b": [1, "x"]}, "W": [], "C": "c"}\n',
    "bad lines": '{"ID": "1"}\n{"ID": NaN}\n[1]\n{"ID": "\\ud800"}\n{bad\n{"ID": "6", "A": "a"}\n',
    "escapes": '{"ID": "1", "A": "caf\\u00e9 \\"q\\" \\n", "W": "\\u0000"}\n',
    "duplicate keys": '{"ID": "1", "A": "first", "A": "second"}\n',
}


def _filled(records: list[Any]) -> list[Any]:
    """Records with every key of the mapping's columns, a key left out as empty."""
    columns = {"ID", "A", "W", "C"}
    return [
        (
            number,
            values if problem else {c: values.get(c) for c in sorted(columns | set(values))},
            problem,
        )
        for number, values, problem in records
    ]


@pytest.mark.parametrize("shape", sorted(JSONL_SHAPES))
def test_json_lines_column_batches_read_what_the_row_reader_reads(
    tmp_path: Path, shape: str
) -> None:
    mapping = _mapping(JSONL_MAPPING)
    path = tmp_path / "shape.jsonl"
    path.write_text(JSONL_SHAPES[shape], encoding="utf-8")
    expected = [(r.row_number, r.values, r.problem) for r in read_rows(path, mapping.file)]
    assert _filled(_records(path, mapping, 100)) == _filled(expected)


def _suite_rows(target: str) -> list[dict[str, str | None]]:
    spec = SUITE[target]
    good: dict[str, str | None] = {"id": "G1", **spec.good}
    rows = [good, {**good, "id": None}, {**good, "id": "L" * 201}, dict.fromkeys(good)]
    rows += [{**good, "id": f"B{n}", **change} for n, (change, _) in enumerate(spec.bad)]
    # Every optional cell empty in turn: its default, nothing, or the required field's error.
    rows += [{**good, "id": f"E{n}", column: None} for n, column in enumerate(spec.good)]
    return rows


# Fields the column path converts per distinct value: several columns joined, a system per
# row, and a source id of two columns.
WIDE_MAPPING: dict[str, Any] = {
    **MAPPING,
    "source_id": ["CALL_ID", "TYPE"],
    "fields": {
        **MAPPING["fields"],
        "stakeholder": {"column": "ACCOUNT_ID", "source_system_column": "SYSTEM"},
        "notes": {"column": ["NOTES", "DIRECTION"]},
    },
}


def _converted_as_by_rows(engine: Engine, mapping: ImportMapping, records: list[Any]) -> None:
    with Session(engine) as session:
        converter = ColumnConverter(mapping, load_lookups(session))
    converted = converter.records(records)
    fast = np.flatnonzero(converted.fast)
    assert len(fast), "the columns convert some rows"
    by_columns = dict(zip(fast.tolist(), converted.rows(fast), strict=True))
    for position, record in enumerate(records):
        try:
            expected: Any = converter.explain(record.values)
        except RowError as failure:
            expected = str(failure)
        found = by_columns.get(position, converted.explained.get(position))
        assert found == expected, (position, record.values)


@pytest.mark.parametrize("target", sorted(SUITE))
def test_columns_convert_every_row_as_the_row_converter_does(
    store_engine: Engine, tmp_path: Path, target: str
) -> None:
    suite_seed(store_engine, tmp_path)
    mapping = parse_mapping(suite_mapping(target))
    records = [RawRecord(n + 2, row) for n, row in enumerate(_suite_rows(target))]
    _converted_as_by_rows(store_engine, mapping, records)


@pytest.mark.parametrize("raw_mapping", [MAPPING, WIDE_MAPPING], ids=["calls", "wide"])
def test_columns_convert_a_crm_export_as_the_row_converter_does(
    store_engine: Engine, tmp_path: Path, raw_mapping: dict[str, Any]
) -> None:
    _seed(store_engine, tmp_path)
    text = FIRST.replace(HEADER, HEADER.replace("NOTES", "NOTES;SYSTEM"))
    lines = text.splitlines(keepends=True)
    systems = ["", "crm", "other", "crm"]
    text = lines[0] + "".join(
        line.rstrip("\n") + f";{systems[n % 4]}\n" if line.strip() else line
        for n, line in enumerate(lines[1:])
    )
    path = _write(tmp_path / "calls.csv", text)
    mapping = _mapping(raw_mapping)
    _converted_as_by_rows(store_engine, mapping, list(read_rows(path, mapping.file)))
