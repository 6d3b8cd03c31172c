"""The fact tables analytics slice: score answers and invitations, with every segment dimension.

A response is attributed to the touchpoint it is about: a transactional survey's invitation names
its trigger interaction, whose channel, department, product, therapeutic area, lifecycle phase and
journey stage become the response's. Relationship surveys have no trigger, so those dimensions
read "(none)" for them; stakeholder type, specialty, country and survey are always known.
Only the joins a question needs are made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

import ibis
import ibis.expr.types as ir
from sqlalchemy.orm import Session

from cpxm.analytics.query import fetch, table
from cpxm.errors import FieldError, field_error
from cpxm.web.templating import humanise

NONE_KEY = "(none)"  # the segment of answers whose dimension is not recorded
# Employee pulse surveys ask an eNPS: employee experience, not customer NPS. Customer figures
# leave them out everywhere (overview, metrics, impact, coordination); eNPS is shown on its own.
EMPLOYEE_SURVEY_KINDS = ("employee_pulse",)

STAKEHOLDER_DIMENSIONS = ("stakeholder_type", "specialty", "country")
TOUCHPOINT_DIMENSIONS = (
    "channel",
    "department",
    "product",
    "therapeutic_area",
    "lifecycle_phase",
    "journey_stage",
)
DIMENSIONS = (*STAKEHOLDER_DIMENSIONS, *TOUCHPOINT_DIMENSIONS, "survey")
GRAINS = {"week": "W", "month": "M", "quarter": "Q"}

# dimension -> (taxonomy table, key column, label column) for labels and validation
_TAXONOMY: dict[str, tuple[str, str, str]] = {
    "country": ("countries", "code", "name"),
    "channel": ("channels", "code", "name"),
    "department": ("departments", "code", "name"),
    "product": ("products", "code", "name"),
    "therapeutic_area": ("therapeutic_areas", "code", "name"),
    "lifecycle_phase": ("lifecycle_phases", "code", "name"),
    "survey": ("surveys", "code", "name"),
}


@dataclass(frozen=True)
class Slice:
    """Which answers (or invitations) a figure covers: filters and a date range."""

    filters: tuple[tuple[str, str], ...] = ()
    date_from: date | None = None
    date_to: date | None = None  # inclusive

    def needs(self, dimensions: Iterable[str]) -> bool:
        wanted = set(dimensions)
        return any(dimension in wanted for dimension, _ in self.filters)

    def values(self, dimension: str) -> list[str]:
        """The values this slice filters ``dimension`` on."""
        return [value for d, value in self.filters if d == dimension]

    def with_filter(self, dimension: str, value: str) -> Slice:
        kept = tuple((d, v) for d, v in self.filters if d != dimension)
        return Slice((*kept, (dimension, value)), self.date_from, self.date_to)


def validate_slice(session: Session, slice_: Slice) -> None:
    """Reject unknown dimensions and codes with the allowed values, before any query runs."""
    errors = []
    for dimension, value in slice_.filters:
        if dimension not in DIMENSIONS:
            errors.append(
                field_error(
                    dimension,
                    f"unknown segment dimension {dimension!r}; allowed: {', '.join(DIMENSIONS)}",
                    dimension,
                )
            )
            continue
        if value == NONE_KEY:
            continue
        if dimension in _TAXONOMY or dimension == "journey_stage":
            labels = dimension_labels(session, dimension)
            if value not in labels:
                allowed = ", ".join(sorted(labels)[:40])
                errors.append(
                    field_error(
                        dimension,
                        f"unknown {dimension} {value!r}; allowed: {allowed}",
                        value,
                        kind="unknown_code",
                    )
                )
        elif len(value) > 200:
            errors.append(field_error(dimension, "value longer than 200 characters", value))
    if slice_.date_from and slice_.date_to and slice_.date_from > slice_.date_to:
        errors.append(
            field_error("date_from", "date_from is after date_to", slice_.date_from.isoformat())
        )
    if errors:
        raise FieldError(errors)


def dimension_labels(session: Session, dimension: str) -> dict[str, str]:
    """Readable names of a dimension's codes (an empty map where codes are the names)."""
    expression = _labels_expression(dimension)
    if expression is None:
        return {}
    rows = fetch(session, expression)
    if dimension == "journey_stage":
        return {row["key"]: f"{row['journey']}: {row['stage']}" for row in rows}
    return {row["key"]: row["label"] for row in rows}


@cache
def _labels_expression(dimension: str) -> ir.Table | None:
    # Built once per dimension: a page asks for several, and building costs Ibis milliseconds.
    if dimension == "journey_stage":
        stages = table("journey_stages")
        journeys = table("journeys")
        return stages.join(journeys, stages.journey_id == journeys.id).select(
            key=stages.id.cast("string"), journey=journeys.name, stage=stages.name
        )
    if dimension not in _TAXONOMY:
        return None
    name, key, label = _TAXONOMY[dimension]
    source = table(name)
    return source.select(key=source[key], label=source[label])


