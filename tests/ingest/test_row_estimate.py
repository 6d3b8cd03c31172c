"""A queued import counts its file before it starts and cuts it into batches small enough that
its page shows progress: the count against the real reader for every format, and the progress
a 5,000-row file reports."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cpxm.ingest import BATCH_SIZE
from cpxm.ingest.mapping import FileOptions, resolve_mapping
from cpxm.ingest.readers import read_rows
from cpxm.ingest.row_estimate import estimate_rows, progress_batch_size
from cpxm.ingest.service import import_file
from tests.factories import make_taxonomy

HEADER = ["account_id", "account_type", "first_name", "last_name", "country"]


def _rows(count: int) -> list[list[str]]:
    return [[f"ACC-{n}", "Physician", f"Anna{n}", "Schmidt", "DE"] for n in range(count)]


def _write(path: Path, rows: list[list[str]]) -> None:
    suffix = path.suffix
    if suffix == ".csv":
        path.write_text(
            "\n".join(";".join(line) for line in [HEADER, *rows]) + "\n", encoding="utf-8"
        )
    elif suffix == ".jsonl":
        path.write_text(
            "".join(json.dumps(dict(zip(HEADER, row, strict=True))) + "\n" for row in rows),
            encoding="utf-8",
        )
    elif suffix == ".parquet":
        columns = {name: [row[i] for row in rows] for i, name in enumerate(HEADER)}
        pq.write_table(pa.table(columns), path)
    else:
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        for line in [HEADER, *rows]:
            sheet.append(line)
        workbook.save(path)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet", ".xlsx"])
@pytest.mark.parametrize("count", [0, 1, 2_345])
def test_the_estimate_is_the_rows_the_reader_reads(tmp_path: Path, suffix: str, count: int) -> None:
    path = tmp_path / f"accounts{suffix}"
    _write(path, _rows(count))
    read = sum(1 for _ in read_rows(path, FileOptions()))
    assert read == count
    assert estimate_rows(path, FileOptions()) == count


def test_a_csv_without_a_last_line_end_and_a_file_of_no_known_format(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("id;name\n1;Anna\n2;Ben", encoding="utf-8")
    assert estimate_rows(path, FileOptions()) == 2
    unknown = tmp_path / "accounts.bin"
    unknown.write_bytes(b"\x00\x01")
    assert estimate_rows(unknown, FileOptions()) is None


def test_the_batch_size_gives_a_small_file_about_twenty_steps() -> None:
    assert progress_batch_size(None) == BATCH_SIZE
    assert progress_batch_size(3) == 1_000  # done in one step; a bar for 3 rows is noise
    assert progress_batch_size(20_000) == 1_000
    assert progress_batch_size(200_000) == 10_000
    assert progress_batch_size(50_000_000) == BATCH_SIZE


def test_a_5000_row_file_reports_progress_five_times_not_once(
    store_engine: Engine, tmp_path: Path
) -> None:
    with Session(store_engine) as session:
        make_taxonomy(session)
        session.commit()
    path = tmp_path / "crm-accounts.csv"
    header = (
        "account_id;account_type;first_name;last_name;account_name;specialty;professional_id;"
        "email;phone;address_line;postal_code;city;country;language"
    )
    lines = [
        f"ACC-{n};Physician;Anna{n};Schmidt;;Oncology;;;;;10115;Berlin;DE;de" for n in range(5_000)
    ]
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    mapping = resolve_mapping("crm-accounts")
    expected = estimate_rows(path, mapping.file)
    assert expected == 5_000
    seen: list[int] = []
    report = import_file(
        store_engine,
        path=path,
        mapping=mapping,
        batch_size=progress_batch_size(expected),
        progress=seen.append,
    )
    assert report.created == 5_000
    assert seen == [1_000, 2_000, 3_000, 4_000, 5_000]
