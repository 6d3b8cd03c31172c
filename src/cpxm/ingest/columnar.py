"""Convert a CSV export's batches a column at a time (read by ``column_reader``).

Per-row Python (splitting, stripping, converting, hashing a dictionary per row) cost an import
of a million call reports several times the database's own insert time. Here pyarrow.compute
and numpy strip, check and convert whole columns, and values that repeat (channels,
departments, codes, references) are converted once per batch by the same per-value code as the
row-by-row path. Whatever a column check does not pass (an empty required value, a date in
another format, a code the store does not know) is handed to the row-by-row path with its row,
so its outcome and its reason are those of that path, exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cpxm.ingest.column_reader import WHITESPACE, ColumnBatch
from cpxm.ingest.dates import DateFormat
from cpxm.ingest.mapping import CPXM_IDS, ImportMapping
from cpxm.ingest.rows import _ABSENT, Lookups, Reference, RowError, _FieldPlan
from cpxm.ingest.targets import TARGETS, FieldKind

# Targets whose rows the column-wise writer stores (cpxm.ingest.column_writer).
COLUMNAR_TARGETS = frozenset({"interactions"})


def columnar_plan(mapping: ImportMapping, lookups: Lookups) -> ColumnConverter | None:
    """The converter for the mapping's batches, or None when its rows take the row path."""
    if mapping.target not in COLUMNAR_TARGETS or mapping.answers is not None:
        return None
    return ColumnConverter.for_mapping(mapping, lookups)


@dataclass
class FieldColumn:
    """One target field's values for a batch: an array, or ``constant`` for every row."""

    values: pa.Array | None
    constant: Any = None
    fast: pa.Array | None = None  # per row: whether the column path could convert it
    # For a reference column kept as its source ids: the system they belong to. (Otherwise a
    # reference is stored as "system\x1fid", see ``_stored``.)
    reference_system: str | None = None


@dataclass
class ConvertedBatch:
    """A batch's source keys, digests and field values, and which rows are ready to write."""

    keys: pa.Array  # the source id (null: none); as the row-by-row path's key
    digests: list[str]
    fields: dict[str, FieldColumn]
    fast: np.ndarray  # bool per row: every field converted here


class ColumnConverter:
    """The mapping compiled for column batches (the counterpart of ``rows.RowConverter``)."""

    def __init__(
        self,
        mapping: ImportMapping,
        digest_seed: Any,
        fields: list[tuple[str, _ColumnField]],
    ) -> None:
        self.mapping = mapping
        self._digest_seed = digest_seed
        self._fields = fields
        self._digest_columns = tuple(sorted(mapping.columns_used()))

    @classmethod
    def for_mapping(cls, mapping: ImportMapping, lookups: Lookups) -> ColumnConverter | None:
        if len(mapping.source_id_columns) != 1:
            return None
        fields: list[tuple[str, _ColumnField]] = []
        for name, definition in TARGETS[mapping.target].fields.items():
            plan = _FieldPlan(name, definition, mapping.fields.get(name), mapping, lookups)
            column = _ColumnField.of(plan)
            if column is None:
                return None
            fields.append((name, column))
        meaning = mapping.model_dump(
            mode="json", include={"target", "source_id", "fields", "answers"}
        )
        seed = hashlib.sha256(json.dumps(meaning, sort_keys=True, separators=(",", ":")).encode())
        return cls(mapping, seed, fields)

    def __call__(self, batch: ColumnBatch) -> ConvertedBatch:
        count = len(batch)
        texts: dict[str, pa.Array] = {}

        def text_of(column: str) -> pa.Array:
            if column not in texts:
                trimmed = pc.utf8_trim(batch.columns[column], characters=WHITESPACE)
                texts[column] = pc.if_else(pc.equal(trimmed, ""), None, trimmed)
            return texts[column]

        source_column = self.mapping.source_id_columns[0]
        source_ids = text_of(source_column)
        # The key as the row-by-row path takes it; longer ids fail there, with the reason.
        keys = pc.utf8_slice_codeunits(source_ids, 0, 200)
        fast = pc.fill_null(pc.less_equal(pc.utf8_length(source_ids), 200), False)
        fields: dict[str, FieldColumn] = {}
        for name, field in self._fields:
            converted = field.convert(text_of(field.column) if field.column else None, count)
            fields[name] = converted
            if converted.fast is not None:
                fast = pc.and_(fast, converted.fast)
        if batch.problems is not None:
            fast = pc.and_(fast, pc.is_null(batch.problems))
        joined = pc.binary_join_element_wise(
            *[pc.fill_null(text_of(column), "\x00") for column in self._digest_columns], "\x1f"
        )
        seed = self._digest_seed
        digests = []
        for text in joined.to_pylist():
            digest = seed.copy()
            digest.update(text.encode())
            digests.append(digest.hexdigest())
        return ConvertedBatch(
            keys=keys,
            digests=digests,
            fields=fields,
            fast=fast.to_numpy(zero_copy_only=False),
        )


