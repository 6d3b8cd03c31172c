"""The convert step of an import: a batch's columns into target values, a column at a time.

Per-row Python (splitting, stripping, converting, hashing a dictionary per row) cost an import
of a million call reports several times the database's own insert time. Here pyarrow.compute
and numpy strip, check and convert whole columns; values that repeat (channels, departments,
codes, references, a field joined from several columns, survey answers) are converted once
per distinct value by the row converter's own per-value code. Only the rows a column check
rejects (an empty required value, a date in another format, a code the store does not know)
are converted again one by one (``rows.RowConverter``): that explains why they fail, in the
words a row-by-row import would use, or takes a value only the general parser reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cpxm.ingest.column_reader import WHITESPACE, ColumnBatch, batch_of_records
from cpxm.ingest.dates import DateFormat
from cpxm.ingest.mapping import CPXM_IDS, ImportMapping
from cpxm.ingest.raw import RawRecord, RawRow
from cpxm.ingest.rows import (
    _ABSENT,
    ConvertedRow,
    Lookups,
    Reference,
    RowConverter,
    RowError,
    _answer_texts,
    _FieldPlan,
)
from cpxm.ingest.targets import TARGETS, FieldKind

_MAX_SOURCE_ID = 200


@dataclass
class FieldColumn:
    """One target field's values for a batch: an array, or ``constant`` for every row."""

    values: pa.Array | None  # typed for the column writer (a reference as "system\x1fid")
    constant: Any = None  # the value of every row when ``values`` is None (None: absent)
    fast: pa.Array | None = None  # per row: whether the column path could convert it
    # For a reference column kept as its source ids: the system they belong to.
    reference_system: str | None = None
    reference_column: str = ""
    # Converted per distinct value: the values (None: absent) and each row's index into them.
    distinct: tuple[list[Any], np.ndarray] | None = None

    def python(self, positions: np.ndarray) -> list[Any]:
        """The values at ``positions`` as the row converter gives them (None: absent)."""
        if self.distinct is not None:
            values, codes = self.distinct
            return [values[code] for code in codes[positions].tolist()]
        if self.values is None:
            return [self.constant] * len(positions)
        taken: list[Any] = self.values.take(pa.array(positions, pa.int64())).to_pylist()
        if self.reference_system is None:
            return taken
        system, column = self.reference_system, self.reference_column
        return [None if text is None else Reference(system, text, column) for text in taken]


@dataclass
class ConvertedBatch:
    """A batch converted: per row its source key and digest, and either its field values
    (``fast``) or its row-by-row outcome (``explained``: a converted row, or why it fails)."""

    batch: ColumnBatch
    keys: pa.Array  # the source id (null: none) as far as it can be told, for the ledger
    digests: list[str]
    fields: dict[str, FieldColumn]
    fast: np.ndarray  # bool per row: every field converted by columns
    explained: dict[int, ConvertedRow | str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.batch)

    def rows(self, positions: np.ndarray) -> list[ConvertedRow]:
        """The ``fast`` rows at ``positions`` as converted rows, for the writers that take rows."""
        keys = self.keys.take(pa.array(positions, pa.int64())).to_pylist()
        columns = [(name, column.python(positions)) for name, column in self.fields.items()]
        rows = []
        for index, key in enumerate(keys):
            values = {name: found[index] for name, found in columns}
            rows.append(
                ConvertedRow(
                    source_id=key,
                    values={name: value for name, value in values.items() if value is not None},
                )
            )
        return rows


