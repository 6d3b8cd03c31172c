"""The backlog page (``/initiatives``), an initiative's page, and the maturity page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from cpxm.access import AGGREGATES, CX_MANAGEMENT, AggregatesReader, CxManager, Principal, requires
from cpxm.analytics.export import csv_response
from cpxm.deps import DbSession
from cpxm.errors import FieldError
from cpxm.initiatives import service
from cpxm.initiatives.charts import (
    before_after_specs,
    kano_scatter_spec,
    kano_shares_spec,
    rice_spec,
)
from cpxm.initiatives.evidence import cached_sources, initiative_detail
from cpxm.initiatives.kano import CATEGORY_NAMES
from cpxm.initiatives.maturity import STAGES, maturity_assessment
from cpxm.initiatives.models import MOSCOW, STATUSES
from cpxm.initiatives.schemas import InitiativeChange
from cpxm.initiatives.scope import latest_day
from cpxm.stakeholders.models import STAKEHOLDER_TYPES
from cpxm.surveys.definition import KANO_ANSWERS
from cpxm.web.templating import templates
from cpxm.workspace.models import TherapeuticArea

router = APIRouter(include_in_schema=False, dependencies=[requires(AGGREGATES)])

BACKLOG_COLUMNS = (
    "code", "title", "owner", "status", "moscow", "therapeutic_area", "stakeholder_type",
    "reach", "impact", "impact_source", "confidence", "effort", "rice", "shipped_on",
)  # fmt: skip
Filter = Annotated[str | None, Query(pattern=r"^[a-z0-9_]{0,40}$")]


def _backlog(
    session: DbSession, therapeutic_area: str | None, stakeholder_type: str | None,
    status: str | None,
) -> tuple[list[service.BacklogRow], list[dict[str, Any]]]:  # fmt: skip
    try:
        rows, _total = service.backlog(
            session,
            therapeutic_area=therapeutic_area or None,
            stakeholder_type=stakeholder_type or None,
            status=status or None,
            limit=10_000,
        )
    except FieldError as error:
        return [], list(error.detail)
    return rows, []


@router.get("/initiatives", response_class=HTMLResponse)
def backlog_page(
    request: Request,
    session: DbSession,
    therapeutic_area: Filter = None,
    stakeholder_type: Filter = None,
    status: Filter = None,
) -> Response:
    rows, errors = _backlog(session, therapeutic_area, stakeholder_type, status)
    areas = list(session.execute(select(TherapeuticArea.code, TherapeuticArea.name)).all())
    params = {
        "therapeutic_area": therapeutic_area or "",
        "stakeholder_type": stakeholder_type or "",
        "status": status or "",
    }
    return templates.TemplateResponse(
        request,
        "initiatives/backlog.html",
        {
            "rows": rows,
            "errors": errors,
            "areas": areas,
            "types": STAKEHOLDER_TYPES,
            "statuses": STATUSES,
            "moscow": MOSCOW,
            "params": params,
            "query_string": "&".join(f"{k}={v}" for k, v in params.items() if v),
            "as_of": latest_day(session),
            "charts": {"rice": rice_spec(rows)} if rows else {},
        },
    )


@router.get("/initiatives/export/backlog.csv")
def backlog_csv(
    session: DbSession,
    therapeutic_area: Filter = None,
    stakeholder_type: Filter = None,
    status: Filter = None,
) -> Response:
    rows, _errors = _backlog(session, therapeutic_area, stakeholder_type, status)
    return csv_response(
        "initiatives.csv",
        BACKLOG_COLUMNS,
        [[getattr(row, column) for column in BACKLOG_COLUMNS] for row in rows],
    )


@router.get("/initiatives/{code}", response_class=HTMLResponse)
def initiative_page(
    request: Request, session: DbSession, principal: AggregatesReader, code: str
) -> Response:
    return _initiative_page(request, session, principal, code, errors=[], status_code=200)


def _initiative_page(
    request: Request, session: DbSession, principal: Principal, code: str, *,
    errors: list[dict[str, Any]], status_code: int,
) -> Response:  # fmt: skip
    initiative = service.get_initiative(session, code=code)
    detail = initiative_detail(
        session, principal, initiative, as_of=latest_day(session),
        **cached_sources(request, session),
    )  # fmt: skip
    charts: dict[str, Any] = {}
    scatter = kano_scatter_spec(detail.kano)
    if scatter:
        charts["kano"] = scatter
    shares = kano_shares_spec(detail.kano)
    if shares:
        charts["kano_shares"] = shares
    if detail.before_after:
        for number, spec in enumerate(before_after_specs(detail.before_after)):
            charts[f"before_after_{number}"] = spec
    return templates.TemplateResponse(
        request,
        "initiatives/detail.html",
        {
            "detail": detail,
            "charts": charts,
            "category_names": CATEGORY_NAMES,
            "kano_answers": KANO_ANSWERS,
            "can_edit": CX_MANAGEMENT.allows(principal.role),
            "statuses": STATUSES,
            "moscow": MOSCOW,
            "errors": errors,
            "shipped_on": initiative.shipped_on,
        },
        status_code=status_code,
    )


@router.post("/initiatives/{code}")
def change_initiative(
    request: Request,
    session: DbSession,
    principal: CxManager,
    code: str,
    status: Annotated[str, Form(max_length=20)],
    moscow: Annotated[str, Form(max_length=10)],
    shipped_on: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Change an initiative's status, MoSCoW class and shipping day from its page."""
    initiative = service.get_initiative(session, code=code)
    try:
        changes = InitiativeChange.model_validate(
            {"status": status, "moscow": moscow, "shipped_on": shipped_on or None}
        )
        service.update_initiative(session, initiative=initiative, changes=changes)
    except ValidationError as error:
        session.rollback()
        problems = [{"loc": list(item["loc"]), "msg": item["msg"]} for item in error.errors()]
        return _initiative_page(request, session, principal, code, errors=problems,
                                status_code=422)  # fmt: skip
    except FieldError as error:
        session.rollback()
        return _initiative_page(request, session, principal, code, errors=list(error.detail),
                                status_code=422)  # fmt: skip
    return RedirectResponse(f"/initiatives/{initiative.code}?saved=1", status_code=303)


@router.get("/maturity", response_class=HTMLResponse)
def maturity_page(request: Request, session: DbSession) -> Response:
    assessment = maturity_assessment(session)
    return templates.TemplateResponse(
        request, "initiatives/maturity.html", {"assessment": assessment, "stages": STAGES}
    )
