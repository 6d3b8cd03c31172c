"""Read a CSV export as batches of columns, the rows exactly as the row-by-row reader gives them.

pyarrow's CSV reader splits the file as long as it splits it as ``readers.read_csv`` does: its
values are read as bytes and decoded here a row at a time (a column at once while it is all
UTF-8), and a value holding a line break hands the rest of the file to ``read_csv`` from that
record on, since only it can tell a quoted value that spans lines from a quote never closed. A
record of another width does the same.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from cpxm.db import chunked
from cpxm.ingest.mapping import ImportMapping
from cpxm.ingest.prepare import check_columns, read_checked
from cpxm.ingest.readers import (
    _SNIFF_BYTES,
    RawRecord,
    TextEncoding,
    _clean_header,
    _sniff_delimiter,
    read_csv,
    text_encoding,
)

# What str.strip() strips: every character Python calls whitespace (str.isspace), spelt out
# because finding them among all code points costs 60 ms at every start.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_BLOCK_BYTES = 1 << 20
_TAIL_BYTES = 1 << 16
_NUL_PROBLEM = (
    "column '{}' contains a NUL character (byte 0), which text cannot hold; remove it from the "
    "export"
)


@dataclass
class ColumnBatch:
    """Up to one batch of a file's rows, column by column, as read (unstripped)."""

    header: list[str]
    columns: dict[str, pa.Array]  # column -> its values in this batch, as text
    row_numbers: np.ndarray  # the number a person would look for, per row
    # Per row, why it cannot be used at all (undecodable, a NUL character), or null.
    problems: pa.Array | None = None

    def __len__(self) -> int:
        return len(self.row_numbers)

    def records(self, positions: np.ndarray) -> list[RawRecord]:
        """The rows at ``positions`` as the row-by-row reader gives them."""
        taken = pa.array(positions, type=pa.int64())
        texts = [self.columns[name].take(taken).to_pylist() for name in self.header]
        problems: list[str | None] = (
            self.problems.take(taken).to_pylist()
            if self.problems is not None
            else [None] * len(positions)
        )
        return [
            RawRecord(int(row_number), dict(zip(self.header, _stripped(values), strict=True)), why)
            for row_number, values, why in zip(
                self.row_numbers[positions], zip(*texts, strict=True), problems, strict=True
            )
        ]


def _stripped(values: tuple[str | None, ...]) -> list[str | None]:
    return [value.strip() or None if value is not None else None for value in values]


def batch_of_records(records: list[RawRecord]) -> ColumnBatch:
    """Records read row by row as a column batch (every record of a CSV has every column)."""
    header = list(records[0].values)
    columns = {
        name: pa.array([record.values.get(name) for record in records], pa.string())
        for name in header
    }
    row_numbers = np.fromiter((record.row_number for record in records), np.int64, len(records))
    problems = [record.problem for record in records]
    has_problems = any(problem is not None for problem in problems)
    return ColumnBatch(
        header, columns, row_numbers, pa.array(problems, pa.string()) if has_problems else None
    )


