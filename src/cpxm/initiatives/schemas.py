"""Initiatives as the API and the CLI's YAML files take and give them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from cpxm.initiatives.models import IMPACT_SCALE

CODE_PATTERN = r"^[a-z][a-z0-9_]{0,79}$"
STATUS_PATTERN = "^(proposed|planned|in_progress|shipped|dropped)$"


class InitiativeIn(BaseModel):
    """A new initiative. Evidence fields are codes: ``survey`` + ``driver`` (a rating question
    of that survey), ``theme`` (a feedback theme), ``journey`` + ``stage``, ``kano_survey`` +
    ``kano_questions``, ``kpi`` (a KPI imported into kpi_values)."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(pattern=CODE_PATTERN)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    problem: Annotated[str, Field(min_length=1, max_length=5000)]
    owner: Annotated[str, Field(min_length=1, max_length=200)]
    status: Annotated[str, Field(pattern="^(proposed|planned|in_progress|shipped|dropped)$")] = (
        "proposed"
    )
    moscow: Annotated[str, Field(pattern="^(must|should|could|wont)$")] = "should"
    therapeutic_area: str | None = None
    stakeholder_type: str | None = None
    survey: str | None = None
    driver: str | None = None
    theme: str | None = None
    journey: str | None = None
    stage: str | None = None
    kano_survey: str | None = None
    kano_questions: list[str] = []
    kpi: str | None = None
    impact: Annotated[
        float, Field(description=f"RICE impact, one of {', '.join(map(str, IMPACT_SCALE))}.")
    ] = 1.0
    impact_source: Annotated[str, Field(pattern="^(manual|kpi_model)$")] = "manual"
    confidence: Annotated[float, Field(ge=0, le=100, description="Percent.")] = 80.0
    effort: Annotated[float, Field(gt=0, le=1000, description="Person-months.")] = 1.0
    target_metric: Annotated[str, Field(pattern="^(nps|csat|ces)$")] = "nps"
    window_days: Annotated[int, Field(ge=14, le=365)] = 90
    shipped_on: date | None = None


class InitiativeChange(BaseModel):
    """Fields to change; those left out stay as they are (``null`` clears an optional one)."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    problem: Annotated[str, Field(min_length=1, max_length=5000)] | None = None
    owner: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    status: (
        Annotated[str, Field(pattern="^(proposed|planned|in_progress|shipped|dropped)$")] | None
    ) = None
    moscow: Annotated[str, Field(pattern="^(must|should|could|wont)$")] | None = None
    therapeutic_area: str | None = None
    stakeholder_type: str | None = None
    survey: str | None = None
    driver: str | None = None
    theme: str | None = None
    journey: str | None = None
    stage: str | None = None
    kano_survey: str | None = None
    kano_questions: list[str] | None = None
    kpi: str | None = None
    impact: float | None = None
    impact_source: Annotated[str, Field(pattern="^(manual|kpi_model)$")] | None = None
    confidence: Annotated[float, Field(ge=0, le=100)] | None = None
    effort: Annotated[float, Field(gt=0, le=1000)] | None = None
    target_metric: Annotated[str, Field(pattern="^(nps|csat|ces)$")] | None = None
    window_days: Annotated[int, Field(ge=14, le=365)] | None = None
    shipped_on: date | None = None
