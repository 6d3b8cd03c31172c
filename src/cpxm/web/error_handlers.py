"""The handlers that turn domain, HTTP and store errors into answers.

API requests (and anything that does not ask for HTML) get JSON ``{"detail": ...}``; a browser
asking for a page gets an HTML error page inside the app's frame, with the nav of the signed-in
role, so a refusal or a mistyped address is a page to move on from, not bare JSON. They live
apart from ``cpxm.errors`` so the command line, which raises the same errors, does not import
FastAPI to start.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from cpxm.access.principal import principal_of
from cpxm.deps import request_sessionmaker
from cpxm.errors import DomainError, describe_integrity_error
from cpxm.web.templating import templates

logger = logging.getLogger(__name__)

TITLES = {
    400: "That request cannot be answered",
    403: "Your role may not open this",
    404: "Not found",
    405: "Not allowed here",
    409: "That clashes with what is stored",
    422: "That request cannot be answered",
    500: "Something went wrong on our side",
    503: "The store is busy",
}
HINTS = {
    403: "Ask an administrator for a role that may, or go back to a page your role opens.",
    404: "The address may be mistyped, or the record was merged, erased or never existed.",
    500: "The error was logged. Try again in a moment; if it keeps happening, tell your admin.",
    503: "Nothing was changed. Try again in a moment; if it keeps happening, tell your admin.",
}


def wants_page(request: Request) -> bool:
    """A browser asking for a page: not the API, and HTML accepted."""
    path = request.url.path
    if path.startswith("/api/") or path == "/openapi.json":
        return False
    return "text/html" in request.headers.get("accept", "")


def _message(detail: Any) -> list[str]:
    if isinstance(detail, str):
        return [detail]
    if isinstance(detail, list):
        lines = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(part) for part in item.get("loc", ()) if part != "query")
                lines.append(f"{where}: {item.get('msg', item)}" if where else str(item.get("msg")))
            else:
                lines.append(str(item))
        return lines
    return [str(detail)]


def _resolve_principal(request: Request) -> None:
    """Sign the request in for the frame's nav when no route did (an unknown address)."""
    if "cpxm.principal" in request.scope:
        return
    try:
        with request_sessionmaker(request)() as session:
            request.scope["cpxm.principal"] = principal_of(session, request)
            session.commit()
    except Exception:  # the page still renders, without a nav
        logger.warning("could not resolve the principal for an error page", exc_info=True)


async def error_page(request: Request, status_code: int, detail: Any) -> Response:
    await run_in_threadpool(_resolve_principal, request)
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "status_code": status_code,
            "heading": TITLES.get(status_code, "That request cannot be answered"),
            "messages": _message(detail),
            "hint": HINTS.get(status_code),
        },
        status_code=status_code,
    )


async def _domain_error_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, DomainError)
    if wants_page(request):
        return await error_page(request, error.status_code, error.detail)
    return JSONResponse({"detail": error.detail}, status_code=error.status_code)


async def _http_error_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if wants_page(request) and error.status_code >= 400:
        return await error_page(request, error.status_code, error.detail)
    return await http_exception_handler(request, error)


async def _validation_error_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    if wants_page(request):
        return await error_page(request, 400, list(error.errors()))
    return await request_validation_exception_handler(request, error)


async def _server_error_handler(request: Request, error: Exception) -> Response:
    # Starlette logs the exception and re-raises it after this answer is sent.
    if wants_page(request):
        try:
            return await error_page(
                request, 500, "the server failed to answer this request; nothing was changed"
            )
        except Exception:
            logger.exception("could not render the error page")
    return JSONResponse({"detail": "internal server error"}, status_code=500)


async def _out_of_range_handler(request: Request, error: Exception) -> Response:
    # An id or number beyond what the store's integer columns hold (SQLite raises OverflowError,
    # PostgreSQL a DataError): the caller's input is wrong, not the server.
    message = "a number in the request is out of the range the store holds"
    if wants_page(request):
        return await error_page(request, 400, message)
    return JSONResponse(
        {"detail": [{"type": "value_error", "loc": ["request"], "msg": message, "input": None}]},
        status_code=422,
    )


async def _integrity_error_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, IntegrityError)
    status_code, item = describe_integrity_error(error)
    if wants_page(request):
        return await error_page(request, status_code, [item])
    return JSONResponse({"detail": [item]}, status_code=status_code)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(OverflowError, _out_of_range_handler)
    app.add_exception_handler(DataError, _out_of_range_handler)
    app.add_exception_handler(IntegrityError, _integrity_error_handler)
    app.add_exception_handler(Exception, _server_error_handler)
