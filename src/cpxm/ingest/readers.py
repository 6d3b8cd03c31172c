"""Read exports as rows of text: CSV (any delimiter, quoted newlines), JSON Lines, Excel (.xlsx)
and Parquet.

Every row comes with the number a person would look for: in a CSV or a sheet the header is row 1,
so the first data row is row 2; in JSON Lines it is the line number. A row that cannot be read
as the file says (a quote never closed, bytes no encoding tried decodes, a JSON line that is not
an object) comes with its ``problem`` and is quarantined alone: the rows around it are read on.

Text files are decoded a row at a time, not as a whole: an export appended to by two systems
may hold UTF-8 rows and Windows-1252 rows, and reading it all as the one that decodes every
byte turned "Jörg" into "JÃ¶rg".
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cpxm.ingest.mapping import FileOptions
from cpxm.ingest.raw import RawRecord, RawRow, ReadError, TextEncoding, text_encoding, text_problem

_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"
# Python's csv module refuses a value longer than 131,072 characters and ends the read. A long
# value is the row's fault, not the file's: it is read, and the field's length check rejects it.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 28))


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
        return read_csv(path, options)
    if file_format == "jsonl":
        return read_jsonl(path, options)
    if file_format == "xlsx":
        return _read_xlsx(path, options)
    return _read_parquet(path)


class _Lines:
    """A text file's lines with their numbers; remembers the lines of the record being read,
    and can be handed lines back to read again."""

    def __init__(self, stream: Iterator[str]) -> None:
        self._stream = stream
        self._again: list[tuple[int, str]] = []
        self.number = 0
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._again:
            number, line = self._again.pop()
        else:
            line = next(self._stream)
            self.number += 1
            number = self.number
        self.taken.append((number, line))
        return line

    def read_again(self, lines: list[tuple[int, str]]) -> None:
        self._again.extend(reversed(lines))


def file_columns(path: Path, options: FileOptions) -> list[str] | None:
    """The columns ``path``'s header names (None for JSON Lines, whose records name their own),
    read without reading a row; [] when the file is empty."""
    if not path.is_file():
        raise ReadError(f"{path} does not exist or is not a file")
    file_format = detect_format(path, options)
    if file_format == "jsonl":
        return None
    if file_format == "parquet":
        return [str(name) for name in parquet_file(path).schema_arrow.names]
    if file_format == "xlsx":
        with _xlsx_rows(path, options) as rows:
            first = next(rows, None)
            return [] if first is None else _clean_header([to_text(v) or "" for v in first])
    encoding = text_encoding(options.encoding)
    with path.open(encoding=encoding.codec or "latin-1", newline="") as stream:
        delimiter = options.delimiter or _sniff_delimiter(stream.read(_SNIFF_BYTES))
        stream.seek(0)
        try:
            first_record = next(csv.reader(stream, delimiter=delimiter, strict=True), None)
        except (csv.Error, UnicodeDecodeError) as error:
            raise ReadError(f"the header row of {path.name} cannot be read: {error}") from None
    if first_record is None:
        return []
    decoded, undecodable = encoding.decode(first_record)
    if undecodable:
        raise ReadError(f"the header row {undecodable}")
    return _clean_header(decoded)


def read_csv(path: Path, options: FileOptions, *, from_row: int = 2) -> Iterator[RawRecord]:
    """The CSV's rows from row ``from_row`` on (the header is row 1)."""
    encoding = text_encoding(options.encoding)
    with path.open(encoding=encoding.codec or "latin-1", newline="") as stream:
        try:
            delimiter = options.delimiter or _sniff_delimiter(stream.read(_SNIFF_BYTES))
            stream.seek(0)
            yield from _csv_records(_Lines(stream), delimiter, encoding, from_row)
        except UnicodeDecodeError as error:
            raise ReadError(
                f"cannot decode {path.name} as {encoding.describe()}: {error}"
            ) from None


