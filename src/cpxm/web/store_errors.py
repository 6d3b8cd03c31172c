"""What a request answers when the store cannot serve it: retried once when that is safe, then
503 with a reason, never a 500 and never a success for work that was not stored.

Two failures come from the store rather than from the request:

- SQLite's write lock: a page view reads in a deferred transaction, and if it then writes (an
  audited read, a token's last use) after another writer committed, SQLite refuses at once.
  Such a request (a safe method: nothing was sent, nothing committed) is run again as a writer,
  whose transaction takes the lock when it begins and waits for it (``cpxm.deps``).
- The store going away (a PostgreSQL restart, a lock held longer than ``busy_timeout``): the
  request's transaction was rolled back (or its commit was never confirmed), and the client is
  told so and to try again (``Retry-After``), never told it succeeded. The pool pings
  connections before use, so the app recovers by itself once the server is back.

Plain ASGI, so it sees the exception before Starlette's last-resort handler turns it into a 500,
and knows whether the response has started (then it can only re-raise).
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cpxm.deps import SAFE_METHODS, WRITER_SCOPE_KEY
from cpxm.web.error_handlers import HINTS, TITLES, wants_page
from cpxm.web.templating import templates

logger = logging.getLogger(__name__)

STORE_BUSY = (
    "the store is busy or unreachable, so this request was not completed; try again in a moment"
)


def is_store_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the store could not serve the request (not that it was wrong)."""
    if isinstance(error, PoolTimeoutError):
        return True
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _busy_response(scope: Scope) -> Response:
    """JSON for the API; a browser asking for a page gets the app's error page (without
    asking the busy store who is signed in: the nav shows if the route had found out)."""
    request = Request(scope)
    headers = {"Retry-After": "1"}
    if not wants_page(request):
        return JSONResponse({"detail": STORE_BUSY}, status_code=503, headers=headers)
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "status_code": 503,
            "heading": TITLES[503],
            "messages": [STORE_BUSY[0].upper() + STORE_BUSY[1:] + "."],
            "hint": HINTS[503],
            "retry": _same_page(request) if request.method == "GET" else None,
        },
        status_code=503,
        headers=headers,
    )


def _same_page(request: Request) -> str:
    # A path, not the absolute URL: that is built from the Host header a client sends (a link
    # to another site) and, behind a proxy ending TLS, from the scheme the app saw (http).
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


class StoreUnavailableMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        # A safe method carries no body to replay and has committed nothing when it fails.
        attempts = 2 if scope["method"] in SAFE_METHODS else 1
        original = dict(scope)
        for attempt in range(1, attempts + 1):
            try:
                await self.app(scope, receive, tracking_send)
                return
            except Exception as error:
                if started or not is_store_unavailable(error):
                    raise
                if attempt < attempts:
                    scope = {**original, WRITER_SCOPE_KEY: True}
                    continue
                logger.warning(
                    "%s %s answered 503: %s",
                    original["method"],
                    original["path"],
                    str(getattr(error, "orig", error)).splitlines()[0][:200],
                )
                await _busy_response(original)(original, receive, send)
