"""Turn one raw row into typed target values, or say precisely why it cannot be."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from cpxm.ingest.mapping import CPXM_IDS, FieldSpec, ImportMapping
from cpxm.ingest.readers import RawRow
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


@dataclass(frozen=True)
class Reference:
    """A stakeholder named by a source system's id, resolved against the store when applied."""

    source_system: str  # CPXM_IDS: ``source_id`` is a CPXM stakeholder id
    source_id: str
    column: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.source_system, self.source_id)


@dataclass(frozen=True)
class ConvertedRow:
    source_id: str
    values: dict[str, Any]


def convert_row(mapping: ImportMapping, raw: RawRow, lookups: Lookups) -> ConvertedRow:
    """Typed values for every mapped field, defaults applied; raises RowError on the first fault."""
    source_id = _source_id(mapping, raw)
    target = TARGETS[mapping.target]
    values: dict[str, Any] = {}
    for name, definition in target.fields.items():
        spec = mapping.fields.get(name)
        text = _raw_text(spec, raw) if spec else None
        if text is None and spec is not None and spec.default is not None:
            text = str(spec.default)
        if text is None and definition.default is not None:
            text = definition.default
        if text is None:
            if definition.required:
                raise RowError(f"{_where(spec, name)} is empty, and '{name}' is required")
            continue
        values[name] = _convert(name, text, spec, definition, mapping, lookups)
        if isinstance(values[name], Reference) and spec and spec.source_system_column:
            values[name] = _with_row_system(values[name], spec.source_system_column, raw)
    if mapping.answers is not None:
        values["answers"] = _answer_texts(mapping.answers, raw)
    return ConvertedRow(source_id=source_id, values=values)


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


def _source_id(mapping: ImportMapping, raw: RawRow) -> str:
    parts = []
    for column in mapping.source_id_columns:
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
    pieces = []
    for column in spec.columns:
        if column not in raw:
            raise RowError(f"has no column '{column}'; the file's columns are: {', '.join(raw)}")
        value = raw[column]
        if value is not None:
            pieces.append(value)
    return " ".join(pieces) if pieces else None


def _where(spec: FieldSpec | None, name: str) -> str:
    if spec is None or spec.value is not None:
        return f"field '{name}'"
    return "column " + " + ".join(f"'{column}'" for column in spec.columns)


def _convert(
    name: str,
    text: str,
    spec: FieldSpec | None,
    definition: FieldDefinition,
    mapping: ImportMapping,
    lookups: Lookups,
) -> Any:
    where = _where(spec, name)
    if spec is not None and spec.values:
        text = _map_value(text, spec.values)
    if spec is not None and spec.pattern and not re.fullmatch(spec.pattern, text):
        expected = spec.pattern_description or f"a value matching {spec.pattern}"
        raise RowError(f"{where} is '{_show(text)}', expected {expected}")
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
    return re.sub(r"\s+", " ", text).strip().casefold()


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
