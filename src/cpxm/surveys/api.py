"""JSON routes for surveys and their responses: thin wrappers over ``cpxm.surveys.service``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from cpxm.access import COMMERCIAL_DATA, requires
from cpxm.deps import DbSession
from cpxm.pagination import Page, Pagination
from cpxm.surveys import service
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
        stakeholder_id=stakeholder_id,
        status=status,
        submitted_from=submitted_from,
        submitted_to=submitted_to,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[response_out(r) for r in responses],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@responses_router.get("/{response_id}", response_model=ResponseDetailOut)
def get_response(session: DbSession, response_id: int) -> ResponseDetailOut:
    """One response with its answers, named by question."""
    found = service.get_response(session, response_id=response_id)
    return response_detail_out(found.response, answers=found.answers)
