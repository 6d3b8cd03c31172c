"""Domain errors that carry their HTTP status, and the one handler that turns them into JSON.

Services raise these; endpoints never catch them. The handler answers ``{"detail": ...}`` in the
same shape FastAPI uses for request validation, so clients parse one error format.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


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


async def _domain_error_handler(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    return JSONResponse({"detail": error.detail}, status_code=error.status_code)


async def _out_of_range_handler(_request: Request, error: Exception) -> JSONResponse:
    # An id or number beyond what the store's integer columns hold (SQLite raises OverflowError,
    # PostgreSQL a DataError): the caller's input is wrong, not the server.
    message = "a number in the request is out of the range the store holds"
    return JSONResponse(
        {"detail": [{"type": "value_error", "loc": ["request"], "msg": message, "input": None}]},
        status_code=422,
    )


def install_error_handlers(app: FastAPI) -> None:
    from sqlalchemy.exc import DataError

    app.add_exception_handler(DomainError, _domain_error_handler)
    app.add_exception_handler(OverflowError, _out_of_range_handler)
    app.add_exception_handler(DataError, _out_of_range_handler)
