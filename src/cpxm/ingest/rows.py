"""Turn one raw row into typed target values, or say precisely why it cannot be."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from cpxm.ingest.dates import DateFormat
from cpxm.ingest.mapping import CPXM_IDS, FieldSpec, ImportMapping
from cpxm.ingest.raw import RawRow
from cpxm.ingest.targets import TARGETS, FieldDefinition, FieldKind

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A number with optional grouping by three: 1234.5, 1,234.5, -12 (shown with "." as decimal mark).
_NUMBER = {
    ".": re.compile(r"^[+-]?(\d+|\d{1,3}(,\d{3})+)(\.\d+)?$"),
    ",": re.compile(r"^[+-]?(\d+|\d{1,3}(\.\d{3})+)(,\d+)?$"),
}
_SHOWN_CHOICES = 12
VALUE_MAP_HINT = "; add the source value to the field's 'values' map"


class RowError(ValueError):
    """A row that cannot be stored as it is; the message says what to change."""


@dataclass
class Lookups:
    """The taxonomy codes the store knows, loaded once per import."""

    codes: dict[str, set[str]] = field(default_factory=dict)


class Reference(NamedTuple):
    """A stakeholder named by a source system's id, resolved against the store when applied."""

    source_system: str  # CPXM_IDS: ``source_id`` is a CPXM stakeholder id
    source_id: str
    column: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.source_system, self.source_id)


class QualityIssue(NamedTuple):
    """A value that could not be read, blanked so the row could be stored (``on_invalid``)."""

    field: str
    column: str  # the column(s) it was read from, or the field for a constant
    value: str | None
    reason: str


@dataclass(frozen=True)
class ConvertedRow:
    source_id: str
    values: dict[str, Any]
    issues: tuple[QualityIssue, ...] = ()


class RowConverter:
    """A mapping compiled once per import, converting one row at a time: the reference for
    every value and every error message. An import converts whole columns
    (``columnar.ColumnConverter``) and asks this only about the rows those reject."""

    def __init__(self, mapping: ImportMapping, lookups: Lookups) -> None:
        self.mapping = mapping
        self._source_columns = tuple(mapping.source_id_columns)
        plans = [
            _FieldPlan(name, definition, mapping.fields.get(name), mapping, lookups)
            for name, definition in TARGETS[mapping.target].fields.items()
        ]
        # A field the mapping never gives, without a default and not required, is left out.
        self._fields = [
            plan
            for plan in plans
            if plan.spec is not None or plan.fallback is not None or plan.definition.required
        ]

    def __call__(self, raw: RawRow) -> ConvertedRow:
        source_id = _source_id(self._source_columns, raw)
        values: dict[str, Any] = {}
        issues: list[QualityIssue] = []
        for plan in self._fields:
            try:
                value = plan.convert(raw)
            except RowError as failure:
                if not plan.blank_when_invalid:
                    raise
                issues.append(plan.issue(raw, str(failure)))
                continue
            if value is not _ABSENT:
                values[plan.name] = value
        if self.mapping.answers is not None:
            values["answers"] = _answer_texts(self.mapping.answers, raw)
        return ConvertedRow(source_id=source_id, values=values, issues=tuple(issues))


_ABSENT = object()  # a field neither the row nor a default gives: left out of the values