class ColumnConverter:
    """A mapping compiled once per import for column batches; ``explain`` is its row converter."""

    def __init__(self, mapping: ImportMapping, lookups: Lookups) -> None:
        self.mapping = mapping
        self.explain = RowConverter(mapping, lookups)
        self._fields = [
            (name, _ColumnField.of(_FieldPlan(name, definition, spec, mapping, lookups)))
            for name, definition in TARGETS[mapping.target].fields.items()
            for spec in [mapping.fields.get(name)]
        ]
        if mapping.answers is not None:
            self._fields.append(("answers", _ColumnField.of_answers(mapping)))
        self._digest_columns = tuple(sorted(mapping.columns_used()))
        meaning = mapping.model_dump(
            mode="json", include={"target", "source_id", "fields", "answers"}
        )
        for spec in [*meaning["fields"].values(), *(meaning["answers"] or {}).values()]:
            # Unset, it is left out: rows stored before the option existed stay unchanged.
            if spec.get("on_invalid") is None:
                spec.pop("on_invalid", None)
        # What a row's digest covers: the mapping's meaning, and the text of every column it
        # reads; so an unchanged row is recognised, and editing a mapping re-applies its rows.
        self._digest_seed = hashlib.sha256(
            json.dumps(meaning, sort_keys=True, separators=(",", ":")).encode()
        )

    def records(self, records: Sequence[RawRecord]) -> ConvertedBatch:
        """Rows already read (a pushed batch, a replay) converted as a file's batch is."""
        return self(batch_of_records(list(records), self.mapping.columns_used()))

    def __call__(self, batch: ColumnBatch) -> ConvertedBatch:
        count = len(batch)
        texts: dict[str, pa.Array] = {}

        def text_of(column: str) -> pa.Array:
            if column not in texts:
                values = batch.columns.get(column)
                if values is None:
                    texts[column] = pa.nulls(count, pa.string())
                else:
                    trimmed = pc.utf8_trim(values, characters=WHITESPACE)
                    texts[column] = pc.if_else(pc.equal(trimmed, ""), None, trimmed)
            return texts[column]

        source_columns = self.mapping.source_id_columns
        if len(source_columns) == 1:
            source_ids = text_of(source_columns[0])
        else:
            # Null when a part is empty: the row converter says which.
            source_ids = pc.binary_join_element_wise(*map(text_of, source_columns), "|")
        keys = pc.utf8_slice_codeunits(source_ids, 0, _MAX_SOURCE_ID)
        fast = pc.fill_null(pc.less_equal(pc.utf8_length(source_ids), _MAX_SOURCE_ID), False)
        fields: dict[str, FieldColumn] = {}
        for name, column in self._fields:
            converted = column.convert(
                {source: text_of(source) for source in column.columns}, count
            )
            fields[name] = converted
            if converted.fast is not None:
                fast = pc.and_(fast, converted.fast)
        if batch.problems is not None:
            fast = pc.and_(fast, pc.is_null(batch.problems))
        # A column missing from the batch cannot be converted by columns: its rows are explained.
        if any(column not in batch.columns for column in self.mapping.columns_used()):
            fast = pa.repeat(False, count)
        fast_rows = fast.to_numpy(zero_copy_only=False)
        converted_batch = ConvertedBatch(
            batch=batch,
            keys=keys,
            digests=self._digests(text_of),
            fields=fields,
            fast=fast_rows,
        )
        rejected = np.flatnonzero(~fast_rows)
        for position, record in zip(rejected.tolist(), batch.records(rejected), strict=True):
            if record.problem is not None:
                converted_batch.explained[position] = record.problem
                continue
            try:
                converted_batch.explained[position] = self.explain(record.values)
            except RowError as failure:
                converted_batch.explained[position] = str(failure)
        return converted_batch

    def _digests(self, text_of: Callable[[str], pa.Array]) -> list[str]:
        """A SHA-256 per row of what it says to this mapping: equal rows need no writing."""
        joined = pc.binary_join_element_wise(
            *[pc.fill_null(text_of(column), "\x00") for column in self._digest_columns], "\x1f"
        )
        seed = self._digest_seed
        digests = []
        for text in joined.to_pylist():
            digest = seed.copy()
            digest.update(text.encode())
            digests.append(digest.hexdigest())
        return digests


