"""Read exports as rows of text: CSV (any delimiter, UTF-8 with or without BOM, Windows-1252 or
Latin-1, quoted newlines), JSON Lines, Excel (.xlsx) and Parquet.

Every row comes with the number a person would look for: in a CSV or a sheet the header is row 1,
so the first data row is row 2; in JSON Lines it is the line number.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cpxm.ingest.mapping import FileOptions

RawRow = dict[str, str | None]


@dataclass(frozen=True)
class RawRecord:
    """One row as read; ``problem`` says why it cannot be used at all (wrong shape)."""

    row_number: int
    values: RawRow
    problem: str | None = None


_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"


class ReadError(ValueError):
    """The file cannot be read as the mapping says; nothing was imported."""


def detect_format(path: Path, options: FileOptions) -> str:
    if options.format:
        return options.format
    suffix = path.suffix.lower()
    by_suffix = {
        ".csv": "csv",
        ".tsv": "csv",
        ".txt": "csv",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".xlsx": "xlsx",
        ".parquet": "parquet",
        ".pq": "parquet",
    }
    if suffix not in by_suffix:
        raise ReadError(
            f"cannot tell the format of {path.name} from its extension; set file.format in the "
            "mapping to csv, jsonl, xlsx or parquet"
        )
    return by_suffix[suffix]


def read_rows(path: Path, options: FileOptions) -> Iterator[RawRecord]:
    """Yield every data row of ``path`` as ``{column: text or None}`` with its row number."""
    if not path.is_file():
        raise ReadError(f"{path} does not exist or is not a file")
    file_format = detect_format(path, options)
    if file_format == "csv":
        return _read_csv(path, options)
    if file_format == "jsonl":
        return _read_jsonl(path, options)
    if file_format == "xlsx":
        return _read_xlsx(path, options)
    return _read_parquet(path)


def detect_encoding(path: Path, encoding: str | None) -> str:
    """The encoding as told, else the first of UTF-8 (BOM dropped), Windows-1252 and Latin-1
    that decodes the whole file. Checked in chunks, so memory stays flat on large files."""
    candidates = [encoding] if encoding else ["utf-8-sig", "cp1252", "latin-1"]
    for candidate in candidates:
        try:
            decoder = codecs.getincrementaldecoder(candidate)()
        except LookupError:
            raise ReadError(f"unknown encoding '{candidate}' in the mapping") from None
        try:
            with path.open("rb") as stream:
                while chunk := stream.read(1 << 20):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
            if encoding:
                raise ReadError(f"cannot decode {path.name} as {encoding}: {error}") from None
            continue
        return candidate
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


def _read_csv(path: Path, options: FileOptions) -> Iterator[RawRecord]:
    encoding = detect_encoding(path, options.encoding)
    with path.open(encoding=encoding, newline="") as stream:
        delimiter = options.delimiter or _sniff_delimiter(stream.read(_SNIFF_BYTES))
        stream.seek(0)
        yield from _csv_records(csv.reader(stream, delimiter=delimiter, strict=False))


def _csv_records(reader: Iterator[list[str]]) -> Iterator[RawRecord]:
    try:
        header = next(reader)
    except StopIteration:
        return
    header = _clean_header(header)
    # Row numbers follow records, not lines: a quoted value may span several lines.
    width = len(header)
    for row_number, values in enumerate(reader, start=2):
        # One pass of C-level string work per row: this loop runs a million times an import.
        texts = [value.strip() or None for value in values]
        if not any(texts):
            continue
        if len(texts) > width:
            if any(texts[width:]):
                problem = f"has {len(values)} values but the header has {width} columns"
                yield RawRecord(row_number, dict(zip(header, values, strict=False)), problem)
                continue
        elif len(texts) < width:
            texts.extend([None] * (width - len(texts)))
        yield RawRecord(row_number, dict(zip(header, texts, strict=False)))


def _sniff_delimiter(sample: str) -> str:
    first_line = sample.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        # One-column files, or samples the sniffer cannot settle: count in the header.
        counts = {candidate: first_line.count(candidate) for candidate in _DELIMITERS}
        best = max(counts, key=lambda candidate: counts[candidate])
        return best if counts[best] else ","


def _clean_header(header: list[str]) -> list[str]:
    cleaned = [column.strip().lstrip("\ufeff") for column in header]
    seen: set[str] = set()
    for column in cleaned:
        if not column:
            raise ReadError("the header row has an empty column name")
        if column in seen:
            raise ReadError(f"the header row names column '{column}' twice")
        seen.add(column)
    return cleaned


def _blank_to_none(value: str) -> str | None:
    stripped = value.strip()
    return stripped or None


def _to_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return _blank_to_none(str(value))


def _read_jsonl(path: Path, options: FileOptions) -> Iterator[RawRecord]:
    encoding = detect_encoding(path, options.encoding)
    with path.open(encoding=encoding) as stream:
        yield from _jsonl_records(stream)


def _jsonl_records(lines: Iterator[str]) -> Iterator[RawRecord]:
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield RawRecord(line_number, {"line": line[:2000]}, f"is not valid JSON ({error.msg})")
            continue
        if not isinstance(record, dict):
            yield RawRecord(line_number, {"line": line[:2000]}, "is not a JSON object")
            continue
        yield RawRecord(line_number, {str(key): _to_text(value) for key, value in record.items()})


def _read_xlsx(path: Path, options: FileOptions) -> Iterator[RawRecord]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:
        raise ReadError(f"{path.name} is not a readable .xlsx workbook: {error}") from None
    try:
        if options.sheet:
            if options.sheet not in workbook.sheetnames:
                raise ReadError(
                    f"{path.name} has no sheet '{options.sheet}'; "
                    f"its sheets are: {', '.join(workbook.sheetnames)}"
                )
            rows = workbook[options.sheet].iter_rows(values_only=True)
        else:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
        try:
            header = _clean_header([_to_text(value) or "" for value in next(rows)])
        except StopIteration:
            return
        for row_number, values in enumerate(rows, start=2):
            texts = [_to_text(value) for value in values]
            if not any(texts):
                continue
            yield RawRecord(
                row_number,
                {
                    column: texts[index] if index < len(texts) else None
                    for index, column in enumerate(header)
                },
            )
    finally:
        workbook.close()


def _read_parquet(path: Path) -> Iterator[RawRecord]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:
        raise ReadError(f"{path.name} is not a readable Parquet file: {error}") from None
    row_number = 0
    for batch in parquet.iter_batches(batch_size=10_000):
        for record in batch.to_pylist():
            row_number += 1
            yield RawRecord(
                row_number, {str(key): _to_text(value) for key, value in record.items()}
            )
