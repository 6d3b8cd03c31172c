"""Domain errors that carry their HTTP status.

Services raise these; endpoints never catch them. `cpxm.web.error_handlers` answers them as
``{"detail": ...}`` in the same shape FastAPI uses for request validation, so clients parse one
error format.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.exc import IntegrityError


class DomainError(Exception):
    """A failure the caller can act on; ``status_code`` says which HTTP status it maps to."""

    status_code = 400

    def __init__(self, detail: Any) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(DomainError):
    status_code = 404

    def __init__(self, entity: str, entity_id: object) -> None:
        super().__init__(f"{entity} {entity_id} not found")


class FieldError(DomainError):
    """Input that parsed but names things that do not exist; reported per field, like pydantic."""

    status_code = 422

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)


def field_error(
    field: str, message: str, value: object, *, kind: str = "value_error"
) -> dict[str, Any]:
    """One field-level error item in FastAPI's validation shape (``loc``, ``msg``, ``type``)."""
    return {"type": kind, "loc": ["body", field], "msg": message, "input": value}


_SQLITE_CONSTRAINT = re.compile(r"(UNIQUE|NOT NULL|CHECK) constraint failed: (?:\w+\.)?(\w+)")
_POSTGRES_KEY = re.compile(r"Key \(([^)]+)\)=")


def describe_integrity_error(error: IntegrityError) -> tuple[int, dict[str, Any]]:
    """The status and the field-level error item for a constraint the store enforced.

    Services check what they can before writing; this is the net for what only the store can
    tell (two requests creating the same thing at once, a reference deleted meanwhile), so the
    caller learns which field to fix rather than getting a 500.
    """
    original = error.orig
    text = str(original)
    diag = getattr(original, "diag", None)
    column = getattr(diag, "column_name", None)
    if diag is not None and getattr(diag, "message_detail", None):
        found = _POSTGRES_KEY.search(diag.message_detail)
        if found:
            column = found.group(1).split(",")[0].strip()
    sqlite = _SQLITE_CONSTRAINT.search(text)
    if sqlite and not column:
        column = sqlite.group(2)
    sqlstate = getattr(original, "sqlstate", None)
    field = column or "body"
    if sqlstate == "23505" or "UNIQUE constraint" in text:
        return 409, {
            "type": "unique",
            "loc": ["body", field],
            "msg": f"a record with this {field} already exists" if column else "already exists",
            "input": None,
        }
    if sqlstate == "23503" or "FOREIGN KEY constraint" in text:
        return 422, {
            "type": "foreign_key",
            "loc": ["body", field],
            "msg": (
                f"{field} refers to a record that does not exist (or is still referred to)"
                if column
                else "the request refers to a record that does not exist (or is still referred to)"
            ),
            "input": None,
        }
    return 422, {
        "type": "constraint",
        "loc": ["body", field],
        "msg": f"{field} is missing or not allowed" if column else "a value is not allowed",
        "input": None,
    }