def _dimension_columns(
    responses: ir.Table, stakeholders: ir.Table | None, trigger: ir.Table | None
) -> dict[str, ir.Value]:
    columns: dict[str, ir.Value] = {}
    if stakeholders is not None:
        columns["stakeholder_type"] = stakeholders.type
        columns["specialty"] = stakeholders.specialty
        columns["country"] = stakeholders.country_code
    if trigger is not None:
        columns["channel"] = trigger.channel_code
        columns["department"] = trigger.department_code
        columns["product"] = trigger.product_code
        columns["therapeutic_area"] = trigger.therapeutic_area_code
        columns["lifecycle_phase"] = trigger.lifecycle_phase_code
        columns["journey_stage"] = trigger.journey_stage_id.cast("string")
    return columns


def period_start(timestamp: ir.TimestampValue, grain: str) -> ir.Value:
    return timestamp.truncate(GRAINS[grain])


def score_answers(
    *,
    question_types: tuple[str, ...] = (),
    question_id: int | None = None,
    value_range: tuple[float, float] | None = None,
    slice_: Slice = Slice(),
    dimensions: Iterable[str] = (),
    exclude_survey_kinds: tuple[str, ...] = (),
    only_survey_kinds: tuple[str, ...] = (),
    survey_id: int | None = None,
) -> ir.Table:
    """One row per valid numeric answer of complete responses, with the dimensions asked for.

    Columns: response_id, stakeholder_id, survey_id, question_type, value, answered_at, and one
    column per dimension in ``dimensions`` (plus those the slice filters on), NULL as NONE_KEY.
    """
    answers = table("answers")
    questions = table("questions")
    responses = table("responses")
    wanted = set(dimensions) | {dimension for dimension, _ in slice_.filters}

    question_filter = []
    if question_id is not None:
        question_filter.append(questions.id == question_id)
    if question_types:
        question_filter.append(questions.question_type.isin(question_types))
    chosen_questions = questions.filter(*question_filter).select(
        question_id=questions.id,
        question_type=questions.question_type,
        q_survey=questions.survey_id,
    )
    valid_answers = answers.filter(answers.value_number.notnull())
    if value_range is not None:
        valid_answers = valid_answers.filter(
            valid_answers.value_number.between(value_range[0], value_range[1])
        )
    answered_at = responses.submitted_at.fill_null(responses.started_at)
    complete = responses.filter(responses.status == "complete").select(
        response_id=responses.id,
        stakeholder_id=responses.stakeholder_id,
        survey_id=responses.survey_id,
        invitation_id=responses.invitation_id,
        response_channel=responses.channel_code,
        answered_at=answered_at,
    )
    complete = _date_range(complete, complete.answered_at, slice_)
    if survey_id is not None:
        complete = complete.filter(complete.survey_id == survey_id)
    if exclude_survey_kinds:
        surveys = table("surveys")
        excluded = surveys.filter(surveys.kind.isin(exclude_survey_kinds)).id
        complete = complete.filter(~complete.survey_id.isin(excluded))
    if only_survey_kinds:
        surveys = table("surveys")
        included = surveys.filter(surveys.kind.isin(only_survey_kinds)).id
        complete = complete.filter(complete.survey_id.isin(included))
    facts = valid_answers.select(
        response_id=valid_answers.response_id,
        question_id=valid_answers.question_id,
        value=valid_answers.value_number,
    )
    facts = facts.join(chosen_questions, "question_id").join(complete, "response_id")
    extra: dict[str, ir.Value] = {}
    if wanted & set(STAKEHOLDER_DIMENSIONS):
        stakeholders = table("stakeholders")
        people = stakeholders.select(
            s_id=stakeholders.id,
            stakeholder_type=stakeholders.type,
            specialty=stakeholders.specialty,
            country=stakeholders.country_code,
        )
        facts = facts.left_join(people, facts.stakeholder_id == people.s_id)
        for dimension in STAKEHOLDER_DIMENSIONS:
            extra[dimension] = facts[dimension]
    if wanted & set(TOUCHPOINT_DIMENSIONS):
        facts = _join_trigger(facts)
        extra["channel"] = facts.t_channel.fill_null(facts.response_channel)
        for dimension in TOUCHPOINT_DIMENSIONS[1:]:
            extra[dimension] = facts[f"t_{dimension}"]
    if "survey" in wanted:
        surveys = table("surveys")
        codes = surveys.select(sv_id=surveys.id, survey=surveys.code)
        facts = facts.join(codes, facts.survey_id == codes.sv_id)
        extra["survey"] = facts.survey
    selected = {
        "response_id": facts.response_id,
        "stakeholder_id": facts.stakeholder_id,
        "survey_id": facts.survey_id,
        "question_id": facts.question_id,
        "question_type": facts.question_type,
        "value": facts.value,
        "answered_at": facts.answered_at,
    }
    for dimension in wanted:
        selected[dimension] = extra[dimension].cast("string").fill_null(NONE_KEY)
    result = facts.select(**selected)
    return _apply_filters(result, slice_)


