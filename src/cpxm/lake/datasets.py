"""What goes to the lake: the analytic facts, one dataset per kind, never a word of free text.

Each dataset is one query over the operational store, numbered by the id of its base table (the
lake's files are buckets of those ids). A person appears as their pseudonymous key
(:mod:`cpxm.access.keys`), the same key the app shows a role without identity, so lake figures
can be joined to what the pages show without the lake holding a name. An identified export adds
the golden record's id and identity, for the roles that may see both (:mod:`cpxm.lake.export`).

Left out on purpose: comments, notes, text answers, case descriptions and titles (free text is
where patients' and colleagues' words live; the text analysis results go instead), safety cases
(pharmacovigilance keeps its own regulated store), and every answer to a confidential survey
(an employee pulse answer must only ever leave CPXM inside a group of the minimum size).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import ColumnElement, Select, false, select

from cpxm.cases.models import Case
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.models import Answer, Invitation, Question, Response, Survey

STRING = pa.string()
INTEGER = pa.int64()
NUMBER = pa.float64()
MOMENT = pa.timestamp("us")
DAY = pa.date32()
FLAG = pa.bool_()
WORDS = pa.list_(pa.string())
ROW = "lake_row"  # every query's first column: the base table's id, which numbers the buckets


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    # "key": a stakeholder id, exported as the person's pseudonymous key (and as the id too in
    # an identified export); "identity": exported only in an identified export.
    role: str = "fact"


@dataclass(frozen=True)
class Dataset:
    name: str
    columns: tuple[Column, ...]
    # The query's select list: the base table's id (``ROW``), then ``columns`` in order.
    query: Callable[[], Select[Any]]
    description: str

    def arrow_fields(self, identified: bool) -> list[pa.Field]:
        fields: list[pa.Field] = []
        for column in self.columns:
            if column.role == "key":
                stem = column.name.removesuffix("_id")
                fields.append(pa.field(f"{stem}_key", STRING))
                if identified:
                    fields.append(pa.field(column.name, INTEGER))
            elif column.role == "identity":
                if identified:
                    fields.append(pa.field(column.name, column.type))
            else:
                fields.append(pa.field(column.name, column.type))
        return fields


def rows(*columns: Any) -> Select[Any]:
    """A select of a dataset's row number and columns (typed loosely: they are many)."""
    return select(*columns)


def _not_confidential() -> ColumnElement[bool]:
    return Survey.confidential.is_(false())


def _stakeholders() -> Select[Any]:
    return rows(
        Stakeholder.id.label(ROW),
        Stakeholder.id,
        Stakeholder.kind,
        Stakeholder.type,
        Stakeholder.specialty,
        Stakeholder.country_code,
        Stakeholder.language,
        Stakeholder.team_id,
        Stakeholder.status,
        Stakeholder.created_at,
        Stakeholder.updated_at,
        Stakeholder.display_name,
        Stakeholder.first_name,
        Stakeholder.last_name,
        Stakeholder.professional_id,
        Stakeholder.email,
        Stakeholder.city,
        Stakeholder.postal_code,
    ).where(Stakeholder.status != "merged")


def _interactions() -> Select[Any]:
    return rows(
        Interaction.id.label(ROW),
        Interaction.id,
        Interaction.stakeholder_id,
        Interaction.employee_id,
        Interaction.occurred_at,
        Interaction.channel_code,
        Interaction.department_code,
        Interaction.interaction_type,
        Interaction.direction,
        Interaction.product_code,
        Interaction.therapeutic_area_code,
        Interaction.lifecycle_phase_code,
        Interaction.journey_stage_id,
        Interaction.outcome,
    )


def _responses() -> Select[Any]:
    return (
        rows(
            Response.id.label(ROW),
            Response.id,
            Response.stakeholder_id,
            Survey.code,
            Survey.kind,
            Response.survey_version,
            Response.channel_code,
            Response.language,
            Response.status,
            Response.started_at,
            Response.submitted_at,
            Invitation.trigger_interaction_id,
        )
        .join(Survey, Survey.id == Response.survey_id)
        .outerjoin(Invitation, Invitation.id == Response.invitation_id)
        .where(_not_confidential())
    )


def _answers() -> Select[Any]:
    return (
        rows(
            Answer.id.label(ROW),
            Answer.id,
            Answer.response_id,
            Question.code,
            Question.question_type,
            Answer.value_number,
            Answer.value_choices,
        )
        .join(Question, Question.id == Answer.question_id)
        .join(Response, Response.id == Answer.response_id)
        .join(Survey, Survey.id == Response.survey_id)
        .where(_not_confidential())
    )


