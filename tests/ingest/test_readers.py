from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from cpxm.ingest.mapping import FileOptions
from cpxm.ingest.raw import ReadError
from cpxm.ingest.readers import read_rows


def _rows(path: Path, **options: str) -> list[tuple[int, dict[str, str | None], str | None]]:
    return [
        (record.row_number, record.values, record.problem)
        for record in read_rows(path, FileOptions.model_validate(options))
    ]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        delimiter.join(["id", "name", "city"])
        + "\n"
        + delimiter.join(["1", "Anna", "Köln"])
        + "\n",
        encoding="utf-8",
    )
    assert _rows(path) == [(2, {"id": "1", "name": "Anna", "city": "Köln"}, None)]


def test_csv_utf8_bom_latin1_and_cp1252_decode(tmp_path: Path) -> None:
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffid,name\n1,Zoë\n".encode())
    assert _rows(bom) == [(2, {"id": "1", "name": "Zoë"}, None)]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("id;name\n1;François Müller\n".encode("latin-1"))
    assert _rows(latin)[0][1]["name"] == "François Müller"
    windows = tmp_path / "windows.csv"
    windows.write_bytes("id,note\n1,costs 5 € – fine\n".encode("cp1252"))
    assert _rows(windows)[0][1]["note"] == "costs 5 € – fine"


def test_csv_quoted_newlines_keep_record_numbers(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('id,note\n1,"line one\nline two"\n2,plain\n', encoding="utf-8")
    rows = _rows(path)
    assert rows[0] == (2, {"id": "1", "note": "line one\nline two"}, None)
    assert rows[1] == (3, {"id": "2", "note": "plain"}, None)


def test_csv_blank_values_become_none_and_short_rows_are_padded(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("id,name,email\n1,  ,\n2\n\n", encoding="utf-8")
    assert _rows(path) == [
        (2, {"id": "1", "name": None, "email": None}, None),
        (3, {"id": "2", "name": None, "email": None}, None),
    ]


def test_csv_row_with_too_many_values_is_flagged_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("id,name\n1,Anna,extra\n", encoding="utf-8")
    [(number, _, problem)] = _rows(path)
    assert number == 2
    assert problem == "has 3 values but the header has 2 columns"


def test_duplicate_header_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("id,name,name\n1,a,b\n", encoding="utf-8")
    with pytest.raises(ReadError, match="names column 'name' twice"):
        _rows(path)


def test_a_row_the_declared_encoding_cannot_decode_is_flagged_alone(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("id,name\n1,Müller\n".encode("latin-1") + "2,Müller\n".encode())
    [first, second] = _rows(path, encoding="utf-8")
    assert first[0] == 2 and first[2] == (
        "cannot be decoded: byte 0xfc in column 'name' is not UTF-8 (the mapping's file.encoding) "
        "text; correct the row, or the mapping's file.encoding"
    )
    assert second == (3, {"id": "2", "name": "Müller"}, None)


def test_jsonl_rows_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [json.dumps({"id": 1, "score": 9.0, "tags": ["a"]}), "{not json", "[1, 2]", ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = _rows(path)
    assert rows[0] == (1, {"id": "1", "score": "9", "tags": '["a"]'}, None)
    assert rows[1][0] == 2 and rows[1][2] is not None and "not valid JSON" in rows[1][2]
    assert rows[2][2] == "is not a JSON object"
    assert len(rows) == 3


def test_xlsx_named_sheet(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    workbook = Workbook()
    workbook.active.title = "Other"  # type: ignore[union-attr]
    sheet = workbook.create_sheet("Calls")
    sheet.append(["id", "when", "count"])
    sheet.append([7, "2024-03-01", 3])
    workbook.save(path)
    assert _rows(path, sheet="Calls") == [
        (2, {"id": "7", "when": "2024-03-01", "count": "3"}, None)
    ]
    with pytest.raises(ReadError, match="has no sheet 'Nope'; its sheets are: Other, Calls"):
        _rows(path, sheet="Nope")


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"id": [1, 2], "name": ["a", None]}), path)
    assert _rows(path) == [
        (1, {"id": "1", "name": "a"}, None),
        (2, {"id": "2", "name": None}, None),
    ]


def test_unknown_extension_asks_for_a_format(tmp_path: Path) -> None:
    path = tmp_path / "export.dat"
    path.write_text("id\n1\n", encoding="utf-8")
    with pytest.raises(ReadError, match=r"set file.format"):
        _rows(path)
    assert _rows(path, format="csv") == [(2, {"id": "1"}, None)]
