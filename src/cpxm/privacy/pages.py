"""The data-protection page for one person (admins): what is held, and the data subject's
rights on it: export (Art. 15, 20), rectify (Art. 16), object (Art. 21), erase (Art. 17)."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cpxm.access import Administrator, audit
from cpxm.deps import DbSession
from cpxm.errors import DomainError, NotFoundError
from cpxm.privacy.erasure import erase_person
from cpxm.privacy.export import export_person
from cpxm.privacy.objection import objections_of, record_objection, withdraw_objection
from cpxm.privacy.rectification import RECTIFIABLE, rectify
from cpxm.stakeholders.models import Stakeholder
from cpxm.web.templating import templates

router = APIRouter(prefix="/admin/privacy", include_in_schema=False)


def _back(stakeholder_id: int, *, message: str | None = None, error: str | None = None) -> Response:
    query = f"?message={quote(message)}" if message else f"?error={quote(error or '')}"
    return RedirectResponse(f"/admin/privacy/{stakeholder_id}{query}", status_code=303)


def _refused(error: DomainError) -> str:
    detail = error.detail
    if isinstance(detail, list):
        return "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail
        )
    return str(detail)


@router.get("/{stakeholder_id}", response_class=HTMLResponse)
def person_page(
    request: Request, session: DbSession, principal: Administrator, stakeholder_id: int
) -> Response:
    person = session.get(Stakeholder, stakeholder_id)
    if person is None:
        raise NotFoundError("stakeholder", stakeholder_id)
    audit.record_read(
        session,
        principal,
        entity_type="stakeholders",
        entity_ids=[stakeholder_id],
        purpose="data-protection page",
    )
    response = templates.TemplateResponse(
        request,
        "privacy/person.html",
        {
            "person": person,
            "fields": list(RECTIFIABLE),
            "objections": objections_of(session, stakeholder_id=stakeholder_id),
            "csrf_token": principal.csrf_token or "",
            "principal": principal,
            "message": request.query_params.get("message"),
            "error": request.query_params.get("error"),
            "active_nav": "admin",
        },
    )
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/{stakeholder_id}/export.json")
def export_download(session: DbSession, principal: Administrator, stakeholder_id: int) -> Response:
    document = export_person(
        session, stakeholder_id=stakeholder_id, actor_user_id=principal.user_id
    )
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="person-{stakeholder_id}.json"',
            "cache-control": "no-store",
        },
    )


@router.post("/{stakeholder_id}")
def act(
    session: DbSession,
    principal: Administrator,
    stakeholder_id: int,
    action: Annotated[str, Form(pattern="^(rectify|object|withdraw|erase)$")],
    reason: Annotated[str, Form(max_length=2000)] = "",
    confirm: Annotated[str, Form(max_length=20)] = "",
    first_name: Annotated[str, Form(max_length=120)] = "",
    last_name: Annotated[str, Form(max_length=120)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    address_line: Annotated[str, Form(max_length=300)] = "",
    postal_code: Annotated[str, Form(max_length=20)] = "",
    city: Annotated[str, Form(max_length=120)] = "",
    country_code: Annotated[str, Form(max_length=2)] = "",
    language: Annotated[str, Form(max_length=8)] = "",
    birth_date: Annotated[str, Form(max_length=10)] = "",
    specialty: Annotated[str, Form(max_length=120)] = "",
    professional_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """One right exercised, with its reason; every problem is shown, nothing half done."""
    given = {
        "first_name": first_name, "last_name": last_name, "email": email, "phone": phone,
        "address_line": address_line, "postal_code": postal_code, "city": city,
        "country_code": country_code, "language": language, "birth_date": birth_date,
        "specialty": specialty, "professional_id": professional_id,
    }  # fmt: skip
    try:
        if action == "rectify":
            changes = {field: value for field, value in given.items() if value.strip()}
            rectify(
                session,
                stakeholder_id=stakeholder_id,
                changes=changes,
                reason=reason,
                actor=principal,
            )
            message = f"rectified: {', '.join(changes)}"
        elif action == "object":
            record_objection(
                session,
                stakeholder_id=stakeholder_id,
                reason=reason,
                actor_user_id=principal.user_id,
            )
            message = "objection recorded: left out of profiling lists and survey audiences"
        elif action == "withdraw":
            withdraw_objection(
                session,
                stakeholder_id=stakeholder_id,
                reason=reason,
                actor_user_id=principal.user_id,
            )
            message = "objection withdrawn"
        else:
            if confirm != "erase":
                return _back(stakeholder_id, error="type erase to confirm: it cannot be undone")
            erasure = erase_person(
                session,
                stakeholder_id=stakeholder_id,
                reason=reason,
                actor_user_id=principal.user_id,
            )
            message = f"erased (erasure {erasure.id})"
    except DomainError as error:
        session.rollback()
        return _back(stakeholder_id, error=_refused(error))
    return _back(stakeholder_id, message=message)
