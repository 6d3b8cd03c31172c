"""Data-quality issues: values an import blanked (``on_invalid: blank``) to store the row.

Each is recorded with the row it was written with. Importing a source id again closes its
earlier open issues (``superseded`` when the new row has issues of its own, ``resolved`` when
not), and an unchanged row is not converted again, so importing the same file twice lists each
problem once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cpxm.db import one_of
from cpxm.ingest.mapping import ImportMapping
from cpxm.ingest.models import DataQualityIssue, ImportRun
from cpxm.ingest.rows import QualityIssue

ISSUE_STATUSES = ("open", "superseded", "resolved")


def has_open_issues(session: Session, mapping: ImportMapping) -> bool:
    """Whether earlier runs from the mapping's source left open issues a new import may close."""
    found = session.scalar(
        select(DataQualityIssue.id)
        .join(ImportRun, ImportRun.id == DataQualityIssue.import_run_id)
        .where(
            DataQualityIssue.status == "open",
            ImportRun.target == mapping.target,
            ImportRun.source_system == mapping.source_system,
        )
        .limit(1)
    )
    return found is not None


def record_issues(
    session: Session,
    *,
    run_id: int,
    written: Iterable[tuple[int, str, int | None, tuple[QualityIssue, ...]]],
) -> int:
    """Add the issues of rows just written: (row number, source id, record id, issues) each;
    returns how many. Flushes, never commits."""
    now = datetime.now(UTC).replace(tzinfo=None)
    issues = [
        DataQualityIssue(
            import_run_id=run_id,
            row_number=row_number,
            source_key=source_key,
            entity_id=entity_id,
            field=issue.field,
            column=issue.column[:300],
            value=issue.value,
            reason=f"row {row_number}: {issue.reason}",
            status="open",
            created_at=now,
        )
        for row_number, source_key, entity_id, found in written
        for issue in found
    ]
    session.add_all(issues)
    session.flush()
    return len(issues)


def close_earlier_issues(
    session: Session, mapping: ImportMapping, run_id: int, keys: set[str], status: str
) -> None:
    """Close the open issues of earlier runs for source ids this run wrote anew."""
    if not keys:
        return
    same_source = select(ImportRun.id).where(
        ImportRun.target == mapping.target,
        ImportRun.source_system == mapping.source_system,
        ImportRun.id != run_id,
    )
    session.execute(
        update(DataQualityIssue)
        .where(
            DataQualityIssue.status == "open",
            one_of(session, DataQualityIssue.source_key, sorted(keys)),
            DataQualityIssue.import_run_id.in_(same_source),
        )
        .values(status=status, resolved_at=datetime.now(UTC).replace(tzinfo=None))
        .execution_options(synchronize_session=False)
    )


def list_quality_issues(
    session: Session,
    *,
    run_id: int | None = None,
    status: str | None = "open",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[DataQualityIssue], int]:
    """Data-quality issues, oldest first, with the total for pagination."""
    query = select(DataQualityIssue)
    if run_id is not None:
        query = query.where(DataQualityIssue.import_run_id == run_id)
    if status is not None:
        query = query.where(DataQualityIssue.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    issues = session.scalars(query.order_by(DataQualityIssue.id).limit(limit).offset(offset)).all()
    return list(issues), total
