"""Listing and recording interactions, the touchpoints every later analysis counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from cpxm.db import Base
from cpxm.errors import FieldError, NotFoundError, field_error
from cpxm.interactions.models import Interaction
from cpxm.interactions.schemas import InteractionCreate
from cpxm.journeys.models import JourneyStage
from cpxm.stakeholders.models import Stakeholder
from cpxm.stakeholders.service import golden_ids
from cpxm.timeutil import to_naive_utc
from cpxm.workspace.models import Channel, Department, LifecyclePhase, Product, TherapeuticArea

# Above this many codes an error message names the unknown value only, not every allowed code.
MAX_CODES_IN_MESSAGE = 40


def list_interactions(
    session: Session,
    *,
    stakeholder_id: int | None = None,
    channel: str | None = None,
    department: str | None = None,
    interaction_type: str | None = None,
    product: str | None = None,
    therapeutic_area: str | None = None,
    lifecycle_phase: str | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Interaction], int]:
    """Interactions matching every filter, newest first; ``occurred_to`` is exclusive."""
    conditions: list[Any] = []
    equal_filters: list[tuple[InstrumentedAttribute[Any], object]] = [
        (Interaction.stakeholder_id, stakeholder_id),
        (Interaction.channel_code, channel),
        (Interaction.department_code, department),
        (Interaction.interaction_type, interaction_type),
        (Interaction.product_code, product),
        (Interaction.therapeutic_area_code, therapeutic_area),
        (Interaction.lifecycle_phase_code, lifecycle_phase),
    ]
    conditions.extend(column == value for column, value in equal_filters if value is not None)
    if occurred_from is not None:
        conditions.append(Interaction.occurred_at >= to_naive_utc(occurred_from))
    if occurred_to is not None:
        conditions.append(Interaction.occurred_at < to_naive_utc(occurred_to))
    total = session.scalar(select(func.count(Interaction.id)).where(*conditions)) or 0
    page = (
        select(Interaction)
        .where(*conditions)
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(page)), total


def get_interaction(session: Session, *, interaction_id: int) -> Interaction:
    interaction = session.get(Interaction, interaction_id)
    if interaction is None:
        raise NotFoundError("interaction", interaction_id)
    return interaction


def create_interaction(session: Session, *, data: InteractionCreate) -> Interaction:
    """Record one touchpoint after checking every reference; all problems are reported at once.

    An id identity resolution merged into a golden record is recorded on that golden record,
    so a system that kept the old id still adds to the person's history, not to a copy.
    """
    errors = _reference_errors(session, data)
    if errors:
        raise FieldError(errors)
    golden = golden_ids(
        session,
        stakeholder_ids=[i for i in (data.stakeholder_id, data.employee_id) if i is not None],
    )
    interaction = Interaction(
        stakeholder_id=golden.get(data.stakeholder_id, data.stakeholder_id),
        occurred_at=data.occurred_at,
        channel_code=data.channel,
        department_code=data.department,
        interaction_type=data.interaction_type,
        direction=data.direction,
        product_code=data.product,
        therapeutic_area_code=data.therapeutic_area,
        lifecycle_phase_code=data.lifecycle_phase,
        journey_stage_id=data.journey_stage_id,
        employee_id=golden.get(data.employee_id, data.employee_id)
        if data.employee_id is not None
        else None,
        outcome=data.outcome,
        notes=data.notes,
    )
    session.add(interaction)
    session.flush()
    # Server-side defaults (created_at) are read back so the answer shows what was stored.
    session.refresh(interaction)
    return interaction


def _reference_errors(session: Session, data: InteractionCreate) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if session.get(Stakeholder, data.stakeholder_id) is None:
        errors.append(
            field_error(
                "stakeholder_id",
                f"stakeholder {data.stakeholder_id} does not exist",
                data.stakeholder_id,
                kind="unknown_reference",
            )
        )
    code_checks: list[tuple[str, str | None, type[Base], InstrumentedAttribute[str]]] = [
        ("channel", data.channel, Channel, Channel.code),
        ("department", data.department, Department, Department.code),
        ("product", data.product, Product, Product.code),
        ("therapeutic_area", data.therapeutic_area, TherapeuticArea, TherapeuticArea.code),
        ("lifecycle_phase", data.lifecycle_phase, LifecyclePhase, LifecyclePhase.code),
    ]
    for field, value, model, code_column in code_checks:
        if value is not None and session.get(model, value) is None:
            errors.append(_unknown_code(session, field, value, code_column))
    if data.employee_id is not None:
        employee = session.get(Stakeholder, data.employee_id)
        if employee is None or employee.type != "employee":
            errors.append(
                field_error(
                    "employee_id",
                    f"stakeholder {data.employee_id} is not an employee",
                    data.employee_id,
                    kind="unknown_reference",
                )
            )
    if (
        data.journey_stage_id is not None
        and session.get(JourneyStage, data.journey_stage_id) is None
    ):
        errors.append(
            field_error(
                "journey_stage_id",
                f"journey stage {data.journey_stage_id} does not exist",
                data.journey_stage_id,
                kind="unknown_reference",
            )
        )
    return errors


def _unknown_code(
    session: Session, field: str, value: str, code_column: InstrumentedAttribute[str]
) -> dict[str, Any]:
    codes = list(
        session.scalars(select(code_column).order_by(code_column).limit(MAX_CODES_IN_MESSAGE + 1))
    )
    message = f"unknown {field.replace('_', ' ')} code '{value}'"
    if not codes:
        message += f"; no {field.replace('_', ' ')} codes are defined yet"
    elif len(codes) <= MAX_CODES_IN_MESSAGE:
        message += "; allowed: " + ", ".join(codes)
    error = field_error(field, message, value, kind="unknown_code")
    if len(codes) <= MAX_CODES_IN_MESSAGE:
        error["ctx"] = {"allowed": codes}
    return error