def _csv_records(
    lines: _Lines, delimiter: str, encoding: TextEncoding, from_row: int
) -> Iterator[RawRecord]:
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    header: list[str] | None = None
    row_number = 1  # the header's; row numbers follow records, which may span lines
    while True:
        lines.taken.clear()
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            taken = list(lines.taken)
            if len(taken) == 1 and "expected after" in str(error):
                # A quote inside a value of one line ('"ab"cd'): read as written, as
                # spreadsheet programs do.
                values = next(csv.reader([taken[0][1]], delimiter=delimiter, strict=False), [])
            else:
                # A quote that opened a value and never closed where a value may end: it would
                # swallow every line up to the next quote. The record's first line is
                # quarantined on its own, and reading goes on at the line after it.
                lines.read_again(taken[1:])
                if header is None:
                    raise ReadError(
                        f"the header row (line {taken[0][0]}) opens a quoted value it never closes"
                    ) from None
                row_number += 1
                if row_number >= from_row:
                    yield _unclosed_quote(header, row_number, taken, delimiter, encoding)
                continue
        if header is None:
            decoded, undecodable = encoding.decode(values)
            if undecodable:
                raise ReadError(f"the header row {undecodable}")
            header = _clean_header(decoded)
            continue
        row_number += 1
        if row_number >= from_row:
            yield from _csv_record(header, row_number, values, encoding)


def _unclosed_quote(
    header: list[str],
    row_number: int,
    taken: list[tuple[int, str]],
    delimiter: str,
    encoding: TextEncoding,
) -> RawRecord:
    (first, line), last = taken[0], taken[-1][0]
    fields = next(csv.reader([line], delimiter=delimiter, strict=False), [])
    decoded, _ = encoding.decode(fields)
    if last > first + 1:
        swallowed = f"lines {first + 1}-{last} would have become part of its last value"
    elif last > first:
        swallowed = f"line {last} would have become part of its last value"
    else:
        swallowed = "it runs to the end of the file"
    problem = (
        f"(line {first}) opens a quoted value with '\"' that is never closed: {swallowed}; "
        f"quarantined alone, and reading went on at line {first + 1}. Close the quote "
        '(a quote inside a quoted value is written twice: "")'
    )
    return RawRecord(row_number, _padded(header, _stripped(decoded)), problem)


def _csv_record(
    header: list[str], row_number: int, values: list[str], encoding: TextEncoding
) -> Iterator[RawRecord]:
    width = len(header)
    decoded, undecodable = encoding.decode(values, header)
    # One pass of C-level string work per row: this loop runs a million times an import.
    texts = [value.strip() or None for value in decoded]
    if not any(texts):
        return
    if undecodable:
        yield RawRecord(row_number, _padded(header, texts), undecodable)
        return
    if len(texts) > width:
        if any(texts[width:]):
            problem = f"has {len(values)} values but the header has {width} columns"
            yield RawRecord(row_number, dict(zip(header, decoded, strict=False)), problem)
            return
    elif len(texts) < width:
        texts.extend([None] * (width - len(texts)))
    record = dict(zip(header, texts, strict=False))
    yield RawRecord(row_number, record, text_problem(record))


def _stripped(values: list[str]) -> list[str | None]:
    return [value.strip() or None for value in values]


def _padded(header: list[str], texts: list[str | None]) -> RawRow:
    return {
        column: texts[index] if index < len(texts) else None for index, column in enumerate(header)
    }


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


def to_text(value: Any) -> str | None:
    """A value of a typed file (JSON, a sheet, Parquet) as the text a CSV would hold."""
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


class _NotJson(ValueError):
    """A JSON line that Python's reader would take but JSON does not allow."""


def _no_constant(name: str) -> Any:
    raise _NotJson(f"holds {name}, which is not a number JSON allows; write null or a number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _NotJson(
            f"holds the number {text[:40]}, too large for a decimal number; "
            "write it smaller or as a string"
        )
    return number


# A \uXXXX escape of a surrogate: only lines holding one need their strings checked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def read_jsonl(path: Path, options: FileOptions, *, from_line: int = 1) -> Iterator[RawRecord]:
    """The records of a JSON Lines file from line ``from_line`` on."""
    encoding = text_encoding(options.encoding)
    if encoding.codec is not None:
        with path.open(encoding=encoding.codec, newline="") as stream:
            try:
                lines = itertools.islice(enumerate(stream, start=1), from_line - 1, None)
                yield from _jsonl_records(lines, encoding)
            except UnicodeDecodeError as error:
                raise ReadError(
                    f"cannot decode {path.name} as {encoding.describe()}: {error}"
                ) from None
        return
    with path.open(encoding="latin-1", newline="\n") as stream:
        lines = itertools.islice(enumerate(stream, start=1), from_line - 1, None)
        yield from _jsonl_records(lines, encoding)


