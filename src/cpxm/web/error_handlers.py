"""The handlers that turn domain and store errors into JSON answers.

They live apart from `cpxm.errors` so the command line, which raises the same errors, does not
import FastAPI to start.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError

from cpxm.errors import DomainError, describe_integrity_error


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


async def _integrity_error_handler(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, IntegrityError)
    status_code, item = describe_integrity_error(error)
    return JSONResponse({"detail": [item]}, status_code=status_code)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error_handler)
    app.add_exception_handler(OverflowError, _out_of_range_handler)
    app.add_exception_handler(DataError, _out_of_range_handler)
    app.add_exception_handler(IntegrityError, _integrity_error_handler)