def column_batches(path: Path, mapping: ImportMapping, batch_size: int) -> Iterator[ColumnBatch]:
    """``path``'s rows in column batches of ``batch_size``: split by pyarrow while it splits the
    file as the row-by-row reader would, then (or from the start) by that reader."""
    setup = _arrow_setup(path, mapping)
    if setup is None:
        for records in chunked(read_checked(path, mapping), batch_size):
            yield batch_of_records(records)
        return
    header, encoding, read_options, parse_options, convert_options = setup
    check_columns(path, mapping, header)
    names = list(read_options.column_names)
    consumed = 0  # records pyarrow delivered, counting the empty ones
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    failed = False
    try:
        reader = pacsv.open_csv(
            path,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        reader, failed = None, True
    while reader is not None:
        try:
            block = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # A record of another width (or something else pyarrow splits differently): the
            # row-by-row reader takes over from the first record not yet delivered.
            failed = True
            break
        spanning = _first_spanning_lines(block)
        if spanning is not None:
            # A value spanning lines: a quoted one, or a quote never closed. Only the row-by-row
            # reader tells them apart; it takes over from that record.
            block, failed = block.slice(0, spanning), True
        pending.append(_decoded(block, names, header, encoding))
        pending_rows += block.num_rows
        while pending_rows >= batch_size:
            table = pa.Table.from_batches(pending)
            yield _column_batch(header, names, table.slice(0, batch_size), consumed)
            consumed += batch_size
            rest = table.slice(batch_size)
            pending = rest.combine_chunks().to_batches() if rest.num_rows else []
            pending_rows = rest.num_rows
        if failed:
            break
    if pending_rows:
        yield _column_batch(header, names, pa.Table.from_batches(pending), consumed)
        consumed += pending_rows
    if failed:
        # The header is row 1.
        for records in chunked(read_csv(path, mapping.file, from_row=consumed + 2), batch_size):
            yield batch_of_records(records)


def _first_spanning_lines(block: pa.RecordBatch) -> int | None:
    """The position of the block's first record with a line break in a value, if any."""
    spanning: Any = None
    for column in block.columns:
        breaks = pc.fill_null(pc.match_substring_regex(column, "[\r\n]"), False)
        spanning = breaks if spanning is None else pc.or_(spanning, breaks)
    if spanning is None or not pc.any(spanning).as_py():
        return None
    return int(pc.index(spanning, True).as_py())


_PROBLEM = "problem"  # the decoded batch's column of per-row problems


def _decoded(
    block: pa.RecordBatch, names: list[str], header: list[str], encoding: TextEncoding
) -> pa.RecordBatch:
    """A block of byte columns as text, and each row's problem (null: none)."""
    columns: list[pa.Array] | None = None
    if encoding.candidates[0] == "utf-8":
        try:
            columns = [pc.cast(column, pa.string()) for column in block.columns]
        except pa.ArrowInvalid:
            columns = None  # some row is not UTF-8: decoded a row at a time below
    if columns is not None:
        problems = pa.nulls(block.num_rows, pa.string())
    else:
        rows = zip(*(column.to_pylist() for column in block.columns), strict=True)
        decoded = [encoding.decode_bytes(list(values), header) for values in rows]
        columns = [
            pa.array([values[index] for values, _ in decoded], pa.string())
            for index in range(len(names))
        ]
        problems = pa.array([problem for _, problem in decoded], pa.string())
    return pa.RecordBatch.from_arrays([*columns, problems], names=[*names, _PROBLEM])


def _column_batch(
    header: list[str], names: list[str], table: pa.Table, consumed: int
) -> ColumnBatch:
    columns = {
        column: table.column(name).combine_chunks()
        for column, name in zip(header, names, strict=True)
    }
    problems = table.column(_PROBLEM).combine_chunks()
    for column, values in columns.items():
        nul = pc.fill_null(pc.match_substring(values, "\x00"), False)
        if pc.any(nul).as_py():
            problems = pc.if_else(
                pc.and_(nul, pc.is_null(problems)), _NUL_PROBLEM.format(column), problems
            )
    row_numbers = np.arange(consumed + 2, consumed + 2 + table.num_rows, dtype=np.int64)
    # Rows with no value at all are skipped, as by the row-by-row reader (numbers stay counted).
    empty: Any = None
    for values in columns.values():
        # An empty line comes as a record of nulls; Python's csv gives it as [], skipped too.
        blank = pc.fill_null(
            pc.equal(pc.utf8_length(pc.utf8_trim(values, characters=WHITESPACE)), 0), True
        )
        empty = blank if empty is None else pc.and_(empty, blank)
    if empty is not None and pc.any(empty).as_py():
        keep = pc.invert(empty)
        columns = {name: values.filter(keep) for name, values in columns.items()}
        problems = problems.filter(keep)
        row_numbers = row_numbers[keep.to_numpy(zero_copy_only=False)]
    has_problems = problems.null_count < len(problems)
    return ColumnBatch(header, columns, row_numbers, problems if has_problems else None)


def _arrow_setup(
    path: Path, mapping: ImportMapping
) -> (
    tuple[list[str], TextEncoding, pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]
    | None
):
    """pyarrow's options for reading ``path`` as the row-by-row reader would; None if it can't."""
    encoding = text_encoding(mapping.file.encoding)
    if encoding.codec is not None:
        return None
    with path.open("rb") as stream:
        sample = stream.read(_SNIFF_BYTES).decode("latin-1")
        stream.seek(0, 2)
        stream.seek(max(0, stream.tell() - _TAIL_BYTES))
        tail = stream.read().decode("latin-1")
    if not sample or sample[0] in "\r\n":
        return None
    last_line = tail.rstrip("\r\n").rsplit("\n", 1)[-1].rsplit("\r", 1)[-1]
    if last_line.count('"') % 2:
        return None  # the last record may leave a quote open, which pyarrow closes silently
    delimiter = mapping.file.delimiter or _sniff_delimiter(sample)
    if len(delimiter) != 1 or delimiter in '\r\n"':
        return None
    try:
        header = next(csv.reader(_lines(sample), delimiter=delimiter, strict=False))
        first_line = next(csv.reader([next(_lines(sample))], delimiter=delimiter, strict=False))
    except (StopIteration, csv.Error):
        return None
    if header != first_line:
        return None  # a header spanning lines: pyarrow would skip only its first line
    decoded, undecodable = encoding.decode(header)
    if undecodable:
        return None  # the row-by-row reader says why
    header = _clean_header(decoded)
    names = [f"c{index}" for index in range(len(header))]
    read_options = pacsv.ReadOptions(
        column_names=names, skip_rows=1, block_size=_BLOCK_BYTES, use_threads=False
    )
    parse_options = pacsv.ParseOptions(
        delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False
    )
    convert_options = pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.binary()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    return header, encoding, read_options, parse_options, convert_options


def _lines(sample: str) -> Iterator[str]:
    # Split at line ends only: str.splitlines also splits at bytes such as 0x85, which are
    # parts of characters here (the sample is bytes read as Latin-1).
    return iter(io.StringIO(sample, newline=""))
