"""JSON routes: the initiatives backlog under ``/api/v1/initiatives``, maturity under
``/api/v1/maturity``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from cpxm.access import AggregatesReader, CxManager
from cpxm.deps import DbSession
from cpxm.initiatives import service
from cpxm.initiatives.evidence import InitiativeDetail, cached_sources, initiative_detail
from cpxm.initiatives.maturity import MaturityAssessment, maturity_assessment
from cpxm.initiatives.models import Initiative
from cpxm.initiatives.schemas import InitiativeChange, InitiativeIn
from cpxm.initiatives.scope import latest_day
from cpxm.pagination import Page, Pagination

router = APIRouter(prefix="/initiatives", tags=["initiatives"])
maturity_router = APIRouter(prefix="/maturity", tags=["initiatives"])

Code = Annotated[str, Query(pattern=r"^[a-z][a-z0-9_]{0,79}$")]
AsOf = Annotated[
    date | None, Query(description="'Today' for reach and evidence (default: the latest data).")
]


@router.get("")
def list_initiatives(
    session: DbSession,
    _principal: AggregatesReader,
    page: Pagination,
    therapeutic_area: Annotated[
        str | None,
        Query(pattern=r"^[a-z0-9_]{0,40}$", description="This area's and everyone's initiatives."),
    ] = None,
    stakeholder_type: Annotated[
        str | None,
        Query(pattern=r"^[a-z_]{0,40}$", description="This type's and everyone's initiatives."),
    ] = None,
    status: Annotated[
        str | None, Query(pattern=r"^(proposed|planned|in_progress|shipped|dropped)?$")
    ] = None,
    as_of: AsOf = None,
) -> Page[service.BacklogRow]:
    """The backlog, highest RICE first; reach is computed from the data for the quarter to
    ``as_of``."""
    rows, total = service.backlog(
        session,
        therapeutic_area=therapeutic_area or None,
        stakeholder_type=stakeholder_type or None,
        status=status or None,
        as_of=as_of,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(items=rows, total=total, limit=page.limit, offset=page.offset)


@router.post("", status_code=201)
def create_initiative(
    session: DbSession, _principal: CxManager, body: InitiativeIn
) -> service.BacklogRow:
    """Add an initiative; every evidence code is checked and all faults reported at once."""
    initiative = service.create_initiative(session, data=body)
    return _scored(session, initiative)


@router.get("/{code}")
def get_initiative(
    request: Request, session: DbSession, principal: AggregatesReader, code: str, as_of: AsOf = None
) -> InitiativeDetail:
    """An initiative with its evidence (driver, theme, verbatims as your role may read them,
    journey stage), Kano analysis, RICE and, once shipped, the before/after comparison."""
    initiative = service.get_initiative(session, code=code)
    return initiative_detail(
        session, principal, initiative, as_of=as_of or latest_day(session),
        **cached_sources(request, session),
    )  # fmt: skip


@router.patch("/{code}")
def change_initiative(
    session: DbSession, _principal: CxManager, code: str, body: InitiativeChange
) -> service.BacklogRow:
    """Change status, MoSCoW, owner, RICE inputs or evidence; ``shipped_on`` starts the
    before/after comparison."""
    initiative = service.get_initiative(session, code=code)
    service.update_initiative(session, initiative=initiative, changes=body)
    return _scored(session, initiative)


def _scored(session: DbSession, initiative: Initiative) -> service.BacklogRow:
    scored = service.rice(session, initiative)
    return service.backlog_row(initiative, scored)


@maturity_router.get("")
def get_maturity(
    session: DbSession, _principal: AggregatesReader, as_of: AsOf = None
) -> MaturityAssessment:
    """Crawl, walk or run per capability, from the CX leads' self-assessment and the evidence
    the store holds, with the next steps."""
    return maturity_assessment(session, as_of=as_of)
