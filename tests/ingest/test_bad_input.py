"""Bad input loses nothing: a broken row is quarantined alone, with a reason, and the rows around
it are stored. Through the service and through `cpxm import` in a fresh process, on both
engines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cpxm.identity.models import SourceRecord
from cpxm.ingest.models import QuarantinedRow
from cpxm.ingest.service import ImportReport, import_file
from cpxm.interactions.models import Interaction
from tests.conftest import url_of
from tests.ingest.test_service import (
    CALL_MAPPING,
    HCP_MAPPING,
    HCPS,
    _mapping,
    _seed_taxonomy,
    _write,
)

PEOPLE_MAPPING: dict[str, Any] = {
    "source_system": "crm",
    "target": "stakeholders",
    "source_id": "id",
    "fields": {"type": {"value": "hcp"}, "first_name": "first", "last_name": "last"},
}
CALLS_HEADER = "CALL_ID;ACCOUNT_ID;WHEN;CHANNEL;NOTES\n"
# The call-centre export of the issue: row 1's quote is never closed.
UNCLOSED = CALLS_HEADER + (
    'C1;A1;03/02/2025 14:30;F2F;"Caller upset, wants a call back\n'
    "C2;A1;03/02/2025 15:00;Tel;second\n"
    "C3;A1;03/02/2025 16:00;Tel;third\n"
    "C4;A1;03/02/2025 17:00;F2F;fourth\n"
)
UNCLOSED_REASON = (
    "row 2: (line 2) opens a quoted value with '\"' that is never closed: lines 3-5 would have "
    "become part of its last value; quarantined alone, and reading went on at line 3. Close "
    'the quote (a quote inside a quoted value is written twice: "")'
)
MIXED = (
    CALLS_HEADER.encode()
    + "C1;A1;03/02/2025 14:30;F2F;Jörg called\n".encode()
    + "C2;A1;03/02/2025 15:00;Tel;Jörg called again – twice\n".encode("cp1252")
    + b"C3;A1;03/02/2025 16:00;Tel;byte \x81 is in no encoding tried\n"
    + "C4;A1;03/02/2025 17:00;F2F;Zoë, in UTF-8 again\n".encode()
)
MIXED_REASON = (
    "row 4: cannot be decoded: byte 0x81 in column 'NOTES' is not UTF-8 or Windows-1252 text; "
    "set file.encoding in the mapping to the encoding this row was written in"
)


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


JSONL_LINES: list[tuple[bytes, str | None]] = [
    (b'{"id": "P1", "first": "Anna", "last": "Schmidt"}', None),
    (_deep(5000).encode(), "is nested too deeply to read"),
    (b'{"id": "P2", "first": "x", "last": ' + _deep(5000).encode() + b"}", "nested too deeply"),
    (b'{"id": "P3", "first": NaN, "last": "Weber"}', "holds NaN, which is not a number JSON"),
    (b'{"id": "P4", "first": Infinity, "last": "Weber"}', "holds Infinity"),
    (b'{"id": "P5", "first": -Infinity, "last": "Weber"}', "holds -Infinity"),
    (b'{"id": "P6", "first": 1e400, "last": "Weber"}', "holds the number 1e400, too large"),
    (b'{"id": "P7", "first": "\\ud800", "last": "Weber"}', "holds a lone surrogate (\\ud800)"),
    (b'{"id": "P8", "first": "a\\u0000b", "last": "Weber"}', "contains a NUL character"),
    (b'{"id": "P9", "first": "Ben", "last": ', "is not valid JSON (Expecting value"),
    (b"[1, 2]", "is not a JSON object"),
    (b'"just text"', "is not a JSON object"),
    ('{"id": "P10", "first": "Jörg", "last": "Müller"}'.encode("latin-1"), None),
    (b'{"id": "P11", "first": "Emoji \\ud83d\\ude00", "last": "Weber"}', None),
    (b'{"id": "P12", "first": "Ben", "last": "Weber"}', None),
]


def _jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "people.jsonl"
    path.write_bytes(b"\n".join(line for line, _ in JSONL_LINES) + b"\n")
    return path


def _counts(report: ImportReport) -> tuple[int, int, int, int, int]:
    return (report.read, report.created, report.updated, report.unchanged, report.quarantined)


def _reasons(engine: Engine) -> dict[int, str]:
    with Session(engine) as session:
        return {
            row.row_number: row.reason
            for row in session.scalars(
                select(QuarantinedRow).where(QuarantinedRow.status == "open")
            )
        }


def _notes(engine: Engine) -> dict[str, str | None]:
    with Session(engine) as session:
        stored = session.execute(select(Interaction.occurred_at, Interaction.notes)).all()
    return {when.strftime("%H:%M"): notes for when, notes in stored}


def _seed_accounts(engine: Engine, tmp_path: Path) -> None:
    _seed_taxonomy(engine)
    anna = "".join(HCPS.splitlines(keepends=True)[:2])  # A1 only: nothing quarantined
    import_file(engine, path=_write(tmp_path / "hcps.csv", anna), mapping=_mapping(HCP_MAPPING))


def _cli_import(engine: Engine, path: Path, mapping: dict[str, Any]) -> tuple[int, str]:
    """`cpxm import` in a process of its own, as a user runs it."""
    mapping_file = path.with_suffix(".yaml")
    mapping_file.write_text(json.dumps(mapping), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "cpxm", "import", str(path), "-m", str(mapping_file)],
        env={**os.environ, "CPXM_DATABASE_URL": url_of(engine)},
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, " ".join((result.stdout + result.stderr).split())


@pytest.mark.parametrize("target", ["interactions", "stakeholders"])
def test_an_unclosed_quote_quarantines_its_row_and_the_rows_after_it_are_stored(
    store_engine: Engine, tmp_path: Path, target: str
) -> None:
    _seed_accounts(store_engine, tmp_path)
    if target == "interactions":
        mapping, text = CALL_MAPPING, UNCLOSED
    else:
        # The same shape through the row-by-row writer of another target.
        mapping = {**PEOPLE_MAPPING, "source_id": "CALL_ID"}
        mapping["fields"] = {"type": {"value": "hcp"}, "first_name": "ACCOUNT_ID", "name": "NOTES"}
        text = UNCLOSED
    path = _write(tmp_path / "calls.csv", text)
    first = import_file(store_engine, path=path, mapping=_mapping(mapping))
    assert _counts(first) == (4, 3, 0, 0, 1)
    assert _reasons(store_engine) == {2: UNCLOSED_REASON}
    with Session(store_engine) as session:
        raw = session.scalars(select(QuarantinedRow.raw)).one()
    # The row as its own line says it, so it can be corrected and replayed.
    assert raw["NOTES"] == "Caller upset, wants a call back"
    again = import_file(store_engine, path=path, mapping=_mapping(mapping))
    assert _counts(again) == (4, 0, 0, 3, 1)
    if target == "interactions":
        assert _notes(store_engine) == {"15:00": "second", "16:00": "third", "17:00": "fourth"}


def test_a_quote_closed_lines_later_by_another_rows_quote_is_caught_too(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed_accounts(store_engine, tmp_path)
    text = CALLS_HEADER + (
        'C1;A1;03/02/2025 14:30;F2F;"Caller upset\n'
        "C2;A1;03/02/2025 15:00;Tel;second\n"
        'C3;A1;03/02/2025 16:00;Tel;"quoted" third\n'
        'C4;A1;03/02/2025 17:00;F2F;"a quoted note\nover two lines"\n'
    )
    path = _write(tmp_path / "calls.csv", text)
    report = import_file(store_engine, path=path, mapping=_mapping(CALL_MAPPING))
    assert _counts(report) == (4, 3, 0, 0, 1)
    assert _reasons(store_engine)[2].startswith(
        "row 2: (line 2) opens a quoted value with '\"' that is never closed: lines 3-4 would"
    )
    assert _notes(store_engine) == {
        "15:00": "second",
        "16:00": "quoted third",  # a quote closed inside a value, as spreadsheets read it
        "17:00": "a quoted note\nover two lines",
    }


def test_rows_of_a_file_mixing_encodings_are_decoded_one_by_one(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed_accounts(store_engine, tmp_path)
    path = tmp_path / "calls.csv"
    path.write_bytes(MIXED)
    report = import_file(store_engine, path=path, mapping=_mapping(CALL_MAPPING))
    assert _counts(report) == (4, 3, 0, 0, 1)
    assert _notes(store_engine) == {
        "14:30": "Jörg called",
        "15:00": "Jörg called again – twice",
        "17:00": "Zoë, in UTF-8 again",
    }
    assert _reasons(store_engine) == {4: MIXED_REASON}
    # Declared, an encoding is the only one tried: the rows it cannot decode say so.
    declared = {**CALL_MAPPING, "file": {"encoding": "utf-8"}}
    import_file(store_engine, path=path, mapping=_mapping(declared))
    reasons = _reasons(store_engine)
    assert reasons[3] == (
        "row 3: cannot be decoded: byte 0xf6 in column 'NOTES' is not UTF-8 (the mapping's "
        "file.encoding) text; correct the row, or the mapping's file.encoding"
    )
    assert "byte 0x81" in reasons[4]


def test_each_bad_json_line_is_quarantined_alone(store_engine: Engine, tmp_path: Path) -> None:
    path = _jsonl(tmp_path)
    mapping = _mapping(PEOPLE_MAPPING)
    report = import_file(store_engine, path=path, mapping=mapping)
    assert _counts(report) == (15, 4, 0, 0, 11)
    reasons = _reasons(store_engine)
    for line_number, (_, expected) in enumerate(JSONL_LINES, start=1):
        if expected is None:
            assert line_number not in reasons
        else:
            assert reasons[line_number].startswith(f"row {line_number}: "), reasons[line_number]
            assert expected in reasons[line_number], reasons[line_number]
    with Session(store_engine) as session:
        names = {
            record["first_name"] for record in session.scalars(select(SourceRecord.attributes))
        }
        shown = session.scalars(
            select(QuarantinedRow.raw).where(QuarantinedRow.row_number == 8)
        ).one()
    assert names == {"Anna", "Jörg", "Emoji 😀", "Ben"}
    assert shown == {"id": "P7", "first": "\\ud800", "last": "Weber"}  # kept, spelt out
    assert _counts(import_file(store_engine, path=path, mapping=mapping)) == (15, 0, 0, 4, 11)


def test_cpxm_import_quarantines_bad_rows_alone_in_a_fresh_process(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed_accounts(store_engine, tmp_path)
    calls = _write(tmp_path / "calls.csv", UNCLOSED)
    code, output = _cli_import(store_engine, calls, CALL_MAPPING)
    assert code == 2, output
    assert "read 4 created 3 updated 0 unchanged 0 quarantined 1" in output
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(MIXED.replace(b"\nC", b"\nM"))
    code, output = _cli_import(store_engine, mixed, CALL_MAPPING)
    assert code == 2, output
    assert "read 4 created 3 updated 0 unchanged 0 quarantined 1" in output
    code, output = _cli_import(store_engine, _jsonl(tmp_path), PEOPLE_MAPPING)
    assert code == 2, output
    assert "read 15 created 4 updated 0 unchanged 0 quarantined 11" in output
    with Session(store_engine) as session:
        reasons = set(session.scalars(select(QuarantinedRow.reason)))
    assert UNCLOSED_REASON in reasons
    assert MIXED_REASON in reasons
    assert any(reason.startswith("row 2: is nested too deeply") for reason in reasons)
    with Session(store_engine) as session:
        notes = set(session.scalars(select(Interaction.notes)))
    assert {"second", "Jörg called", "Jörg called again – twice"} <= notes