def _feedback() -> Select[Any]:
    # Feedback made from a confidential survey's comment stays out with its answers.
    confidential_responses = (
        select(Response.id)
        .join(Survey, Survey.id == Response.survey_id)
        .where(Survey.confidential.is_(True))
    )
    return (
        rows(
            FeedbackItem.id.label(ROW),
            FeedbackItem.id,
            FeedbackItem.stakeholder_id,
            FeedbackItem.source_kind,
            FeedbackItem.received_at,
            FeedbackItem.channel_code,
            FeedbackItem.language,
            FeedbackItem.response_id,
            FeedbackItem.interaction_id,
            FeedbackItem.analysis_status,
            FeedbackAnalysis.sentiment_label,
            FeedbackAnalysis.sentiment_score,
            FeedbackAnalysis.themes,
            FeedbackAnalysis.safety_kinds,
        )
        .outerjoin(FeedbackAnalysis, FeedbackAnalysis.feedback_item_id == FeedbackItem.id)
        .where(
            FeedbackItem.response_id.is_(None)
            | FeedbackItem.response_id.not_in(confidential_responses)
        )
    )


def _cases() -> Select[Any]:
    return rows(
        Case.id.label(ROW),
        Case.id,
        Case.stakeholder_id,
        Case.case_type,
        Case.status,
        Case.priority,
        Case.response_id,
        Case.feedback_item_id,
        Case.team_id,
        Case.department_code,
        Case.country_code,
        Case.therapeutic_area_code,
        Case.opened_at,
        Case.due_at,
        Case.closed_at,
        Case.resolution_code,
        Case.escalation_level,
        Case.recovery_sent_at,
        Case.recovery_score,
        Case.recovery_answered_at,
    )


DATASETS: tuple[Dataset, ...] = (
    Dataset(
        "stakeholders",
        (
            Column("stakeholder_id", INTEGER, role="key"),
            Column("kind", STRING),
            Column("type", STRING),
            Column("specialty", STRING),
            Column("country_code", STRING),
            Column("language", STRING),
            Column("team_id", INTEGER),
            Column("status", STRING),
            Column("created_at", MOMENT),
            Column("updated_at", MOMENT),
            Column("display_name", STRING, role="identity"),
            Column("first_name", STRING, role="identity"),
            Column("last_name", STRING, role="identity"),
            Column("professional_id", STRING, role="identity"),
            Column("email", STRING, role="identity"),
            Column("city", STRING, role="identity"),
            Column("postal_code", STRING, role="identity"),
        ),
        _stakeholders,
        "golden records (merged provisional records left out)",
    ),
    Dataset(
        "interactions",
        (
            Column("id", INTEGER),
            Column("stakeholder_id", INTEGER, role="key"),
            Column("employee_id", INTEGER, role="key"),
            Column("occurred_at", MOMENT),
            Column("channel_code", STRING),
            Column("department_code", STRING),
            Column("interaction_type", STRING),
            Column("direction", STRING),
            Column("product_code", STRING),
            Column("therapeutic_area_code", STRING),
            Column("lifecycle_phase_code", STRING),
            Column("journey_stage_id", INTEGER),
            Column("outcome", STRING),
        ),
        _interactions,
        "every touchpoint, without its notes",
    ),
    Dataset(
        "responses",
        (
            Column("id", INTEGER),
            Column("stakeholder_id", INTEGER, role="key"),
            Column("survey_code", STRING),
            Column("survey_kind", STRING),
            Column("survey_version", INTEGER),
            Column("channel_code", STRING),
            Column("language", STRING),
            Column("status", STRING),
            Column("started_at", MOMENT),
            Column("submitted_at", MOMENT),
            Column("trigger_interaction_id", INTEGER),
        ),
        _responses,
        "survey responses (confidential surveys left out)",
    ),
    Dataset(
        "answers",
        (
            Column("id", INTEGER),
            Column("response_id", INTEGER),
            Column("question_code", STRING),
            Column("question_type", STRING),
            Column("value_number", NUMBER),
            Column("value_choices", WORDS),
        ),
        _answers,
        "scores and choices (text answers and confidential surveys left out)",
    ),
    Dataset(
        "feedback",
        (
            Column("id", INTEGER),
            Column("stakeholder_id", INTEGER, role="key"),
            Column("source_kind", STRING),
            Column("received_at", MOMENT),
            Column("channel_code", STRING),
            Column("language", STRING),
            Column("response_id", INTEGER),
            Column("interaction_id", INTEGER),
            Column("analysis_status", STRING),
            Column("sentiment_label", STRING),
            Column("sentiment_score", NUMBER),
            Column("themes", WORDS),
            Column("safety_kinds", WORDS),
        ),
        _feedback,
        "feedback items with their analysis (the text left out)",
    ),
    Dataset(
        "cases",
        (
            Column("id", INTEGER),
            Column("stakeholder_id", INTEGER, role="key"),
            Column("case_type", STRING),
            Column("status", STRING),
            Column("priority", STRING),
            Column("response_id", INTEGER),
            Column("feedback_item_id", INTEGER),
            Column("team_id", INTEGER),
            Column("department_code", STRING),
            Column("country_code", STRING),
            Column("therapeutic_area_code", STRING),
            Column("opened_at", MOMENT),
            Column("due_at", MOMENT),
            Column("closed_at", MOMENT),
            Column("resolution_code", STRING),
            Column("escalation_level", INTEGER),
            Column("recovery_sent_at", MOMENT),
            Column("recovery_score", NUMBER),
            Column("recovery_answered_at", MOMENT),
        ),
        _cases,
        "closed-loop cases (title and description left out)",
    ),
)

DATASET_NAMES = tuple(dataset.name for dataset in DATASETS)