class _FieldPlan:
    """How one target field's value is taken from a row and checked."""

    def __init__(
        self,
        name: str,
        definition: FieldDefinition,
        spec: FieldSpec | None,
        mapping: ImportMapping,
        lookups: Lookups,
    ) -> None:
        self.name = name
        self.definition = definition
        self.spec = spec
        self.mapping = mapping
        self.lookups = lookups
        self.constant = str(spec.value) if spec is not None and spec.value is not None else None
        self.columns = tuple(spec.columns) if spec is not None else ()
        self.fallback: str | None = None
        if spec is not None and spec.default is not None:
            self.fallback = str(spec.default)
        elif definition.default is not None:
            self.fallback = definition.default
        self.value_map = (
            {_normalise(key): value for key, value in spec.values.items()}
            if spec is not None and spec.values
            else None
        )
        self.pattern = re.compile(spec.pattern) if spec is not None and spec.pattern else None
        date_format = spec.date_format if spec is not None else None
        compiled = DateFormat.compile(date_format) if date_format else None
        self.date_parser = compiled.parse if compiled is not None else None
        self.folded_choices = {choice.casefold(): choice for choice in definition.choices}
        known = lookups.codes.get(definition.code_table or "", set())
        self.known_codes = known
        self.folded_codes = {code.casefold(): code for code in known}
        # A reference's system and the column named in its errors, as _typed_value finds them.
        self.reference_system = (spec.source_system if spec else None) or mapping.source_system
        self.reference_column = spec.columns[0] if spec and spec.columns else name
        on_invalid = spec.on_invalid if spec is not None else None
        self.blank_when_invalid = (
            on_invalid == "blank" if on_invalid is not None else definition.blank_when_invalid
        ) and not definition.required

    def issue(self, raw: RawRow, reason: str) -> QualityIssue:
        """The data-quality issue of this field's value in ``raw``, which failed with ``reason``."""
        if self.constant is not None:
            return QualityIssue(self.name, self.name, self.constant, reason)
        value = " ".join(text for column in self.columns if (text := raw.get(column)) is not None)
        return QualityIssue(self.name, " + ".join(self.columns), value or None, reason)

    def convert(self, raw: RawRow) -> Any:
        if self.constant is not None:
            text: str | None = self.constant
        elif self.columns:
            text = _columns_text(self.columns, raw)
        else:
            text = None
        if text is None:
            text = self.fallback
        if text is None:
            if self.definition.required:
                raise RowError(
                    f"{_where(self.spec, self.name)} is empty, and '{self.name}' is required"
                )
            return _ABSENT
        value = self._typed(text)
        spec = self.spec
        if isinstance(value, Reference) and spec is not None and spec.source_system_column:
            value = _with_row_system(value, spec.source_system_column, raw)
        return value

    def _typed(self, text: str) -> Any:
        if self.value_map is not None:
            text = self.value_map.get(_normalise(text), text)
        spec = self.spec
        if self.pattern is not None and not self.pattern.fullmatch(text):
            assert spec is not None
            expected = spec.pattern_description or f"a value matching {spec.pattern}"
            raise RowError(f"{_where(spec, self.name)} is '{_show(text)}', expected {expected}")
        kind = self.definition.kind
        if kind is FieldKind.TEXT:
            if len(text) > self.definition.max_length:
                raise RowError(
                    f"{_where(spec, self.name)} is {len(text)} characters long; '{self.name}' "
                    f"takes at most {self.definition.max_length}"
                )
            return text
        if kind is FieldKind.DATETIME or kind is FieldKind.DATE:
            parsed = self.date_parser(text) if self.date_parser is not None else None
            if parsed is None:
                parsed = _parse_datetime(text, spec, _where(spec, self.name))
            return parsed.date() if kind is FieldKind.DATE else parsed
        if kind is FieldKind.CHOICE:
            choice = self.folded_choices.get(text.casefold())
            if choice is not None:
                return choice
        elif kind is FieldKind.CODE:
            if text in self.known_codes:
                return text
            code = self.folded_codes.get(text.casefold())
            if code is not None:
                return code
        elif kind is FieldKind.REFERENCE:
            return _reference(self.reference_system, text, self.reference_column)
        # Everything else, and every error message, through the general path.
        return _typed_value(self.name, text, spec, self.definition, self.mapping, self.lookups)


def _columns_text(columns: tuple[str, ...], raw: RawRow) -> str | None:
    if len(columns) == 1:
        column = columns[0]
        if column not in raw:
            raise RowError(f"has no column '{column}'; the file's columns are: {', '.join(raw)}")
        return raw[column]
    pieces = []
    for column in columns:
        if column not in raw:
            raise RowError(f"has no column '{column}'; the file's columns are: {', '.join(raw)}")
        value = raw[column]
        if value is not None:
            pieces.append(value)
    return " ".join(pieces) if pieces else None


def _with_row_system(reference: Reference, column: str, raw: RawRow) -> Reference:
    if column not in raw:
        raise RowError(f"has no column '{column}' (the reference's source_system_column)")
    system = raw[column]
    if system is None:
        return reference
    return _reference(system, reference.source_id, reference.column)


def _reference(system: str, source_id: str, column: str) -> Reference:
    if system == CPXM_IDS and not source_id.isdigit():
        raise RowError(f"column '{column}' is '{_show(source_id)}', expected a CPXM stakeholder id")
    return Reference(source_system=system, source_id=source_id, column=column)


def _answer_texts(answers: dict[str, FieldSpec], raw: RawRow) -> dict[str, str | None]:
    """Each question's answer as text; it is checked against the survey's question when the
    survey is known (the writer), since a file may hold responses to several surveys."""
    texts: dict[str, str | None] = {}
    for code, spec in answers.items():
        text = _raw_text(spec, raw)
        if text is None and spec.default is not None:
            text = str(spec.default)
        if text is not None and spec.values:
            text = _map_value(text, spec.values)
        if text is not None and spec.pattern and not re.fullmatch(spec.pattern, text):
            expected = spec.pattern_description or f"a value matching {spec.pattern}"
            raise RowError(f"{_where(spec, code)} is '{_show(text)}', expected {expected}")
        texts[code] = text
    return texts


def _source_id(source_columns: tuple[str, ...], raw: RawRow) -> str:
    if len(source_columns) == 1 and (single := raw.get(source_columns[0])) is not None:
        if len(single) > 200:
            raise RowError(f"the source id is {len(single)} characters long; at most 200 fit")
        return single
    parts = []
    for column in source_columns:
        if column not in raw:
            raise RowError(f"has no column '{column}' (the mapping's source_id)")
        value = raw[column]
        if value is None:
            raise RowError(f"column '{column}' is empty; it is the source id and must be given")
        parts.append(value)
    source_id = "|".join(parts)
    if len(source_id) > 200:
        raise RowError(f"the source id is {len(source_id)} characters long; at most 200 fit")
    return source_id


