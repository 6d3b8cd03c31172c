"""What each import target accepts: its fields, their kinds, which are required."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from cpxm.feedback.models import FEEDBACK_SOURCES
from cpxm.interactions.models import DIRECTIONS
from cpxm.stakeholders.models import CONSENT_PURPOSES, CONSENT_STATUSES, STAKEHOLDER_TYPES


class FieldKind(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    DATE = "date"
    DATETIME = "datetime"
    CHOICE = "choice"  # one of FieldDefinition.choices
    CODE = "code"  # a code in a taxonomy table (FieldDefinition.code_table)
    CODE_LIST = "code_list"  # several codes, split by the field's separator
    REFERENCE = "reference"  # the source id of a stakeholder's source record
    NUMBER = "number"  # a decimal number ("1234.5"; see FieldSpec.decimal_separator)


@dataclass(frozen=True)
class FieldDefinition:
    kind: FieldKind
    required: bool = False
    max_length: int = 300
    choices: tuple[str, ...] = ()
    code_table: str | None = None
    default: str | None = None  # applied when neither the mapping nor the row gives a value
    # For references: the kind of stakeholder the field must name (affiliations link a person to
    # an organisation), or None for any.
    stakeholder_kind: str | None = None
    # For references: the stakeholder type the field must name (an interaction's employee), or
    # None for any.
    stakeholder_type: str | None = None
    # An unreadable value is blanked and logged as a data-quality issue instead of quarantining
    # the row (the mapping's ``on_invalid`` decides; this is its default): an optional attribute
    # a person can do without, whom identity resolution should still see.
    blank_when_invalid: bool = False


@dataclass(frozen=True)
class TargetDefinition:
    name: str
    description: str
    fields: dict[str, FieldDefinition] = field(default_factory=dict)
    # Whether the mapping maps answer columns to question codes (``answers:``), for responses.
    takes_answers: bool = False


def _text(required: bool = False, max_length: int = 300) -> FieldDefinition:
    return FieldDefinition(FieldKind.TEXT, required=required, max_length=max_length)


def _code(table: str, required: bool = False) -> FieldDefinition:
    return FieldDefinition(FieldKind.CODE, required=required, code_table=table)


TARGETS: dict[str, TargetDefinition] = {
    target.name: target
    for target in (
        TargetDefinition(
            "stakeholders",
            "people and organisations as one source system knows them (source records)",
            {
                "type": FieldDefinition(FieldKind.CHOICE, required=True, choices=STAKEHOLDER_TYPES),
                "first_name": _text(max_length=120),
                "last_name": _text(max_length=120),
                "name": _text(),  # an organisation's name, or a full name in one column
                "specialty": _text(max_length=120),
                # Where a person works, as the export names it: identity resolution compares
                # it (two namesakes at different hospitals); it is not a golden-record field.
                "institution": _text(),
                "professional_id": _text(max_length=40),
                "email": FieldDefinition(FieldKind.EMAIL, max_length=320),
                "phone": FieldDefinition(FieldKind.TEXT, max_length=40, blank_when_invalid=True),
                "address_line": _text(),
                "postal_code": FieldDefinition(
                    FieldKind.TEXT, max_length=20, blank_when_invalid=True
                ),
                "city": _text(max_length=120),
                "country": _code("countries"),
                "language": _text(max_length=8),
                "birth_date": FieldDefinition(FieldKind.DATE, blank_when_invalid=True),
                "therapeutic_interests": FieldDefinition(
                    FieldKind.CODE_LIST, code_table="therapeutic_areas"
                ),
                "updated_at": FieldDefinition(FieldKind.DATETIME),
            },
        ),
        TargetDefinition(
            "interactions",
            "touchpoints: calls, visits, emails, events, inquiries, support contacts",
            {
                "stakeholder": FieldDefinition(FieldKind.REFERENCE, required=True),
                "occurred_at": FieldDefinition(FieldKind.DATETIME, required=True),
                "channel": _code("channels", required=True),
                "department": _code("departments", required=True),
                "interaction_type": FieldDefinition(
                    FieldKind.TEXT, required=True, max_length=60, default="contact"
                ),
                "direction": FieldDefinition(
                    FieldKind.CHOICE, required=True, choices=DIRECTIONS, default="outbound"
                ),
                "product": _code("products"),
                "therapeutic_area": _code("therapeutic_areas"),
                "lifecycle_phase": _code("lifecycle_phases"),
                "outcome": _text(max_length=120),
                "notes": _text(max_length=20_000),
                # Who made the contact (a CRM call's owner, a call-centre agent): an employee's
                # source record. One naming nobody is blanked and logged, never the interaction.
                "employee": FieldDefinition(
                    FieldKind.REFERENCE,
                    stakeholder_kind="person",
                    stakeholder_type="employee",
                    blank_when_invalid=True,
                ),
            },
        ),
        TargetDefinition(
            "consents",
            "consent decisions per purpose and channel",
            {
                "stakeholder": FieldDefinition(FieldKind.REFERENCE, required=True),
                "purpose": FieldDefinition(
                    FieldKind.CHOICE, required=True, choices=CONSENT_PURPOSES
                ),
                "status": FieldDefinition(
                    FieldKind.CHOICE, required=True, choices=CONSENT_STATUSES
                ),
                "channel": _code("channels"),
                "recorded_at": FieldDefinition(FieldKind.DATETIME, required=True),
            },
        ),
        TargetDefinition(
            "feedback",
            "free text from any source: call notes, inquiries, call-centre logs, web and social",
            {
                "text": _text(required=True, max_length=20_000),
                "received_at": FieldDefinition(FieldKind.DATETIME, required=True),
                "source_kind": FieldDefinition(
                    FieldKind.CHOICE, required=True, choices=FEEDBACK_SOURCES
                ),
                "stakeholder": FieldDefinition(FieldKind.REFERENCE),
                "channel": _code("channels"),
                "language": _text(max_length=8),
            },
        ),
        TargetDefinition(
            "affiliations",
            "a person's role at an organisation: investigator at a site, pharmacist at a pharmacy",
            {
                "person": FieldDefinition(
                    FieldKind.REFERENCE, required=True, stakeholder_kind="person"
                ),
                "organisation": FieldDefinition(
                    FieldKind.REFERENCE, required=True, stakeholder_kind="organisation"
                ),
                "role": _text(required=True, max_length=80),
                "started_on": FieldDefinition(FieldKind.DATE),
                "ended_on": FieldDefinition(FieldKind.DATE),
            },
        ),
        TargetDefinition(
            "kpis",
            "business outcomes per period: prescriptions, orders, enrolments, adherence",
            {
                "kpi": _text(required=True, max_length=60),
                "stakeholder": FieldDefinition(FieldKind.REFERENCE),
                "product": _code("products"),
                "country": _code("countries"),
                "period_start": FieldDefinition(FieldKind.DATE, required=True),
                "period_end": FieldDefinition(FieldKind.DATE, required=True),
                "value": FieldDefinition(FieldKind.NUMBER, required=True),
                "unit": _text(max_length=30),
            },
        ),
        TargetDefinition(
            "responses",
            "survey responses exported from another survey tool, one row per response",
            {
                "survey": _text(required=True, max_length=80),  # the CPXM survey's code
                "respondent": FieldDefinition(FieldKind.REFERENCE),
                "submitted_at": FieldDefinition(FieldKind.DATETIME, required=True),
                "started_at": FieldDefinition(FieldKind.DATETIME),
                "language": _text(max_length=8),
                "channel": _code("channels"),
            },
            takes_answers=True,
        ),
    )
}
