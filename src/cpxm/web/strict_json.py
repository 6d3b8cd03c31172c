"""JSON request bodies held to the JSON standard before any endpoint sees them.

Python's ``json`` reads more than JSON: ``NaN`` and ``Infinity``, numbers that overflow to
``inf`` (``1e400``), and escapes of lone surrogates (``"\\ud800"``) that no UTF-8 answer can
carry. Each of these used to reach the endpoint (a NaN score) or the 422 handler, which then
failed to write its own answer (500). Nesting thousands deep made the parser raise
RecursionError. Here every such body is refused with a 422 that says what is wrong, in the shape
FastAPI uses for a JSON decode error, and bodies that pass are handed on unchanged.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_DEPTH = 32
# The largest JSON body any endpoint takes is an events batch (10,000 events); well above it.
MAX_JSON_BYTES = 32 * 1024 * 1024
_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json\s*(?:;|$)", re.IGNORECASE)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class InvalidJson(ValueError):
    """A body that is not standard JSON, or that nests beyond ``MAX_DEPTH``.

    ``syntax`` marks text that is not JSON at all, which every endpoint already refuses in its
    own way (FastAPI's 422 ``json_invalid``, the respondent page's 400); the middleware leaves
    those to them and stops only what Python would have accepted.
    """

    def __init__(self, reason: str, *, syntax: bool = False) -> None:
        super().__init__(reason)
        self.syntax = syntax


def _no_constants(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON number; send a finite number or null")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise InvalidJson(f"the number {text[:40]} is too large for a 64-bit float")
    return value


def parse_strict_json(body: bytes) -> Any:
    """``body`` parsed as standard JSON; InvalidJson (with a reason a person can act on) if not."""
    try:
        value = json.loads(body, parse_constant=_no_constants, parse_float=_finite_float)
    except InvalidJson:
        raise
    except RecursionError:
        raise InvalidJson(f"the JSON nests deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise InvalidJson("the body is not UTF-8 text", syntax=True) from None
    except json.JSONDecodeError as error:
        raise InvalidJson(f"not valid JSON: {str(error)[:200]}", syntax=True) from None
    except ValueError as error:  # integers beyond Python's digit limit
        raise InvalidJson(f"not a usable JSON number: {str(error)[:200]}") from None
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise InvalidJson(f"the JSON nests deeper than {MAX_DEPTH} levels")
    if _SURROGATE_ESCAPE.search(body):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidJson(
                "a string holds a lone UTF-16 surrogate escape (such as \\ud800), "
                "which is not a character"
            ) from None
    return value


def _depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            stack.extend((child, depth + 1) for child in node)
    return deepest


def invalid_json_response(reason: str) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"type": "json_invalid", "loc": ["body"], "msg": reason, "input": None}]},
        status_code=422,
    )


class StrictJsonMiddleware:
    """Check JSON bodies (``application/json``, ``application/*+json``) before routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_JSON_BYTES:
                await JSONResponse(
                    {"detail": f"a JSON body may be at most {MAX_JSON_BYTES // 2**20} MiB"},
                    status_code=413,
                )(scope, receive, send)
                return
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body.strip():
            try:
                parse_strict_json(body)
            except InvalidJson as error:
                if not error.syntax:
                    await invalid_json_response(str(error))(scope, receive, send)
                    return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bool(_JSON_TYPE.match(value.decode("latin-1")))
    return False
