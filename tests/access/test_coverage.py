"""No route exists without an explicit policy: every route of the app names one.

This test walks every route of the real app (including those other rooms add later) and fails,
naming the route, when one declares no policy from ``cpxm.access``.
"""

from __future__ import annotations

from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from sqlalchemy.orm import sessionmaker
from starlette.routing import Mount

from cpxm.access import policies_of
from cpxm.app import create_app

# Routes FastAPI adds itself: the API description is public by design (it says what exists,
# never what is in it), and the docs pages only render it.
FRAMEWORK_PUBLIC_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
# Mounted apps that are not FastAPI routes: our own CSS and scripts, public by nature.
PUBLIC_MOUNTS = {"/static"}


def _all_routes() -> list[tuple[str, str, RouteContext]]:
    app = create_app(sessionmaker_=sessionmaker())
    return [
        (str(context.path), ",".join(sorted(context.methods or [])), context)
        for context in iter_route_contexts(app.routes)
    ]


def test_every_route_names_a_policy() -> None:
    missing = []
    for path, methods, context in _all_routes():
        original = context.original_route
        if isinstance(original, APIRoute):
            if not policies_of(context):
                missing.append(f"{methods} {path}")
        elif isinstance(original, Mount):
            if path not in PUBLIC_MOUNTS:
                missing.append(f"mount {path}")
        elif path not in FRAMEWORK_PUBLIC_PATHS:
            missing.append(f"{methods} {path} ({type(original).__name__})")
    assert not missing, (
        "routes without an access policy (declare one as cpxm.access's docstring says): "
        + "; ".join(missing)
    )


def test_the_walk_sees_the_api_and_the_pages() -> None:
    # Guards the test above: a walk that found no routes would pass vacuously.
    paths = {path for path, _, _ in _all_routes()}
    assert {"/health", "/api/v1/stakeholders", "/"} <= paths