def _join_trigger(facts: ir.Table) -> ir.Table:
    invitations = table("invitations")
    interactions = table("interactions")
    links = invitations.select(i_id=invitations.id, trigger_id=invitations.trigger_interaction_id)
    touch = interactions.select(
        x_id=interactions.id,
        t_channel=interactions.channel_code,
        t_department=interactions.department_code,
        t_product=interactions.product_code,
        t_therapeutic_area=interactions.therapeutic_area_code,
        t_lifecycle_phase=interactions.lifecycle_phase_code,
        t_journey_stage=interactions.journey_stage_id.cast("string"),
    )
    facts = facts.left_join(links, facts.invitation_id == links.i_id)
    return facts.left_join(touch, facts.trigger_id == touch.x_id)


def invitations_sent(
    *,
    survey_ids: ir.Column | None,
    slice_: Slice = Slice(),
    dimensions: Iterable[str] = (),
) -> ir.Table:
    """One row per sent invitation with ``responded`` (1 if a complete response came back)."""
    invitations = table("invitations")
    responses = table("responses")
    wanted = set(dimensions) | {dimension for dimension, _ in slice_.filters}
    sent = invitations.filter(invitations.sent_at.notnull())
    if survey_ids is not None:
        sent = sent.filter(sent.survey_id.isin(survey_ids))
    sent = sent.select(
        invitation_id=sent.id,
        stakeholder_id=sent.stakeholder_id,
        survey_id=sent.survey_id,
        response_channel=sent.channel_code,
        trigger_id=sent.trigger_interaction_id,
        sent_at=sent.sent_at,
    )
    sent = _date_range(sent, sent.sent_at, slice_)
    complete = responses.filter(
        responses.status == "complete", responses.invitation_id.notnull()
    ).select(r_invitation=responses.invitation_id, r_id=responses.id)
    facts = sent.left_join(complete, sent.invitation_id == complete.r_invitation)
    extra: dict[str, ir.Value] = {}
    if wanted & set(STAKEHOLDER_DIMENSIONS):
        stakeholders = table("stakeholders")
        people = stakeholders.select(
            s_id=stakeholders.id,
            stakeholder_type=stakeholders.type,
            specialty=stakeholders.specialty,
            country=stakeholders.country_code,
        )
        facts = facts.left_join(people, facts.stakeholder_id == people.s_id)
        for dimension in STAKEHOLDER_DIMENSIONS:
            extra[dimension] = facts[dimension]
    if wanted & set(TOUCHPOINT_DIMENSIONS):
        interactions = table("interactions")
        touch = interactions.select(
            x_id=interactions.id,
            t_channel=interactions.channel_code,
            t_department=interactions.department_code,
            t_product=interactions.product_code,
            t_therapeutic_area=interactions.therapeutic_area_code,
            t_lifecycle_phase=interactions.lifecycle_phase_code,
            t_journey_stage=interactions.journey_stage_id.cast("string"),
        )
        facts = facts.left_join(touch, facts.trigger_id == touch.x_id)
        extra["channel"] = facts.t_channel.fill_null(facts.response_channel)
        for dimension in TOUCHPOINT_DIMENSIONS[1:]:
            extra[dimension] = facts[f"t_{dimension}"]
    if "survey" in wanted:
        surveys = table("surveys")
        codes = surveys.select(sv_id=surveys.id, survey=surveys.code)
        facts = facts.join(codes, facts.survey_id == codes.sv_id)
        extra["survey"] = facts.survey
    selected: dict[str, ir.Value] = {
        "invitation_id": facts.invitation_id,
        "sent_at": facts.sent_at,
        "responded": facts.r_id.notnull().ifelse(1, 0),
    }
    for dimension in wanted:
        selected[dimension] = extra[dimension].cast("string").fill_null(NONE_KEY)
    return _apply_filters(facts.select(**selected), slice_)


def _date_range(relation: ir.Table, timestamp: ir.TimestampValue, slice_: Slice) -> ir.Table:
    if slice_.date_from is not None:
        start = datetime.combine(slice_.date_from, time.min)
        relation = relation.filter(timestamp >= ibis.literal(start))
    if slice_.date_to is not None:
        end = datetime.combine(slice_.date_to + timedelta(days=1), time.min)
        relation = relation.filter(timestamp < ibis.literal(end))
    return relation


def _apply_filters(relation: ir.Table, slice_: Slice) -> ir.Table:
    for dimension, value in slice_.filters:
        relation = relation.filter(relation[dimension] == value)
    return relation


def label_for(labels: Mapping[str, str], key: str) -> str:
    if key == NONE_KEY:
        return "(not recorded)"
    return labels.get(key) or humanise(key)
