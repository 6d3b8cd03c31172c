"""The governance page: the RACI matrix as a table, and (for CX management) its YAML to edit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from cpxm.access import CX_MANAGEMENT, CxManager, SignedIn
from cpxm.auth.pages import client_address
from cpxm.auth.signatures import SignatureIn, signer_or_refusal
from cpxm.deps import DbSession
from cpxm.errors import DomainError
from cpxm.governance import service
from cpxm.web.templating import templates
from cpxm.workspace.models import User

router = APIRouter(prefix="/governance", include_in_schema=False)


def _page(
    request: Request,
    session: DbSession,
    principal: SignedIn,
    *,
    yaml_text: str | None = None,
    problems: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "governance/matrix.html",
        {
            "rows": service.matrix(session),
            "people": {
                email.lower(): name
                for email, name in session.execute(select(User.email, User.display_name))
            },
            "yaml_text": yaml_text if yaml_text is not None else service.dump_matrix(session),
            "problems": problems or [],
            "can_edit": CX_MANAGEMENT.allows(principal.role),
            "csrf_token": principal.csrf_token or "",
            "principal": principal,
            "active_nav": "governance",
            "saved": request.query_params.get("saved") == "1",
            "signatures": service.matrix_signatures(session),
        },
        status_code=status_code,
    )


@router.get("", response_class=HTMLResponse)
def matrix_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    return _page(request, session, principal)


@router.post("")
def save_matrix(
    request: Request,
    session: DbSession,
    principal: CxManager,
    yaml_text: Annotated[str, Form(max_length=1_000_000)],
    password: Annotated[str, Form(max_length=1024)] = "",
    meaning: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=5_000)] = "",
) -> Response:
    """Replace the matrix under the editor's electronic signature."""
    try:
        signer = signer_or_refusal(
            session,
            user_id=principal.user_id,
            signature=SignatureIn.given(password=password, meaning=meaning, reason=reason),
            address=client_address(request),
        )
    except DomainError as refusal:
        status_code = refusal.status_code
        return _page(
            request,
            session,
            principal,
            yaml_text=yaml_text,
            problems=[f"not signed: {refusal.detail}"],
            status_code=status_code,
        )
    try:
        service.replace_matrix(session, text=yaml_text, signer=signer)
    except service.GovernanceError as error:
        session.rollback()
        return _page(
            request,
            session,
            principal,
            yaml_text=yaml_text,
            problems=error.problems,
            status_code=422,
        )
    return RedirectResponse("/governance?saved=1", status_code=303)
