"""Security headers on every response: no MIME sniffing, no referrer leaks, a strict CSP.

Pages and API answers carry people's data, so nothing but the static files may be kept by a
browser or a shared proxy (``Cache-Control: no-store`` unless a route says otherwise); over
HTTPS, browsers are told to use nothing else for a year (HSTS). Behind a proxy that ends TLS,
run uvicorn with ``--proxy-headers`` so the request's scheme is the client's.

Charts render without ``unsafe-eval``: the page asks vega-embed for ``ast: true``, which uses the
bundled expression interpreter instead of ``new Function``. Styles allow ``unsafe-inline`` because
vega-embed and its tooltips inject style elements; style injection cannot run script. The API docs
(Swagger UI, ReDoc) load their scripts from this server (``cpxm.web.apidocs``) but start with an
inline bootstrap script and ReDoc runs a worker from a blob, so only those pages get a CSP that
allows that; no other origin is allowed anywhere.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")

COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    # Survey links carry personal tokens in their path; never send paths to other sites.
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
CACHEABLE_PREFIX = "/static/"
NO_STORE = (b"cache-control", b"no-store")
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeadersMiddleware:
    """Plain ASGI middleware (cheaper than BaseHTTPMiddleware) adding headers at response start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        csp = DOCS_CSP if path.startswith(DOCS_PATHS) else PAGE_CSP
        cacheable = path.startswith(CACHEABLE_PREFIX)
        over_https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in COMMON_HEADERS if item[0] not in present)
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", csp.encode()))
                if not cacheable and b"cache-control" not in present:
                    headers.append(NO_STORE)
                if over_https:
                    headers.append(HSTS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
