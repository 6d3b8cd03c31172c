"""What the import, events, quarantine and data-quality API accepts and answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cpxm.ingest.mapping import CPXM_IDS
from cpxm.ingest.models import DataQualityIssue, ImportRun, QuarantinedRow
from cpxm.ingest.service import ImportReport
from cpxm.timeutil import UtcDateTime

MAX_EVENTS = 10_000
SOURCE_SYSTEM = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60, examples=["crm"])


class ImportReportOut(BaseModel):
    """What an import (or a replay) did; ``run_id`` is null for a dry run, which keeps nothing."""

    run_id: int | None
    dry_run: bool
    read: int
    created: int
    updated: int
    unchanged: int
    quarantined: int
    # Values blanked in stored rows and logged as data-quality issues (``on_invalid: blank``).
    blanked: int = 0


def report_out(report: ImportReport) -> ImportReportOut:
    return ImportReportOut(
        run_id=None if report.dry_run else report.run_id,
        dry_run=report.dry_run,
        read=report.read,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        quarantined=report.quarantined,
        blanked=report.blanked,
    )


class ImportRunOut(BaseModel):
    id: int
    source_system: str
    target: str
    mapping_name: str
    file_name: str | None
    status: str  # queued, running (or killed while running), completed, failed
    error: str | None = None  # why a failed run failed
    started_at: UtcDateTime
    finished_at: UtcDateTime | None
    read: int
    created: int
    updated: int
    unchanged: int
    quarantined: int
    # About how many rows the file holds (a queued upload counts them before it starts)
    expected: int | None = None


def run_out(run: ImportRun) -> ImportRunOut:
    return ImportRunOut(
        id=run.id,
        source_system=run.source_system,
        target=run.target,
        mapping_name=run.mapping_name,
        file_name=run.file_name,
        status=run.status,
        error=run.error,
        started_at=run.started_at,
        finished_at=run.finished_at,
        read=run.rows_read,
        created=run.rows_created,
        updated=run.rows_updated,
        unchanged=run.rows_unchanged,
        quarantined=run.rows_quarantined,
        expected=run.rows_expected,
    )


class QuarantinedRowOut(BaseModel):
    id: int
    run_id: int
    row_number: int
    source_id: str | None
    status: str
    reason: str
    values: dict[str, Any]
    created_at: UtcDateTime
    resolved_at: UtcDateTime | None


def quarantined_out(row: QuarantinedRow) -> QuarantinedRowOut:
    return QuarantinedRowOut(
        id=row.id,
        run_id=row.import_run_id,
        row_number=row.row_number,
        source_id=row.source_key,
        status=row.status,
        reason=row.reason,
        values=row.raw,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
    )


QuarantineStatus = Literal["open", "replayed", "discarded", "superseded", "resolved", "all"]


class QualityIssueOut(BaseModel):
    """A value an import blanked to store its row: what the source said, and why it was refused."""

    id: int
    run_id: int
    row_number: int
    source_id: str
    record_id: int | None  # the record the row was stored as (in the run's target)
    field: str
    column: str
    value: str | None
    reason: str
    status: str  # open, superseded (said again by a later import), resolved (corrected)
    created_at: UtcDateTime
    resolved_at: UtcDateTime | None


def quality_issue_out(issue: DataQualityIssue) -> QualityIssueOut:
    return QualityIssueOut(
        id=issue.id,
        run_id=issue.import_run_id,
        row_number=issue.row_number,
        source_id=issue.source_key,
        record_id=issue.entity_id,
        field=issue.field,
        column=issue.column,
        value=issue.value,
        reason=issue.reason,
        status=issue.status,
        created_at=issue.created_at,
        resolved_at=issue.resolved_at,
    )


QualityStatus = Literal["open", "superseded", "resolved", "all"]


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    corrections: dict[str, str | None] = Field(
        default_factory=dict,
        description="Column -> corrected value, applied to the row as read before replaying.",
        examples=[{"account_type": "Physician"}],
    )


class StakeholderRefIn(BaseModel):
    """A stakeholder by the id a source system gives it."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    source_system: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]*$",
        max_length=60,
        description="The system whose id this is; default: the event's own source_system.",
    )
    source_id: str = Field(min_length=1, max_length=200)


class EventIn(BaseModel):
    """One interaction pushed by a source system.

    Values are taken as text and checked like an imported row, so one bad event is rejected
    (and quarantined) on its own instead of failing the batch.
    """

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    source_system: str = SOURCE_SYSTEM
    source_id: str = Field(min_length=1, max_length=200, examples=["CALL-0001"])
    stakeholder: StakeholderRefIn | None = None
    stakeholder_id: int | None = Field(default=None, description="A CPXM stakeholder id.")
    occurred_at: str | None = Field(default=None, examples=["2026-11-02T09:30:00Z"])
    channel: str | None = Field(default=None, examples=["face_to_face"])
    department: str | None = Field(default=None, examples=["sales"])
    interaction_type: str | None = Field(default=None, examples=["call"])
    direction: str | None = Field(default=None, examples=["outbound"])
    product: str | None = None
    therapeutic_area: str | None = None
    lifecycle_phase: str | None = None
    outcome: str | None = None
    notes: str | None = None

    @model_validator(mode="after")
    def _one_stakeholder(self) -> EventIn:
        if self.stakeholder is not None and self.stakeholder_id is not None:
            raise ValueError("give 'stakeholder' or 'stakeholder_id', not both")
        if self.source_system == CPXM_IDS:
            raise ValueError(f"source_system '{CPXM_IDS}' is reserved; name the pushing system")
        return self


class EventBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class EventResultOut(BaseModel):
    index: int = Field(description="The event's position in the batch, from 0.")
    source_system: str
    source_id: str
    status: Literal["created", "updated", "unchanged", "rejected"]
    interaction_id: int | None = None
    reason: str | None = None
    quarantined_row_id: int | None = None


class EventBatchOut(BaseModel):
    run_ids: list[int] = Field(description="One import run per source system in the batch.")
    received: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    results: list[EventResultOut]
