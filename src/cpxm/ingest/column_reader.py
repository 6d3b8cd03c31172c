"""Read a CSV export as batches of columns, the rows exactly as the row-by-row reader gives them.

pyarrow's CSV reader splits the file; only files whose records it splits as Python's csv module
does are read this way: an ASCII-compatible encoding and a one-line header. A record of another
width switches the rest of the file to the row-by-row reader, from that record on.
"""

from __future__ import annotations

import codecs
import csv
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
    _clean_header,
    _sniff_delimiter,
    detect_encoding,
)

# What str.strip() strips: every character Python calls whitespace (str.isspace), spelt out
# because finding them among all code points costs 60 ms at every start.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_ASCII_COMPATIBLE = frozenset({"utf-8", "utf-8-sig", "cp1252", "iso8859-1", "latin-1"})
_BLOCK_BYTES = 1 << 20


@dataclass
class ColumnBatch:
    """Up to one batch of a file's rows, column by column, as read (unstripped)."""

    header: list[str]
    columns: dict[str, pa.Array]  # column -> its values in this batch, as text
    row_numbers: np.ndarray  # the number a person would look for, per row

    def __len__(self) -> int:
        return len(self.row_numbers)

    def records(self, positions: np.ndarray) -> list[RawRecord]:
        """The rows at ``positions`` as the row-by-row reader gives them."""
        taken = pa.array(positions, type=pa.int64())
        texts = [self.columns[name].take(taken).to_pylist() for name in self.header]
        return [
            RawRecord(int(row_number), dict(zip(self.header, _stripped(values), strict=True)))
            for row_number, values in zip(
                self.row_numbers[positions], zip(*texts, strict=True), strict=True
            )
        ]


def _stripped(values: tuple[str | None, ...]) -> list[str | None]:
    return [value.strip() or None if value is not None else None for value in values]


def column_batches(
    path: Path, mapping: ImportMapping, batch_size: int
) -> Iterator[ColumnBatch | list[RawRecord]]:
    """``path``'s rows in batches of ``batch_size``: column batches while pyarrow can split the
    file as the row-by-row reader would, then (or from the start) lists of records."""
    setup = _arrow_setup(path, mapping)
    if setup is None:
        yield from chunked(read_checked(path, mapping), batch_size)
        return
    header, read_options, parse_options, convert_options = setup
    checked = False
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
        pending.append(block)
        pending_rows += block.num_rows
        if not checked and pending_rows:
            check_columns(path, mapping, header)
            checked = True
        while pending_rows >= batch_size:
            table = pa.Table.from_batches(pending)
            yield _column_batch(header, names, table.slice(0, batch_size), consumed)
            consumed += batch_size
            rest = table.slice(batch_size)
            pending = rest.combine_chunks().to_batches() if rest.num_rows else []
            pending_rows = rest.num_rows
    if pending_rows:
        yield _column_batch(header, names, pa.Table.from_batches(pending), consumed)
        consumed += pending_rows
    if failed:
        first_row = consumed + 2  # the header is row 1
        records = (
            record for record in read_checked(path, mapping) if record.row_number >= first_row
        )
        yield from chunked(records, batch_size)


def _column_batch(
    header: list[str], names: list[str], table: pa.Table, consumed: int
) -> ColumnBatch:
    columns = {
        column: table.column(name).combine_chunks()
        for column, name in zip(header, names, strict=True)
    }
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
        row_numbers = row_numbers[keep.to_numpy(zero_copy_only=False)]
    return ColumnBatch(header, columns, row_numbers)


def _arrow_setup(
    path: Path, mapping: ImportMapping
) -> tuple[list[str], pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions] | None:
    """pyarrow's options for reading ``path`` as the row-by-row reader would; None if it can't."""
    encoding = detect_encoding(path, mapping.file.encoding)
    codec = codecs.lookup(encoding).name
    if codec not in _ASCII_COMPATIBLE:
        return None
    with path.open(encoding=encoding, newline="") as stream:
        sample = stream.read(_SNIFF_BYTES)
    if not sample or sample[0] in "\r\n":
        return None
    delimiter = mapping.file.delimiter or _sniff_delimiter(sample)
    if len(delimiter) != 1 or delimiter in '\r\n"':
        return None
    try:
        header = next(csv.reader(_lines(sample), delimiter=delimiter, strict=False))
        first_line = next(csv.reader([sample.splitlines()[0]], delimiter=delimiter, strict=False))
    except (StopIteration, csv.Error):
        return None
    if header != first_line:
        return None  # a header spanning lines: pyarrow would skip only its first line
    header = _clean_header(header)
    names = [f"c{index}" for index in range(len(header))]
    read_options = pacsv.ReadOptions(
        column_names=names,
        skip_rows=1,
        block_size=_BLOCK_BYTES,
        use_threads=False,
        encoding="utf8" if codec.startswith("utf-8") else encoding,
    )
    parse_options = pacsv.ParseOptions(
        delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False
    )
    convert_options = pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    return header, read_options, parse_options, convert_options


def _lines(sample: str) -> Iterator[str]:
    return iter(sample.splitlines(keepends=True))
