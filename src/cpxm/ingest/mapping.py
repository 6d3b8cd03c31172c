"""Import mappings: how one export's columns become CPXM fields.

A mapping is a YAML file (see ``docs/import-mappings.md``). It is validated as a whole before a
single row is read, so a typo in a mapping fails in a second, not after a million rows.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cpxm.ingest.targets import TARGETS, FieldKind

FileFormat = Literal["csv", "jsonl", "xlsx", "parquet"]
# A reference whose source system is this holds CPXM stakeholder ids, not a source system's ids.
CPXM_IDS = "cpxm"


class MappingError(ValueError):
    """The mapping itself is wrong; the message names the place and what would be right."""


class FieldSpec(BaseModel):
    """Where one target field comes from: a column (or several, joined) or a constant."""

    model_config = ConfigDict(extra="forbid")

    column: str | list[str] | None = None
    value: str | int | float | bool | None = None
    # Source value -> CPXM value ("F2F" -> "face_to_face"); matched ignoring case and spaces.
    values: dict[str, str] | None = None
    date_format: str | None = None  # strptime format; ISO 8601 is always accepted
    pattern: str | None = None  # a regular expression the whole value must match
    pattern_description: str | None = None  # said in errors: "expected 10 digits"
    default: str | int | float | bool | None = None  # used when the column is empty
    separator: str | None = None  # for list fields, e.g. "; "
    # For a stakeholder reference: the system whose source ids the column holds (default: the
    # mapping's own source system).
    source_system: str | None = None
    # For a stakeholder reference: a column naming each row's system (rows of a consolidated
    # export may point into several systems); empty cells fall back to ``source_system``.
    source_system_column: str | None = None
    # For numbers: "." reads 1,234.5; "," reads 1.234,5. Grouping marks must group by three, so
    # "1,5" is an error under "." rather than silently 15.
    decimal_separator: Literal[".", ","] | None = None
    # What a value that cannot be read does: quarantine the row, or blank the field, store the
    # row and log a data-quality issue. Default: the target field's (blank for optional person
    # attributes such as birth_date, phone and postal_code; quarantine for the rest).
    on_invalid: Literal["quarantine", "blank"] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        if (self.column is None) == (self.value is None):
            raise ValueError("give exactly one of 'column' or 'value'")
        return self

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"'pattern' is not a valid regular expression: {error}") from None
        return pattern

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, date_format: str | None) -> str | None:
        if date_format is not None and "%" not in date_format:
            raise ValueError("'date_format' needs strptime codes such as '%d/%m/%Y %H:%M'")
        return date_format

    @property
    def columns(self) -> list[str]:
        if self.column is None:
            return []
        return [self.column] if isinstance(self.column, str) else list(self.column)

    @property
    def columns_read(self) -> list[str]:
        extra = [self.source_system_column] if self.source_system_column else []
        return self.columns + extra


class FileOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: FileFormat | None = None  # default: from the file's extension
    delimiter: str | None = None  # default: sniffed from the first lines
    encoding: str | None = None  # default: UTF-8 (with or without BOM), else Windows-1252
    sheet: str | None = None  # for xlsx: default the first sheet


class ImportMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    source_system: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)
    target: str
    # The column(s) that identify a row in its source system; several are joined with "|".
    source_id: str | list[str]
    file: FileOptions = FileOptions()
    fields: dict[str, FieldSpec]
    # For survey responses: question code -> the column holding its answer.
    answers: dict[str, FieldSpec] | None = None

    @field_validator("source_system")
    @classmethod
    def _not_reserved(cls, source_system: str) -> str:
        if source_system == CPXM_IDS:
            raise ValueError(
                f"'{CPXM_IDS}' is reserved: a reference with source_system '{CPXM_IDS}' holds "
                "CPXM stakeholder ids; name the system the export comes from"
            )
        return source_system

    @field_validator("fields", "answers", mode="before")
    @classmethod
    def _shorthand(cls, fields: Any) -> Any:
        # "notes: CALL_NOTES" is shorthand for "notes: {column: CALL_NOTES}", and a list of
        # names for several columns joined.
        if isinstance(fields, dict):
            return {
                name: {"column": spec} if isinstance(spec, str | list) else spec
                for name, spec in fields.items()
            }
        return fields

    @model_validator(mode="after")
    def _fits_target(self) -> ImportMapping:
        if self.target not in TARGETS:
            raise ValueError(f"target '{self.target}' is not one of: {', '.join(sorted(TARGETS))}")
        known = TARGETS[self.target].fields
        unknown = sorted(set(self.fields) - set(known))
        if unknown:
            raise ValueError(
                f"target '{self.target}' has no field {', '.join(repr(u) for u in unknown)}; "
                f"its fields are: {', '.join(known)}"
            )
        missing = [
            name
            for name, definition in known.items()
            if definition.required and definition.default is None and name not in self.fields
        ]
        if missing:
            raise ValueError(
                f"target '{self.target}' needs the field(s) {', '.join(missing)}; "
                "map each to a column or give a constant 'value'"
            )
        for name, spec in self.fields.items():
            kind = known[name].kind
            if spec.date_format and kind not in (FieldKind.DATE, FieldKind.DATETIME):
                raise ValueError(f"field '{name}' is not a date, so it takes no 'date_format'")
            if spec.date_format:
                _check_date_format(name, spec.date_format)
            if (spec.source_system or spec.source_system_column) and kind != FieldKind.REFERENCE:
                raise ValueError(
                    f"field '{name}' is not a stakeholder reference, so it takes no "
                    "'source_system' or 'source_system_column'"
                )
            if spec.decimal_separator and kind != FieldKind.NUMBER:
                raise ValueError(
                    f"field '{name}' is not a number, so it takes no 'decimal_separator'"
                )
            if spec.on_invalid == "blank" and known[name].required:
                raise ValueError(
                    f"field '{name}' is required, so it takes no 'on_invalid: blank': a row "
                    "without it cannot be stored, and is quarantined"
                )
            if (
                spec.on_invalid == "blank"
                and kind == FieldKind.REFERENCE
                and not known[name].blank_when_invalid
            ):
                raise ValueError(
                    f"field '{name}' is a stakeholder reference, so it takes no "
                    "'on_invalid: blank': a row naming nobody is quarantined"
                )
        self._check_answers()
        return self

    def _check_answers(self) -> None:
        if not TARGETS[self.target].takes_answers:
            if self.answers is not None:
                raise ValueError(f"target '{self.target}' takes no 'answers'")
            return
        if not self.answers:
            raise ValueError(
                f"target '{self.target}' needs 'answers': question code -> the column holding "
                "its answer, e.g. answers: {nps: 'Q1_Likely to recommend', comment: Q5}"
            )
        for code, spec in self.answers.items():
            if spec.date_format or spec.source_system or spec.decimal_separator or spec.on_invalid:
                raise ValueError(f"answer '{code}' takes only column, values, pattern or default")

    @property
    def source_id_columns(self) -> list[str]:
        return [self.source_id] if isinstance(self.source_id, str) else list(self.source_id)

    def columns_used(self) -> set[str]:
        used = set(self.source_id_columns)
        for spec in [*self.fields.values(), *(self.answers or {}).values()]:
            used.update(spec.columns_read)
        return used


def _check_date_format(name: str, date_format: str) -> None:
    sample = datetime(2024, 12, 31, 23, 59, 58)
    try:
        datetime.strptime(sample.strftime(date_format), date_format)
    except ValueError as error:
        raise ValueError(
            f"field '{name}': date_format '{date_format}' does not round-trip: {error}"
        ) from None


def parse_mapping(document: Any, *, default_name: str = "mapping") -> ImportMapping:
    """Validate a mapping document (already parsed from YAML or JSON)."""
    if not isinstance(document, dict):
        raise MappingError("a mapping is a YAML mapping with keys source_system, target, fields")
    document = {"name": default_name, **document}
    try:
        return ImportMapping.model_validate(document)
    except ValidationError as error:
        raise MappingError(_describe(error)) from None


def load_mapping(path: Path) -> ImportMapping:
    """Read and validate a mapping file; errors name the file and the key at fault."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"mapping file {path} does not exist") from None
    except yaml.YAMLError as error:
        raise MappingError(f"{path} is not valid YAML: {error}") from None
    try:
        return parse_mapping(document, default_name=path.stem)
    except MappingError as error:
        raise MappingError(f"{path}: {error}") from None


def _describe(error: ValidationError) -> str:
    problems = []
    for detail in error.errors():
        where = ".".join(str(part) for part in detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


TEMPLATES_DIRECTORY = Path(__file__).parent / "templates"


def template_names() -> list[str]:
    """The mapping templates that ship with CPXM, for typical departmental exports."""
    return sorted(path.stem for path in TEMPLATES_DIRECTORY.glob("*.yaml"))


def resolve_mapping(name_or_path: str) -> ImportMapping:
    """Load a mapping file, or a shipped template by its name (``crm-calls``)."""
    path = Path(name_or_path)
    if path.exists() or path.suffix in (".yaml", ".yml", ".json"):
        return load_mapping(path)
    template = TEMPLATES_DIRECTORY / f"{name_or_path}.yaml"
    if template.is_file():
        return load_mapping(template)
    raise MappingError(
        f"'{name_or_path}' is neither a mapping file nor a template; "
        f"templates: {', '.join(template_names())}"
    )
