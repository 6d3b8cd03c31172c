"""The read step of an import: every format as batches of columns, the rows exactly as the
row-by-row readers (``readers``) give them.

pyarrow splits a file while it splits it as those readers do, and they take over from the first
record it would read otherwise: in a CSV, a record of another width, or a value holding a line
break (only ``readers.read_csv`` tells a quoted value spanning lines from a quote never closed);
in JSON Lines, a line that is not an object of strings, whole numbers and booleans (a bad line
is the row reader's to quarantine alone), or a blank line anywhere (pyarrow skips it and would
shift the line numbers). CSV values are read as bytes and decoded here, a column at once while
it is all UTF-8, else a row at a time. Parquet is read by pyarrow alone; an .xlsx workbook by
the row reader. Whoever reads, the rows come out as column batches.
"""

from __future__ import annotations

import csv
import io
import mmap
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from cpxm.db import chunked
from cpxm.ingest.mapping import ImportMapping
from cpxm.ingest.prepare import check_columns, read_checked
from cpxm.ingest.raw import RawRecord, RawRow, ReadError, TextEncoding, text_encoding
from cpxm.ingest.readers import (
    _SNIFF_BYTES,
    _clean_header,
    _sniff_delimiter,
    detect_format,
    parquet_file,
    read_csv,
    read_jsonl,
    to_text,
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
    # Rows read as something other than the header's columns (a JSON line that is not an
    # object), by position: shown as read when quarantined.
    shown: dict[int, RawRow] = field(default_factory=dict)

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
            RawRecord(
                int(row_number),
                self.shown[position]
                if position in self.shown
                else dict(zip(self.header, _stripped(values), strict=True)),
                why,
            )
            for position, row_number, values, why in zip(
                positions.tolist(),
                self.row_numbers[positions],
                zip(*texts, strict=True),
                problems,
                strict=True,
            )
        ]


def _stripped(values: tuple[str | None, ...]) -> list[str | None]:
    return [value.strip() or None if value is not None else None for value in values]


def batch_of_records(records: list[RawRecord], required: Iterable[str] = ()) -> ColumnBatch:
    """Records read row by row as a column batch: the columns their values name, and the
    ``required`` ones (a key a JSON record leaves out is empty, as a blank CSV cell)."""
    header: dict[str, None] = {}
    shown: dict[int, RawRow] = {}
    for position, record in enumerate(records):
        if record.problem is not None:
            shown[position] = record.values
        else:
            header.update(dict.fromkeys(record.values))
    header.update(dict.fromkeys(sorted(set(required) - header.keys())))
    columns = {
        name: pa.array(
            [
                None if position in shown else record.values.get(name)
                for position, record in enumerate(records)
            ],
            pa.string(),
        )
        for name in header
    }
    row_numbers = np.fromiter((record.row_number for record in records), np.int64, len(records))
    problems = [record.problem for record in records]
    has_problems = any(problem is not None for problem in problems)
    return ColumnBatch(
        list(header),
        columns,
        row_numbers,
        pa.array(problems, pa.string()) if has_problems else None,
        shown,
    )


def column_batches(path: Path, mapping: ImportMapping, batch_size: int) -> Iterator[ColumnBatch]:
    """``path``'s rows in column batches of ``batch_size``; fails before the first row when the
    file lacks a column the mapping reads (which would quarantine every row alike)."""
    file_format = detect_format(path, mapping.file)
    if file_format == "csv":
        return _csv_batches(path, mapping, batch_size)
    if file_format == "jsonl":
        return _jsonl_batches(path, mapping, batch_size)
    if file_format == "parquet":
        return _parquet_batches(path, mapping, batch_size)
    return _record_batches(read_checked(path, mapping), mapping, batch_size)


def _record_batches(
    records: Iterator[RawRecord], mapping: ImportMapping, batch_size: int
) -> Iterator[ColumnBatch]:
    for chunk in chunked(records, batch_size):
        yield batch_of_records(chunk, mapping.columns_used())


_PROBLEM = "\x00problem"  # a block's column of per-row problems (null: none)
_ROW = "\x00row"  # a block's column of row numbers


