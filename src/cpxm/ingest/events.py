"""Interactions pushed by source systems, through the same checks and ledger as file imports.

Each event becomes a row of a built-in ``interactions`` mapping for its source system, so a
pushed event and an imported call report are validated, deduplicated and quarantined alike, and
a quarantined event can be corrected and replayed like any imported row.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.orm import Session

from cpxm.db import chunked
from cpxm.ingest import BATCH_SIZE
from cpxm.ingest.mapping import CPXM_IDS, ImportMapping, parse_mapping
from cpxm.ingest.raw import RawRecord, RawRow
from cpxm.ingest.rows import VALUE_MAP_HINT
from cpxm.ingest.schemas import EventBatchOut, EventIn, EventResultOut
from cpxm.ingest.service import (
    ImportReport,
    RowOutcome,
    apply_batch,
    batch_carry,
    load_lookups,
    new_run,
    record_counts,
)

_FIELDS = (
    "occurred_at",
    "channel",
    "department",
    "interaction_type",
    "direction",
    "product",
    "therapeutic_area",
    "lifecycle_phase",
    "outcome",
    "notes",
)


def events_mapping(source_system: str) -> ImportMapping:
    """The mapping that reads pushed events of one source system."""
    fields: dict[str, object] = {name: name for name in _FIELDS}
    # Each event says which system its stakeholder id comes from (or that it is a CPXM id).
    fields["stakeholder"] = {
        "column": "stakeholder",
        "source_system_column": "stakeholder_source_system",
    }
    return parse_mapping(
        {
            "name": f"events-{source_system}"[:120],
            "source_system": source_system,
            "target": "interactions",
            "source_id": "source_id",
            "fields": fields,
        }
    )


def _raw(event: EventIn) -> RawRow:
    raw: RawRow = {"source_id": event.source_id}
    raw.update({name: getattr(event, name) for name in _FIELDS})
    if event.stakeholder_id is not None:
        raw["stakeholder"], raw["stakeholder_source_system"] = str(event.stakeholder_id), CPXM_IDS
    elif event.stakeholder is not None:
        raw["stakeholder"] = event.stakeholder.source_id
        raw["stakeholder_source_system"] = event.stakeholder.source_system or event.source_system
    else:
        raw["stakeholder"] = raw["stakeholder_source_system"] = None
    return raw


def record_events(session: Session, *, events: list[EventIn]) -> EventBatchOut:
    """Store or reject (and quarantine) each event; flushes, never commits.

    Events are grouped by source system, one import run each, since the ledger that makes a
    second push of the same event harmless is kept per (source system, source id).
    """
    lookups = load_lookups(session)
    positions: dict[str, list[int]] = defaultdict(list)
    for index, event in enumerate(events):
        positions[event.source_system].append(index)
    outcomes: dict[int, RowOutcome] = {}
    run_ids = []
    for source_system, indexes in positions.items():
        mapping = events_mapping(source_system)
        run = new_run(mapping, file_name="POST /api/v1/events")
        session.add(run)
        session.flush()
        run_ids.append(run.id)
        report = ImportReport(run_id=run.id)
        carry = batch_carry(session, mapping, lookups)
        for chunk in chunked(indexes, BATCH_SIZE):
            # Row numbers count events from 1, as a person reading the batch would.
            records = [RawRecord(index + 1, _raw(events[index])) for index in chunk]
            found: list[RowOutcome] = []
            batch = apply_batch(
                session,
                mapping=mapping,
                converted=carry.converter.records(records),
                run_id=run.id,
                carry=carry,
                outcomes=found,
            )
            outcomes.update(zip(chunk, found, strict=True))
            for name in ("read", "created", "updated", "unchanged", "quarantined"):
                setattr(report, name, getattr(report, name) + getattr(batch, name))
        session.flush()  # gives the quarantined rows their ids
        record_counts(session, report, finished=True)
    results = [_result(index, events[index], outcomes[index]) for index in range(len(events))]
    return EventBatchOut(
        run_ids=run_ids,
        received=len(events),
        created=sum(r.status == "created" for r in results),
        updated=sum(r.status == "updated" for r in results),
        unchanged=sum(r.status == "unchanged" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
        results=results,
    )


def _result(index: int, event: EventIn, outcome: RowOutcome) -> EventResultOut:
    rejected = outcome.status == "quarantined"
    return EventResultOut(
        index=index,
        source_system=event.source_system,
        source_id=event.source_id,
        status="rejected" if rejected else outcome.status,
        interaction_id=None if rejected else outcome.entity_id,
        # A pushing system fixes its payload, not a mapping's value map.
        reason=outcome.reason.replace(VALUE_MAP_HINT, "") if outcome.reason else None,
        quarantined_row_id=outcome.quarantined.id if outcome.quarantined else None,
    )