class _ColumnField:
    """How one field's column is converted: at once (text, dates), or per distinct value."""

    def __init__(
        self,
        plan: _FieldPlan,
        column: str | None,
        constant: Any = _ABSENT,
        constant_fails: bool = False,
    ) -> None:
        self.plan = plan
        self.column = column
        self.constant = constant
        self.constant_fails = constant_fails
        self.kind = plan.definition.kind
        self.when_empty: Any = _ABSENT
        self.empty_fails = False
        self.date_pattern: DateFormat | None = None
        self.compiled: Callable[[dict[str, str | None]], Any] | None = plan.compiled()
        if column is not None:
            try:
                self.when_empty = plan.convert({column: None})
            except RowError:
                self.empty_fails = True
            spec = plan.spec
            if (
                self.kind is FieldKind.DATETIME
                and spec is not None
                and spec.date_format
                and plan.value_map is None
                and plan.pattern is None
            ):
                self.date_pattern = DateFormat.compile(spec.date_format)

    @classmethod
    def of(cls, plan: _FieldPlan) -> _ColumnField | None:
        """The column plan for ``plan``'s field; None when only the row path can take it."""
        spec = plan.spec
        if spec is not None and spec.source_system_column:
            return None
        if spec is None or plan.constant is not None:
            compiled = plan.compiled()
            if compiled is None:
                return cls(plan, None)
            try:
                return cls(plan, None, constant=compiled({}))
            except RowError:
                return cls(plan, None, constant_fails=True)
        if len(plan.columns) != 1:
            return None
        return cls(plan, plan.columns[0])

    def convert(self, texts: pa.Array | None, count: int) -> FieldColumn:
        if texts is None:
            if self.constant_fails:
                return FieldColumn(None, None, pa.repeat(False, count))
            value = None if self.constant is _ABSENT else self.constant
            return FieldColumn(None, _stored(value))
        present = pc.is_valid(texts)
        plain = self.plan.value_map is None and self.plan.pattern is None
        reference_system = None
        if plain and self.kind is FieldKind.TEXT:
            values, fast = (
                texts,
                pc.less_equal(pc.utf8_length(texts), self.plan.definition.max_length),
            )
        elif plain and self.kind is FieldKind.REFERENCE and self.plan.reference_system != CPXM_IDS:
            # The row path makes any text a Reference of the field's system (``_typed_path``).
            values, fast = texts, pc.is_valid(texts)
            reference_system = self.plan.reference_system
        elif self.date_pattern is not None:
            values, fast = self.date_pattern.parse_column(texts)
        else:
            values, fast = self._per_distinct(texts)
        # Empty cells: the field's default, nothing, or (when required) the row path's error.
        fast = pc.fill_null(fast, False)
        if pc.all(present).as_py():
            return FieldColumn(values, None, fast, reference_system)
        if self.empty_fails:
            return FieldColumn(values, None, pc.and_(fast, present), reference_system)
        if self.when_empty is not _ABSENT:
            if reference_system is not None:
                # A default reference is not a plain source id: those rows go the row path.
                return FieldColumn(values, None, fast, reference_system)
            values = pc.fill_null(values, pa.scalar(_stored(self.when_empty), type=values.type))
        return FieldColumn(values, None, pc.or_(fast, pc.invert(present)), reference_system)

    def _per_distinct(self, texts: pa.Array) -> tuple[pa.Array, pa.Array]:
        """Convert each distinct text once with the row path's own code."""
        encoded = texts.dictionary_encode()
        assert self.column is not None
        column = self.column
        convert = self.compiled
        assert convert is not None
        results: list[Any] = []
        good: list[bool] = []
        for text in encoded.dictionary.to_pylist():
            try:
                value = convert({column: text})
            except RowError:
                results.append(None)
                good.append(False)
                continue
            results.append(_stored(value))
            good.append(True)
        indices = encoded.indices
        return _typed_array(results, self.kind).take(indices), pa.array(good, pa.bool_()).take(
            indices
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


@dataclass
class ColumnWork:
    """A column batch with its conversion, ready to apply."""

    batch: ColumnBatch
    converted: ConvertedBatch