def _rebatched(
    header: list[str], blocks: Iterator[pa.RecordBatch], batch_size: int
) -> Iterator[ColumnBatch]:
    """Blocks of text columns (then ``_PROBLEM`` and ``_ROW``) cut into batches."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for block in blocks:
        pending.append(block)
        pending_rows += block.num_rows
        while pending_rows >= batch_size:
            table = pa.Table.from_batches(pending)
            yield _column_batch(header, table.slice(0, batch_size))
            rest = table.slice(batch_size)
            pending = rest.combine_chunks().to_batches() if rest.num_rows else []
            pending_rows = rest.num_rows
    if pending_rows:
        yield _column_batch(header, pa.Table.from_batches(pending))


def _block(columns: list[pa.Array], problems: pa.Array | None, first_row: int) -> pa.RecordBatch:
    count = len(columns[0]) if columns else 0
    names = [f"c{index}" for index in range(len(columns))]
    return pa.RecordBatch.from_arrays(
        [
            *columns,
            problems if problems is not None else pa.nulls(count, pa.string()),
            pa.array(np.arange(first_row, first_row + count, dtype=np.int64)),
        ],
        names=[*names, _PROBLEM, _ROW],
    )


def _csv_batches(path: Path, mapping: ImportMapping, batch_size: int) -> Iterator[ColumnBatch]:
    setup = _arrow_setup(path, mapping)
    if setup is None:
        yield from _record_batches(read_checked(path, mapping), mapping, batch_size)
        return
    header, encoding, read_options, parse_options, convert_options = setup
    check_columns(path, mapping, header)
    next_row = [2]  # the header is row 1
    failed = [False]

    def blocks() -> Iterator[pa.RecordBatch]:
        # A record of another width (or something else pyarrow splits differently) ends the
        # blocks: the row-by-row reader takes over from the first record not yet delivered.
        opened = partial(
            pacsv.open_csv,
            path,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
        for block in _arrow_blocks(opened, failed):
            spanning = _first_spanning_lines(block)
            if spanning is not None:
                # A value spanning lines: a quoted one, or a quote never closed. Only the
                # row-by-row reader tells them apart; it takes over from that record.
                block, failed[0] = block.slice(0, spanning), True
            columns, problems = _decoded(block, header, encoding)
            yield _block(columns, problems, next_row[0])
            next_row[0] += block.num_rows
            if failed[0]:
                return

    yield from _rebatched(header, blocks(), batch_size)
    if failed[0]:
        rest = read_csv(path, mapping.file, from_row=next_row[0])
        yield from _record_batches(rest, mapping, batch_size)


def _arrow_blocks(open_reader: Callable[[], Any], failed: list[bool]) -> Iterator[pa.RecordBatch]:
    """The batches of the pyarrow reader ``open_reader`` opens, until pyarrow refuses the file or
    a batch: then ``failed[0]`` is set, and the caller's row-by-row reader takes over."""
    try:
        reader = open_reader()
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        failed[0] = True
        return
    while True:
        try:
            block = reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            failed[0] = True
            return
        yield block


def _first_spanning_lines(block: pa.RecordBatch) -> int | None:
    """The position of the block's first record with a line break in a value, if any."""
    spanning: Any = None
    for column in block.columns:
        breaks = pc.fill_null(pc.match_substring_regex(column, "[\r\n]"), False)
        spanning = breaks if spanning is None else pc.or_(spanning, breaks)
    if spanning is None or not pc.any(spanning).as_py():
        return None
    return int(pc.index(spanning, True).as_py())


def _decoded(
    block: pa.RecordBatch, header: list[str], encoding: TextEncoding
) -> tuple[list[pa.Array], pa.Array | None]:
    """A block of byte columns as text, and each row's problem (None: no row has one)."""
    if encoding.candidates[0] == "utf-8":
        try:
            return [pc.cast(column, pa.string()) for column in block.columns], None
        except pa.ArrowInvalid:
            pass  # some row is not UTF-8: decoded a row at a time below
    rows = zip(*(column.to_pylist() for column in block.columns), strict=True)
    decoded = [encoding.decode_bytes(list(values), header) for values in rows]
    columns = [
        pa.array([values[index] for values, _ in decoded], pa.string())
        for index in range(len(header))
    ]
    return columns, pa.array([problem for _, problem in decoded], pa.string())


def _column_batch(header: list[str], table: pa.Table) -> ColumnBatch:
    columns = {column: table.column(index).combine_chunks() for index, column in enumerate(header)}
    problems = table.column(_PROBLEM).combine_chunks()
    for column, values in columns.items():
        nul = pc.fill_null(pc.match_substring(values, "\x00"), False)
        if pc.any(nul).as_py():
            problems = pc.if_else(
                pc.and_(nul, pc.is_null(problems)), _NUL_PROBLEM.format(column), problems
            )
    row_numbers = table.column(_ROW).to_numpy()
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


def _parquet_batches(path: Path, mapping: ImportMapping, batch_size: int) -> Iterator[ColumnBatch]:
    parquet = parquet_file(path)
    header = _clean_header([str(name) for name in parquet.schema_arrow.names])
    check_columns(path, mapping, header)

    def blocks() -> Iterator[pa.RecordBatch]:
        next_row = 1  # Parquet rows count from 1
        for block in parquet.iter_batches(batch_size=_PARQUET_BLOCK_ROWS):
            yield _block([_as_text(column) for column in block.columns], None, next_row)
            next_row += block.num_rows

    return _rebatched(header, blocks(), batch_size)


