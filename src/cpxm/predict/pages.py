"""The at-risk page: who may turn detractor or disengage, why, and how good the model is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from cpxm.access import COMMERCIAL_DATA, CommercialReader, requires
from cpxm.deps import DbSession
from cpxm.predict.models import PredictionModel
from cpxm.predict.service import at_risk_stakeholders
from cpxm.web.templating import templates

router = APIRouter(
    prefix="/predictions", include_in_schema=False, dependencies=[requires(COMMERCIAL_DATA)]
)
PAGE_SIZE = 50


@router.get("", response_class=HTMLResponse)
def at_risk_page(
    request: Request,
    session: DbSession,
    principal: CommercialReader,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    listing = at_risk_stakeholders(
        session, principal, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    model = (
        session.scalar(
            select(PredictionModel).where(PredictionModel.version == listing.model_version)
        )
        if listing.model_version is not None
        else None
    )
    return templates.TemplateResponse(
        request,
        "predict/at_risk.html",
        {
            "listing": listing,
            "model": model,
            "page": page,
            "pages": max(1, -(-listing.total // PAGE_SIZE)),
            "principal": principal,
            "active_nav": "predictions",
        },
    )
