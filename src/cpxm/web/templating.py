"""The Jinja2 environment every HTML page renders with, and the URLs of shared assets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

import cpxm
from cpxm.web.assets import vega_embed_url

WEB_DIRECTORY = Path(__file__).parent
TEMPLATES_DIRECTORY = WEB_DIRECTORY / "templates"
STATIC_DIRECTORY = WEB_DIRECTORY / "static"


def signed_in_user(request: Request) -> dict[str, Any]:
    """Who is signed in, for the header's name and sign-out form on every page.

    The access policy resolved the principal for this request already (``cpxm.principal``);
    pages without one (sign-in, respondent pages) show no sign-out control.
    """
    principal = request.scope.get("cpxm.principal")
    if principal is None or principal.method != "session":
        return {"signed_in": None}
    return {"signed_in": principal}


templates = Jinja2Templates(directory=TEMPLATES_DIRECTORY, context_processors=[signed_in_user])
templates.env.globals.update(
    app_version=cpxm.__version__,
    vega_embed_url=vega_embed_url(),
    # Our own static files change with releases; the version in the URL busts browser caches.
    static_suffix=f"?v={cpxm.__version__}",
)


# Codes that are acronyms in the trade; everything else reads as a sentence-case phrase.
ACRONYMS = {"hcp": "HCP", "cro": "CRO", "kol": "KOL", "msl": "MSL", "psp": "PSP", "pv": "PV"}


def humanise(code: str) -> str:
    """A readable label for a code: 'medical_affairs' -> 'Medical affairs', 'hcp' -> 'HCP'."""
    words = [ACRONYMS.get(word, word) for word in code.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


templates.env.filters["humanise"] = humanise