_PARQUET_BLOCK_ROWS = 65_536


def _as_text(values: pa.Array) -> pa.Array:
    """A typed column as the text ``readers.to_text`` makes of each value."""
    if pa.types.is_string(values.type):
        return values
    if pa.types.is_large_string(values.type) or (
        pa.types.is_dictionary(values.type) and pa.types.is_string(values.type.value_type)
    ):
        return pc.cast(values, pa.string())
    if pa.types.is_integer(values.type):
        return pc.cast(values, pa.string())
    return pa.array([to_text(value) for value in values.to_pylist()], pa.string())


def _jsonl_batches(path: Path, mapping: ImportMapping, batch_size: int) -> Iterator[ColumnBatch]:
    setup = _jsonl_setup(path, mapping)
    if setup is None:
        yield from _checked_jsonl(path, mapping, read_jsonl(path, mapping.file), batch_size)
        return
    header, schema = setup
    next_line = [1]
    failed = [False]

    def blocks() -> Iterator[pa.RecordBatch]:
        # A line pyarrow cannot take as the others (not an object, another type, a key not seen
        # before, bad JSON) ends the blocks: the row-by-row reader goes on from that block.
        opened = partial(
            pajson.open_json,
            path,
            read_options=pajson.ReadOptions(use_threads=False, block_size=_BLOCK_BYTES),
            parse_options=pajson.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="error"
            ),
        )
        for block in _arrow_blocks(opened, failed):
            columns = [_json_text(column) for column in block.columns]
            yield _block(columns, None, next_line[0])
            next_line[0] += block.num_rows

    yield from _rebatched(header, blocks(), batch_size)
    if failed[0]:
        rest = read_jsonl(path, mapping.file, from_line=next_line[0])
        yield from _record_batches(rest, mapping, batch_size)


def _json_text(values: pa.Array) -> pa.Array:
    """A JSON column (strings, whole numbers, booleans) as ``readers.to_text`` makes it."""
    if pa.types.is_boolean(values.type):
        return pc.if_else(values, "True", "False")
    return _as_text(values)


# A blank line, which pyarrow skips without counting. (One that starts the file is looked for
# apart: an alternative for the file's start made the search forty times slower.)
_BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*\n|\n[ \t\r\f\v]+\Z")
_BLANK_FIRST_LINE = re.compile(rb"[ \t\r\f\v]*(?:\n|\Z)")
_JSON_TYPES = {pa.string(): pa.string(), pa.int64(): pa.int64(), pa.bool_(): pa.bool_()}


def _jsonl_setup(path: Path, mapping: ImportMapping) -> tuple[list[str], pa.Schema] | None:
    """The keys and column types pyarrow reads ``path`` with; None when only the row reader
    can read it as it must be read."""
    encoding = text_encoding(mapping.file.encoding)
    if encoding.codec is not None or encoding.candidates[0] != "utf-8":
        return None
    if not path.stat().st_size:
        return None
    with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if _BLANK_FIRST_LINE.match(data) or _BLANK_LINE.search(data):
            return None
    try:
        first = pajson.open_json(
            path, read_options=pajson.ReadOptions(use_threads=False, block_size=_BLOCK_BYTES)
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    fields = []
    for column in first.schema:
        kind = column.type
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_null(kind):
            kind = pa.string()  # pyarrow read an ISO date (or only nulls): keep the text
        if kind not in _JSON_TYPES:
            return None  # decimals, nested values: their text is Python's to make
        fields.append(pa.field(column.name, _JSON_TYPES[kind]))
    schema = pa.schema(fields)
    header = [str(name) for name in schema.names]
    _check_keys(path, mapping, header)
    return header, schema


def _checked_jsonl(
    path: Path, mapping: ImportMapping, records: Iterator[RawRecord], batch_size: int
) -> Iterator[ColumnBatch]:
    chunks = chunked(records, batch_size)
    first = next(chunks, None)
    if first is None:
        return
    read = [record for record in first if record.problem is None]
    if read:
        _check_keys(path, mapping, list({key: None for r in read for key in r.values}))
    yield batch_of_records(first, mapping.columns_used())
    for chunk in chunks:
        yield batch_of_records(chunk, mapping.columns_used())


def _check_keys(path: Path, mapping: ImportMapping, keys: list[str]) -> None:
    """ReadError when no record of the file's first batch names a key the mapping reads: a
    misspelt key would otherwise leave its field empty in every row. (A key some records
    leave out is empty in those, as JSON writers leave out empty values.)"""
    missing = sorted(mapping.columns_used() - set(keys))
    if missing:
        raise ReadError(
            f"{path.name} has no column {', '.join(repr(c) for c in missing)} (no key of its "
            f"first records), which the mapping '{mapping.name}' reads; their keys are: "
            + ", ".join(keys)
        )


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
