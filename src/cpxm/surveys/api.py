"""JSON routes for surveys and their responses: thin wrappers over ``cpxm.surveys.service``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from cpxm.access import (
    COMMERCIAL_DATA,
    CX_MANAGEMENT,
    CommercialReader,
    person_filter,
    requires,
    shield_export_rows,
    shield_responses,
)
from cpxm.access.confidential import hidden_survey_ids, refuse_records
from cpxm.deps import DbSession
from cpxm.pagination import Page, Pagination
from cpxm.surveys import service
from cpxm.surveys.distribution import create_open_link, plan_wave
from cpxm.surveys.export import export_responses
from cpxm.surveys.schemas import (
    ResponseDetailOut,
    ResponseOut,
    SurveyDetailOut,
    SurveyOut,
    response_detail_out,
    response_out,
    survey_detail_out,
    survey_out,
)
from cpxm.timeutil import to_naive_utc, utc_now

surveys_router = APIRouter(
    prefix="/surveys", tags=["surveys"], dependencies=[requires(COMMERCIAL_DATA)]
)
responses_router = APIRouter(
    prefix="/responses", tags=["responses"], dependencies=[requires(COMMERCIAL_DATA)]
)


@surveys_router.get("", response_model=Page[SurveyOut])
def list_surveys(
    session: DbSession,
    page: Pagination,
    kind: Annotated[
        str | None, Query(description="relationship, transactional, patient_support, ...")
    ] = None,
    status: Literal["draft", "active", "closed"] | None = None,
) -> Page[SurveyOut]:
    """Surveys, filtered, newest first."""
    surveys, total = service.list_surveys(
        session, kind=kind, status=status, limit=page.limit, offset=page.offset
    )
    return Page(
        items=[survey_out(s) for s in surveys], total=total, limit=page.limit, offset=page.offset
    )


@surveys_router.get("/{survey_id}", response_model=SurveyDetailOut)
def get_survey(session: DbSession, survey_id: int) -> SurveyDetailOut:
    """One survey with its questions in order."""
    found = service.get_survey(session, survey_id=survey_id)
    return survey_detail_out(found.survey, questions=found.questions)


@responses_router.get("", response_model=Page[ResponseOut])
def list_responses(
    session: DbSession,
    principal: CommercialReader,
    page: Pagination,
    survey_id: int | None = None,
    stakeholder_id: int | None = None,
    status: Literal["partial", "complete"] | None = None,
    submitted_from: Annotated[
        datetime | None, Query(description="Inclusive; naive times are UTC.")
    ] = None,
    submitted_to: Annotated[
        datetime | None, Query(description="Exclusive; naive times are UTC.")
    ] = None,
) -> Page[ResponseOut]:
    """Survey responses, filtered, most recently started first."""
    responses, total = service.list_responses(
        session,
        survey_id=survey_id,
        stakeholder_id=person_filter(session, principal, stakeholder_id),
        status=status,
        submitted_from=submitted_from,
        submitted_to=submitted_to,
        hidden_survey_ids=hidden_survey_ids(session, principal),
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=shield_responses(
            session, principal, [response_out(r) for r in responses], via="responses api"
        ),
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@responses_router.get("/{response_id}", response_model=ResponseDetailOut)
def get_response(
    session: DbSession, principal: CommercialReader, response_id: int
) -> ResponseDetailOut:
    """One response with its answers, named by question."""
    found = service.get_response(session, response_id=response_id)
    refuse_records(
        session,
        principal,
        service.get_survey(session, survey_id=found.response.survey_id).survey,
        what="responses",
    )
    detail = response_detail_out(found.response, answers=found.answers)
    return shield_responses(session, principal, [detail], via="responses api")[0]


@surveys_router.post(
    "", response_model=SurveyDetailOut, dependencies=[requires(CX_MANAGEMENT)], status_code=201
)
def save_survey(session: DbSession, definition: Annotated[dict[str, Any], Body()]) -> Any:
    """Create a survey from a definition (JSON), or publish its next version if it changed."""
    saved = service.save_definition(session, document=definition)
    found = service.get_survey(session, survey_id=saved.survey.id)
    return JSONResponse(
        jsonable_encoder(survey_detail_out(found.survey, questions=found.questions)),
        status_code=201 if saved.created else 200,
    )


@surveys_router.get("/{survey_id}/definition")
def get_definition(
    session: DbSession, survey_id: int, version: int | None = None
) -> dict[str, Any]:
    """The survey's definition (current version unless one is named), ready to import again."""
    return service.export_definition(session, survey_id=survey_id, version=version)


@surveys_router.get("/{survey_id}/export")
def export_survey_responses(
    session: DbSession,
    principal: CommercialReader,
    survey_id: int,
    format: Literal["csv", "json", "parquet"] = "csv",
) -> Response:
    """The survey's responses as CSV, JSON or Parquet, one row per response, as your role may
    see them: patients by ``stakeholder_key``, text answers withheld where your role may not read
    them (and reads of those that are shown audited)."""
    survey = service.get_survey(session, survey_id=survey_id).survey
    refuse_records(session, principal, survey, what="responses (an export is one row per person)")
    data = export_responses(
        session,
        survey=survey,
        format=format,
        shield=lambda rows, text_columns: shield_export_rows(
            session, principal, rows, text_columns=text_columns, via="survey export"
        ),
    )
    media = {"csv": "text/csv", "json": "application/json", "parquet": "application/octet-stream"}
    return Response(
        data,
        media_type=media[format],
        headers={"content-disposition": f'attachment; filename="{survey.code}.{format}"'},
    )


class OpenLinkIn(BaseModel):
    label: str = "open link"
    channel: str | None = None
    expires_at: datetime | None = None


@surveys_router.post("/{survey_id}/links", dependencies=[requires(CX_MANAGEMENT)], status_code=201)
def create_link(session: DbSession, survey_id: int, link: OpenLinkIn) -> dict[str, Any]:
    """An anonymous open link to the survey."""
    survey = service.get_survey(session, survey_id=survey_id).survey
    created = create_open_link(
        session,
        survey=survey,
        label=link.label,
        channel=link.channel,
        expires_at=to_naive_utc(link.expires_at) if link.expires_at else None,
    )
    return {"id": created.id, "token": created.token, "path": f"/s/{created.token}"}


@surveys_router.get("/{survey_id}/send-plan", dependencies=[requires(CX_MANAGEMENT)])
def send_plan(
    session: DbSession, survey_id: int, wave: str, channel: str = "email"
) -> dict[str, Any]:
    """Who a wave would invite now and who is held back by which rule (a dry run)."""
    survey = service.get_survey(session, survey_id=survey_id).survey
    plan = plan_wave(session, survey=survey, wave=wave, channel=channel, now=utc_now())
    return {
        "invite": [s.id for s in plan.invite],
        "held": [
            {"stakeholder_id": s.id, "rules": [{"rule": h.rule, "reason": h.reason} for h in holds]}
            for s, holds in plan.held
        ],
        "already_invited": plan.already_invited,
    }
