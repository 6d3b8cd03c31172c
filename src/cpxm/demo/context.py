"""State shared by the chunk generators: the people, id counters and the ground truth so far."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cpxm.demo.people import Person
from cpxm.demo.taxonomy import COUNTRIES, DEPARTMENT_CODES, PRODUCTS

TABLE_COLUMNS = {
    "interactions": (
        "id",
        "stakeholder_id",
        "occurred_at",
        "channel_code",
        "department_code",
        "interaction_type",
        "direction",
        "product_code",
        "therapeutic_area_code",
        "lifecycle_phase_code",
        "journey_stage_id",
        "employee_id",
        "outcome",
        "notes",
        "source_record_id",
        "created_at",
    ),
    "feedback_items": (
        "id",
        "source_kind",
        "text",
        "stakeholder_id",
        "received_at",
        "channel_code",
        "language",
        "response_id",
        "answer_id",
        "interaction_id",
        "analysis_status",
        "created_at",
    ),
    "source_records": (
        "id",
        "source_system",
        "source_id",
        "stakeholder_id",
        "attributes",
        "imported_at",
    ),
    "demo_source_truth": (
        "source_record_id",
        "true_stakeholder_id",
        "first_name",
        "last_name",
        "birth_date",
        "email",
    ),
    "invitations": (
        "id",
        "survey_id",
        "stakeholder_id",
        "token",
        "channel_code",
        "status",
        "sent_at",
        "expires_at",
        "trigger_interaction_id",
        "wave",
        "language",
        "reminders_sent",
        "last_reminded_at",
        "opened_at",
        "send_error",
        "send_attempts",
        "next_send_at",
    ),
    "responses": (
        "id",
        "survey_id",
        "survey_version",
        "invitation_id",
        "stakeholder_id",
        "channel_code",
        "language",
        "status",
        "started_at",
        "submitted_at",
        "open_link_id",
        "resume_token",
        "updated_at",
    ),
    "answers": ("id", "response_id", "question_id", "value_number", "value_text", "value_choices"),
    "cases": (
        "id",
        "case_type",
        "status",
        "priority",
        "title",
        "description",
        "stakeholder_id",
        "response_id",
        "feedback_item_id",
        "team_id",
        "assignee_user_id",
        "opened_at",
        "due_at",
        "closed_at",
        "resolution_code",
        # Routing, SLA and recovery columns (cpxm.cases); the demo's history leaves most empty.
        "source_key",
        "activity",
        "department_code",
        "country_code",
        "therapeutic_area_code",
        "accountable_user_id",
        "accountable_team_id",
        "sla_business_hours",
        "escalation_level",
        "escalated_at",
        "last_reminded_at",
        "resolution_note",
        "recovery_token",
        "recovery_sent_at",
        "recovery_score",
        "recovery_answered_at",
        "recovery_invitation_id",
        "recovery_held_reason",
    ),
    "case_events": ("id", "case_id", "occurred_at", "actor_user_id", "event_type", "details"),
}

Row = tuple[Any, ...]


@dataclass
class Context:
    seed: int
    scale: float
    people: list[Person]
    by_id: dict[int, Person] = field(default_factory=dict)
    employees: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    next_ids: Counter[str] = field(default_factory=Counter)
    silent_detractors: dict[int, str] = field(default_factory=dict)  # id -> change date
    plant_drift: bool = False  # plant cpxm.demo.drift's drifters (cpxm demo --drift)
    # Planted drift (cpxm.demo.drift): id -> {day, driver, decoy}
    drifters: dict[int, dict[str, object]] = field(default_factory=dict)
    safety_feedback: dict[str, list[int]] = field(default_factory=dict)
    pii_feedback: dict[str, list[int]] = field(default_factory=dict)
    feedback_languages: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.by_id = {person.id: person for person in self.people}
        staff = [p for p in self.people if p.type == "employee"]
        for department in DEPARTMENT_CODES:
            in_department = [p for p in staff if p.department == department]
            for country in range(len(COUNTRIES)):
                local = [p.id for p in in_department if p.country == country]
                self.employees[(department, country)] = np.array(
                    local or [p.id for p in in_department], dtype=np.int64
                )

    def take_ids(self, table: str, count: int) -> int:
        """Reserve ``count`` ids of a table; returns the first."""
        first = self.next_ids[table] + 1
        self.next_ids[table] += count
        return first

    def name_of_employee(self, employee_id: int) -> str:
        return self.by_id[employee_id].display_name


PRODUCT_CODES = tuple(product.code for product in PRODUCTS)
