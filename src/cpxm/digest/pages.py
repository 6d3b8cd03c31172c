"""The digest page (``/digest``): pick a month and an audience, read it, download the PDF."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from cpxm.access import AGGREGATES, AggregatesReader, requires
from cpxm.deps import DbSession
from cpxm.digest import render, service
from cpxm.timeutil import utc_now
from cpxm.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[requires(AGGREGATES)])
MonthParameter = Annotated[str, Query(pattern=r"^(\d{4}-\d{2})?$")]
AudienceParameter = Annotated[str, Query(max_length=100)]


def _latest_month() -> str:
    return service.month_of(utc_now().strftime("%Y-%m")).previous.key


@router.get("/digest", response_class=HTMLResponse)
def digest_page(
    request: Request,
    session: DbSession,
    principal: AggregatesReader,
    month: MonthParameter = "",
    audience: AudienceParameter = service.LEADERSHIP,
) -> Response:
    chosen_month = service.month_of(month or _latest_month())
    chosen = service.audience_of(session, audience or service.LEADERSHIP)
    digest = service.build_digest(
        session, month=chosen_month, audience=chosen, principal=principal, now=utc_now()
    )
    context = render.body_context(digest, render.charts(digest))
    return templates.TemplateResponse(
        request,
        "digest/page.html",
        {
            **context,
            "principal": principal,
            "active_nav": "analytics",
            "audiences": service.audiences(session),
            "chosen_month": chosen_month.key,
            "chosen_audience": chosen.key,
        },
    )


@router.get("/digest.pdf")
def digest_pdf(
    session: DbSession,
    principal: AggregatesReader,
    month: MonthParameter = "",
    audience: AudienceParameter = service.LEADERSHIP,
) -> Response:
    chosen_month = service.month_of(month or _latest_month())
    chosen = service.audience_of(session, audience or service.LEADERSHIP)
    digest = service.build_digest(
        session, month=chosen_month, audience=chosen, principal=principal, now=utc_now()
    )
    filename = f"digest-{chosen_month.key}-{chosen.key.replace(':', '-')}.pdf"
    return Response(
        render.pdf(digest),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
