"""Import runs and quarantined rows as a steward lists and closes them.

Kept apart from `cpxm.ingest.service` so listing or discarding does not load the conversion
pipeline (pyarrow, numpy): `cpxm quarantine list` starts in half the time.
"""

from __future__ import annotations

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from cpxm.errors import DomainError
from cpxm.ingest.models import ImportRun, QuarantinedRow
from cpxm.textmatch import contains_text
from cpxm.timeutil import utc_now


def list_runs(session: Session, *, limit: int, offset: int) -> tuple[list[ImportRun], int]:
    """Import runs, newest first, with the total for pagination."""
    total = session.scalar(select(func.count(ImportRun.id))) or 0
    runs = session.scalars(
        select(ImportRun).order_by(ImportRun.id.desc()).limit(limit).offset(offset)
    )
    return list(runs), total


class ImportRunNotFound(DomainError):
    status_code = 404


def get_run(session: Session, *, run_id: int) -> ImportRun:
    run = session.get(ImportRun, run_id)
    if run is None:
        raise ImportRunNotFound(f"import run {run_id} not found")
    return run


QUARANTINE_STATUSES = ("open", "replayed", "discarded", "superseded", "resolved")
# The list's sorts (key, label), the default first: the oldest open row waits longest.
QUARANTINE_SORTS = (
    ("oldest", "Oldest first"),
    ("newest", "Newest first"),
    ("row", "Run and row number"),
)


def list_quarantined(
    session: Session,
    *,
    run_id: int | None = None,
    status: str | None = "open",
    q: str | None = None,
    source_system: str | None = None,
    sort: str = "oldest",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[QuarantinedRow], int]:
    """Quarantined rows with the total for pagination, oldest first by default.

    ``q`` finds a part of the reason, the source id or any value of the row as read (case
    blind); ``source_system`` keeps the rows of runs from that system."""
    query = select(QuarantinedRow)
    if run_id is not None:
        query = query.where(QuarantinedRow.import_run_id == run_id)
    if status is not None:
        query = query.where(QuarantinedRow.status == status)
    if source_system:
        query = query.where(
            QuarantinedRow.import_run_id.in_(
                select(ImportRun.id).where(ImportRun.source_system == source_system)
            )
        )
    if q:
        query = query.where(
            or_(
                contains_text(QuarantinedRow.reason, q),
                contains_text(QuarantinedRow.source_key, q),
                # The row as read is JSON; its text holds every column's value, unescaped
                # (``cpxm.db.store_json``; migration 0038 rewrote rows stored before).
                contains_text(cast(QuarantinedRow.raw, Text), q),
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = {
        "oldest": (QuarantinedRow.id,),
        "newest": (QuarantinedRow.id.desc(),),
        "row": (QuarantinedRow.import_run_id, QuarantinedRow.row_number, QuarantinedRow.id),
    }[sort]
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
    return list(rows), total


def quarantine_source_systems(session: Session) -> list[str]:
    """The systems whose imports have quarantined rows, for the list's filter."""
    return list(
        session.scalars(
            select(ImportRun.source_system)
            .where(ImportRun.id.in_(select(QuarantinedRow.import_run_id)))
            .distinct()
            .order_by(ImportRun.source_system)
        )
    )


class QuarantineError(DomainError):
    """A replay or discard that cannot be done as asked (the row is no longer open)."""

    status_code = 409


class QuarantinedRowNotFound(QuarantineError):
    status_code = 404


def discard_quarantined(session: Session, *, row_id: int) -> QuarantinedRow:
    """Mark a quarantined row as deliberately not imported (it stays, for the audit trail)."""
    row = session.get(QuarantinedRow, row_id)
    if row is None:
        raise QuarantinedRowNotFound(f"no quarantined row with id {row_id}")
    if row.status != "open":
        raise QuarantineError(f"quarantined row {row_id} is already {row.status}")
    row.status = "discarded"
    row.resolved_at = utc_now()
    session.flush()
    return row
