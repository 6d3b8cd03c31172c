"""The Jinja2 environment every HTML page renders with, and the URLs of shared assets."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

import cpxm
from cpxm.access import Policy, Role, policies_of
from cpxm.web.assets import vega_embed_url
from cpxm.workspace.models import Channel, Department, LifecyclePhase, TherapeuticArea

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


TAXONOMY_LABELS_TTL = 60.0  # seconds a page may show a label renamed since


def taxonomy_labels(request: Request) -> dict[str, Any]:
    """The workspace's own names for its channels, departments, therapeutic areas and lifecycle
    phases ('sms' -> 'SMS', 'mail' -> 'Postal mail'), so ``| humanise`` says what the taxonomy
    says on every page. Read once a minute per app, not per page."""
    state = request.app.state
    cached: tuple[float, dict[str, str]] | None = getattr(state, "taxonomy_labels", None)
    now = time.monotonic()
    if cached is None or now - cached[0] > TAXONOMY_LABELS_TTL:
        labels: dict[str, str] = {}
        maker = getattr(state, "read_sessionmaker", None)
        if maker is not None:
            try:
                with maker() as session:
                    for model in (LifecyclePhase, TherapeuticArea, Department, Channel):
                        labels.update(
                            (code, name)
                            for code, name in session.execute(select(model.code, model.name))
                        )
            except SQLAlchemyError:
                # An error page rendered while the store is down still renders, with codes.
                return {"taxonomy_labels": cached[1] if cached else {}}
        cached = state.taxonomy_labels = (now, labels)
    return {"taxonomy_labels": cached[1]}


templates = Jinja2Templates(
    directory=TEMPLATES_DIRECTORY, context_processors=[signed_in_user, taxonomy_labels]
)
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
    # words the codes run together
    "followup": "follow-up",
}


def humanise(code: str) -> str:
    """A readable label for a code: 'medical_affairs' -> 'Medical affairs', 'hcp' -> 'HCP'."""
    words = [ACRONYMS.get(word, word) for word in code.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


@pass_context
def _humanise_in_page(context: Context, code: Any) -> str:
    """``| humanise`` in a page: the taxonomy's name for a code it names, else :func:`humanise`."""
    if code is None:
        return ""
    labels: dict[str, str] = context.get("taxonomy_labels") or {}
    return labels.get(code) or humanise(str(code))


templates.env.filters["humanise"] = _humanise_in_page