class _ColumnField:
    """How one field's columns are converted: at once (text, dates), or per distinct value."""

    def __init__(
        self,
        kind: FieldKind | None,
        columns: tuple[str, ...],
        convert: Callable[[RawRow], Any],
        plan: _FieldPlan | None = None,
    ) -> None:
        self.kind = kind
        self.columns = columns
        self.convert_raw = convert
        self.plan = plan
        self.constant: Any = _ABSENT
        self.constant_fails = False
        self.when_empty: Any = _ABSENT
        self.empty_fails = False
        self.date_pattern: DateFormat | None = None
        self.vectorised = False
        if plan is None or len(columns) != 1:
            return
        spec = plan.spec
        if spec is None or spec.source_system_column or len(plan.columns) != 1:
            return
        plain = plan.value_map is None and plan.pattern is None
        if plain and self.kind is FieldKind.DATETIME and spec.date_format:
            self.date_pattern = DateFormat.compile(spec.date_format)
        self.vectorised = plain and (
            self.kind is FieldKind.TEXT
            or (self.kind is FieldKind.REFERENCE and plan.reference_system != CPXM_IDS)
            or self.date_pattern is not None
        )
        if self.vectorised:
            try:
                self.when_empty = plan.convert({columns[0]: None})
            except RowError:
                self.empty_fails = True

    @classmethod
    def of(cls, plan: _FieldPlan) -> _ColumnField:
        spec = plan.spec
        kind = plan.definition.kind
        if spec is None or plan.constant is not None:
            field = cls(kind, (), plan.convert, plan)
            if spec is None and plan.fallback is None and not plan.definition.required:
                return field  # never given: absent from every row
            try:
                field.constant = plan.convert({})
            except RowError:
                field.constant_fails = True
            return field
        return cls(kind, tuple(spec.columns_read), plan.convert, plan)

    @classmethod
    def of_answers(cls, mapping: ImportMapping) -> _ColumnField:
        answers = mapping.answers or {}
        columns = tuple(dict.fromkeys(c for spec in answers.values() for c in spec.columns))
        return cls(None, columns, lambda raw: _answer_texts(answers, raw))

    def convert(self, texts: dict[str, pa.Array], count: int) -> FieldColumn:
        if not self.columns:
            if self.constant_fails:
                return FieldColumn(None, None, pa.repeat(False, count))
            return FieldColumn(None, None if self.constant is _ABSENT else self.constant)
        if not self.vectorised:
            return self._per_distinct(texts, count)
        plan = self.plan
        assert plan is not None
        column = texts[self.columns[0]]
        present = pc.is_valid(column)
        reference_system = None
        if self.kind is FieldKind.TEXT:
            values = column
            fast = pc.less_equal(pc.utf8_length(column), plan.definition.max_length)
        elif self.kind is FieldKind.REFERENCE:
            values, fast = column, present
            reference_system = plan.reference_system
        else:
            assert self.date_pattern is not None
            values, fast = self.date_pattern.parse_column(column)

        def result(values: pa.Array, fast: pa.Array) -> FieldColumn:
            return FieldColumn(values, None, fast, reference_system, plan.reference_column)

        # Empty cells: the field's default, nothing, or (when required) the row converter's error.
        fast = pc.fill_null(fast, False)
        if pc.all(present).as_py():
            return result(values, fast)
        if self.empty_fails:
            return result(values, pc.and_(fast, present))
        if self.when_empty is not _ABSENT:
            if reference_system is not None:
                # A default reference is not a plain source id: those rows are explained.
                return result(values, fast)
            values = pc.fill_null(values, pa.scalar(self.when_empty, type=values.type))
        return result(values, pc.or_(fast, pc.invert(present)))

    def _per_distinct(self, texts: dict[str, pa.Array], count: int) -> FieldColumn:
        """Convert each distinct combination of the field's cells once, by the row
        converter's code (an empty cell is a value too: the default, or the error)."""
        if len(self.columns) == 1:
            # One column: its dictionary is the distinct values (an empty cell one of them).
            column = self.columns[0]
            encoded = texts[column].dictionary_encode(null_encoding="encode")
            codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
            cells = {column: encoded.dictionary.to_pylist()}
            distinct_count = len(encoded.dictionary)
        else:
            codes = np.zeros(count, dtype=np.int64)
            firsts = np.zeros(1, dtype=np.int64)
            for column in self.columns:
                encoded = texts[column].dictionary_encode(null_encoding="encode")
                indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
                combined = codes * (len(encoded.dictionary) + 1) + indices
                _, firsts, codes = np.unique(combined, return_index=True, return_inverse=True)
            taken = pa.array(firsts, pa.int64())
            cells = {column: texts[column].take(taken).to_pylist() for column in self.columns}
            distinct_count = len(firsts)
        results: list[Any] = []
        good: list[bool] = []
        for index in range(distinct_count):
            try:
                value = self.convert_raw({column: cells[column][index] for column in self.columns})
            except RowError:
                results.append(None)
                good.append(False)
                continue
            results.append(None if value is _ABSENT else value)
            good.append(True)
        code_array = pa.array(codes, pa.int64())
        typed = None
        if self.kind is not None:
            typed = _typed_array([_stored(value) for value in results], self.kind).take(code_array)
        return FieldColumn(
            typed,
            None,
            pa.array(good, pa.bool_()).take(code_array),
            distinct=(results, codes),
        )


def _stored(value: Any) -> Any:
    """A converted value in the form the column writer takes (a reference as its key)."""
    if isinstance(value, Reference):
        return f"{value.source_system}\x1f{value.source_id}"
    return value


_ARROW_TYPES = {
    FieldKind.DATETIME: pa.timestamp("us"),
    FieldKind.DATE: pa.date32(),
    FieldKind.NUMBER: pa.float64(),
    FieldKind.CODE_LIST: pa.list_(pa.string()),
}


def _typed_array(values: list[Any], kind: FieldKind) -> pa.Array:
    """A field's converted values as an array of the kind's type (text for the rest)."""
    return pa.array(values, _ARROW_TYPES.get(kind, pa.string()))