def _raw_text(spec: FieldSpec, raw: RawRow) -> str | None:
    if spec.value is not None:
        return str(spec.value)
    return _columns_text(tuple(spec.columns), raw)


def _where(spec: FieldSpec | None, name: str) -> str:
    if spec is None or spec.value is not None:
        return f"field '{name}'"
    return "column " + " + ".join(f"'{column}'" for column in spec.columns)


def _typed_value(
    name: str,
    text: str,
    spec: FieldSpec | None,
    definition: FieldDefinition,
    mapping: ImportMapping,
    lookups: Lookups,
) -> Any:
    """``text`` (value map and pattern already applied) as the field's type, or RowError."""
    where = _where(spec, name)
    kind = definition.kind
    if kind is FieldKind.TEXT:
        if len(text) > definition.max_length:
            raise RowError(
                f"{where} is {len(text)} characters long; '{name}' takes at most "
                f"{definition.max_length}"
            )
        return text
    if kind is FieldKind.EMAIL:
        if not _EMAIL.match(text) or len(text) > definition.max_length:
            raise RowError(f"{where} is '{_show(text)}', expected an email address")
        return text.lower()
    if kind is FieldKind.DATE:
        return _parse_datetime(text, spec, where).date()
    if kind is FieldKind.DATETIME:
        return _parse_datetime(text, spec, where)
    if kind is FieldKind.NUMBER:
        return _parse_number(text, (spec.decimal_separator if spec else None) or ".", where)
    if kind is FieldKind.CHOICE:
        folded = {choice.casefold(): choice for choice in definition.choices}
        if text.casefold() not in folded:
            raise RowError(
                f"{where} is '{_show(text)}', expected one of: {', '.join(definition.choices)}"
                + _value_map_hint(spec)
            )
        return folded[text.casefold()]
    if kind is FieldKind.CODE:
        return _check_code(text, definition, lookups, where, spec)
    if kind is FieldKind.CODE_LIST:
        separator = (spec.separator if spec else None) or ";"
        return [
            _check_code(part.strip(), definition, lookups, where, spec)
            for part in text.split(separator)
            if part.strip()
        ]
    # A stakeholder reference: resolved when the row is applied.
    system = (spec.source_system if spec else None) or mapping.source_system
    column = spec.columns[0] if spec and spec.columns else name
    return _reference(system, text, column)


def _parse_number(text: str, decimal_separator: str, where: str) -> float:
    compact = text.strip().replace(" ", "").replace("\u00a0", "")
    if not _NUMBER[decimal_separator].match(compact):
        example = "1234.5" if decimal_separator == "." else "1234,5"
        other = "," if decimal_separator == "." else "."
        raise RowError(
            f"{where} is '{_show(text)}', expected a number such as {example} "
            f"(set decimal_separator: '{other}' if the file writes 1234{other}5)"
        )
    grouping = "," if decimal_separator == "." else "."
    return float(compact.replace(grouping, "").replace(decimal_separator, "."))


def _map_value(text: str, value_map: dict[str, str]) -> str:
    normalised = {_normalise(key): value for key, value in value_map.items()}
    return normalised.get(_normalise(text), text)


def _normalise(text: str) -> str:
    # str.split() splits on runs of Unicode whitespace, as \s+ does, and drops the ends.
    return " ".join(text.split()).casefold()


def _check_code(
    text: str, definition: FieldDefinition, lookups: Lookups, where: str, spec: FieldSpec | None
) -> str:
    assert definition.code_table is not None
    known = lookups.codes.get(definition.code_table, set())
    if text in known:
        return text
    by_fold = {code.casefold(): code for code in known}
    if text.casefold() in by_fold:
        return by_fold[text.casefold()]
    shown = sorted(known)[:_SHOWN_CHOICES]
    more = f" (and {len(known) - len(shown)} more)" if len(known) > len(shown) else ""
    listing = (
        ", ".join(shown) + more
        if shown
        else f"none yet: the {definition.code_table} table is empty"
    )
    raise RowError(
        f"{where} is '{_show(text)}', which is not a known {definition.code_table} code; "
        f"known: {listing}" + _value_map_hint(spec)
    )


def _value_map_hint(spec: FieldSpec | None) -> str:
    if spec is not None and spec.column is not None:
        return VALUE_MAP_HINT
    return ""


def _parse_datetime(text: str, spec: FieldSpec | None, where: str) -> datetime:
    date_format = spec.date_format if spec else None
    if date_format:
        try:
            parsed = datetime.strptime(text, date_format)
        except ValueError:
            return _iso_or_error(text, where, date_format)
    else:
        parsed = _iso_or_error(text, where, None)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _iso_or_error(text: str, where: str, date_format: str | None) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError:
            expected = (
                f"a date like {datetime(2024, 12, 31, 14, 30).strftime(date_format)}"
                if date_format
                else "an ISO 8601 date such as 2024-12-31 or 2024-12-31T14:30:00"
            )
            raise RowError(f"{where} is '{_show(text)}', expected {expected}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _show(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
