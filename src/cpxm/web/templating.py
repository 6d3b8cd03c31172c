"""The Jinja2 environment every HTML page renders with, and the URLs of shared assets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.templating import Jinja2Templates

import cpxm
from cpxm.access import Policy, Role, policies_of
from cpxm.web.assets import vega_embed_url

WEB_DIRECTORY = Path(__file__).parent
TEMPLATES_DIRECTORY = WEB_DIRECTORY / "templates"
STATIC_DIRECTORY = WEB_DIRECTORY / "static"


@dataclass(frozen=True)
class NavItem:
    key: str  # what a page passes as ``active_nav``
    label: str
    path: str


# Every place the header may link to; each is shown only to roles its route's policy lets in.
NAV_ITEMS = (
    NavItem("overview", "Overview", "/"),
    NavItem("stakeholders", "Stakeholders", "/stakeholders"),
    NavItem("surveys", "Surveys", "/surveys"),
    NavItem("analytics", "Analytics", "/analytics/metrics"),
    NavItem("initiatives", "Initiatives", "/initiatives"),
    NavItem("feedback", "Feedback", "/feedback"),
    NavItem("cases", "Cases", "/cases"),
    NavItem("predictions", "At risk", "/predictions"),
    NavItem("safety", "Safety", "/safety"),
    NavItem("imports", "Imports", "/imports"),
    NavItem("identity", "Identity review", "/identity/review"),
    NavItem("governance", "Governance", "/governance"),
    NavItem("admin", "People", "/admin/users"),
    NavItem("api", "API", "/docs"),
)


def nav_for(app: Any, role: Role) -> tuple[NavItem, ...]:
    """The header links ``role`` may open, decided by the policies of the routes they lead to
    (``cpxm.access``), so the nav never offers a page that would answer 403. A link whose route
    is missing from the app is left out. Worked out once per app and role."""
    cache: dict[Role, tuple[NavItem, ...]] | None = getattr(app.state, "nav_cache", None)
    if cache is None:
        cache = app.state.nav_cache = {}
    if role not in cache:
        policies: dict[str, list[Policy]] = {}
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if isinstance(route, APIRoute) and "GET" in (context.methods or ()):
                policies.setdefault(str(context.path), policies_of(context))
        cache[role] = tuple(
            item
            for item in NAV_ITEMS
            if item.path in policies
            and policies[item.path]
            and all(policy.allows(role) for policy in policies[item.path])
        )
    return cache[role]


def signed_in_user(request: Request) -> dict[str, Any]:
    """Who is signed in, for the header's name, nav and sign-out form on every page.

    The access policy resolved the principal for this request already (``cpxm.principal``);
    pages without one (sign-in, respondent pages) show no nav. Only a browser session gets the
    sign-out control; a token's requests (integrations, tests) see the nav of their role.
    """
    principal = request.scope.get("cpxm.principal")
    if principal is None:
        return {"signed_in": None, "nav_items": ()}
    return {
        "signed_in": principal if principal.method == "session" else None,
        "nav_items": nav_for(request.app, principal.role),
    }


templates = Jinja2Templates(directory=TEMPLATES_DIRECTORY, context_processors=[signed_in_user])
templates.env.globals.update(
    app_version=cpxm.__version__,
    vega_embed_url=vega_embed_url(),
    # Our own static files change with releases; the version in the URL busts browser caches.
    static_suffix=f"?v={cpxm.__version__}",
)


# Codes that are acronyms in the trade; everything else reads as a sentence-case phrase.
ACRONYMS = {
    "hcp": "HCP",
    "cro": "CRO",
    "kol": "KOL",
    "msl": "MSL",
    "psp": "PSP",
    "pv": "PV",
    # survey question types
    "nps": "NPS",
    "csat": "CSAT",
    "ces": "CES",
    "prem": "PREM",
}


def humanise(code: str) -> str:
    """A readable label for a code: 'medical_affairs' -> 'Medical affairs', 'hcp' -> 'HCP'."""
    words = [ACRONYMS.get(word, word) for word in code.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


templates.env.filters["humanise"] = humanise