def _jsonl_records(lines: Iterator[tuple[int, str]], encoding: TextEncoding) -> Iterator[RawRecord]:
    for line_number, read in lines:
        [line], undecodable = encoding.decode([read])
        line = line.strip()
        if not line:
            continue
        if line_number == 1:
            line = line.lstrip("\ufeff")
        shown: RawRow = {"line": line[:2000]}
        if undecodable:
            yield RawRecord(line_number, shown, undecodable)
            continue
        try:
            record = json.loads(line, parse_constant=_no_constant, parse_float=_finite)
        except json.JSONDecodeError as error:
            invalid = f"is not valid JSON ({error.msg} at character {error.pos + 1})"
            yield RawRecord(line_number, shown, invalid)
            continue
        except RecursionError:
            invalid = (
                "is nested too deeply to read (more levels of [ and { than Python's JSON "
                "reader follows); a record is one object of values"
            )
            yield RawRecord(line_number, shown, invalid)
            continue
        except _NotJson as error:
            yield RawRecord(line_number, shown, str(error))
            continue
        except ValueError as error:  # an integer of more digits than Python converts
            yield RawRecord(line_number, shown, f"holds a number that cannot be read: {error}")
            continue
        if not isinstance(record, dict):
            yield RawRecord(line_number, shown, "is not a JSON object")
            continue
        try:
            values = {str(key): to_text(value) for key, value in record.items()}
        except RecursionError:
            deep = "holds a value nested too deeply to keep as text; flatten it"
            yield RawRecord(line_number, shown, deep)
            continue
        if not any(values.values()):
            continue  # a record with no value at all is skipped, as a blank CSV row is
        problem: str | None = None
        if "\\u" in line and (_SURROGATE_ESCAPE.search(line) or "\\u0000" in line):
            problem = text_problem(values) or text_problem(
                {f"key {position}": key for position, key in enumerate(values, start=1)}
            )
        yield RawRecord(line_number, values, problem)


@contextmanager
def _xlsx_rows(path: Path, options: FileOptions) -> Iterator[Iterator[tuple[Any, ...]]]:
    """The rows of the workbook's sheet the mapping names (default: the first)."""
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
            yield workbook[options.sheet].iter_rows(values_only=True)
        else:
            yield workbook.worksheets[0].iter_rows(values_only=True)
    finally:
        workbook.close()


def _read_xlsx(path: Path, options: FileOptions) -> Iterator[RawRecord]:
    with _xlsx_rows(path, options) as rows:
        try:
            header = _clean_header([to_text(value) or "" for value in next(rows)])
        except StopIteration:
            return
        for row_number, values in enumerate(rows, start=2):
            texts = [to_text(value) for value in values]
            if not any(texts):
                continue
            record = {
                column: texts[index] if index < len(texts) else None
                for index, column in enumerate(header)
            }
            if len(texts) > len(header) and any(texts[len(header) :]):
                problem = f"has values beyond the header's {len(header)} columns"
                yield RawRecord(row_number, record, problem)
                continue
            yield RawRecord(row_number, record, text_problem(record))


def parquet_file(path: Path) -> Any:
    """The Parquet file at ``path``, opened (ReadError when it is not one)."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as error:
        raise ReadError(f"{path.name} is not a readable Parquet file: {error}") from None


def _read_parquet(path: Path) -> Iterator[RawRecord]:
    parquet = parquet_file(path)
    row_number = 0
    for batch in parquet.iter_batches(batch_size=10_000):
        for row in batch.to_pylist():
            row_number += 1
            record = {str(key): to_text(value) for key, value in row.items()}
            if any(record.values()):  # a row with no value at all is skipped, in every format
                yield RawRecord(row_number, record, text_problem(record))
