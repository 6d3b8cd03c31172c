"""Folding stakeholders into a survivor, undoing it exactly, and refreshing golden records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from cpxm.errors import DomainError, NotFoundError
from cpxm.identity.models import AttributeProvenance, MatchPair, MergeEvent, SourceRecord
from cpxm.identity.references import move_references, restore_references
from cpxm.identity.survivorship import (
    ATTRIBUTES,
    DEFAULT_TRUST_ORDER,
    Candidate,
    choose,
    golden_values,
)
from cpxm.stakeholders.models import ORGANISATION_TYPES, Stakeholder
from cpxm.timeutil import utc_now
from cpxm.workspace.models import AuditLogEntry, Country

CHUNK = 500


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _snapshot(session: Session, stakeholder_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Attributes and provenance of each stakeholder, as JSON, to restore on undo."""
    snapshots: dict[int, dict[str, Any]] = {}
    for start in range(0, len(stakeholder_ids), CHUNK):
        chunk = stakeholder_ids[start : start + CHUNK]
        for stakeholder in session.scalars(select(Stakeholder).where(Stakeholder.id.in_(chunk))):
            fields = {a: _jsonable(getattr(stakeholder, a)) for a in ATTRIBUTES}
            fields["kind"] = stakeholder.kind
            snapshots[stakeholder.id] = {"fields": fields, "provenance": []}
        for row in session.scalars(
            select(AttributeProvenance).where(AttributeProvenance.stakeholder_id.in_(chunk))
        ):
            snapshots[row.stakeholder_id]["provenance"].append(
                [row.attribute, row.source_record_id, row.rule]
            )
    return snapshots


def merge_stakeholders(
    session: Session,
    *,
    mapping: dict[int, int],
    reason: str,
    run_id: int | None = None,
    match_pair_id: int | None = None,
    user_id: int | None = None,
) -> list[MergeEvent]:
    """Fold each key of ``mapping`` into its value (a survivor); every reference follows."""
    if not mapping:
        return []
    survivors = sorted(set(mapping.values()))
    before = _snapshot(session, survivors)
    survivor_records = _first_records(session, survivors)
    moved = move_references(session, mapping=mapping)
    now = utc_now()
    merged_ids = sorted(mapping)
    for start in range(0, len(merged_ids), CHUNK):
        chunk = merged_ids[start : start + CHUNK]
        session.execute(
            update(Stakeholder)
            .where(Stakeholder.id.in_(chunk))
            .values(status="merged", merged_into_id=_case(mapping, chunk))
        )
    events = []
    for merged_id in merged_ids:
        records = [
            pk[0]
            for entry in moved[merged_id]
            if entry["table"] == "source_records"
            for pk in entry["moved"]
        ]
        events.append(
            MergeEvent(
                survivor_id=mapping[merged_id],
                merged_id=merged_id,
                reason=reason,
                run_id=run_id,
                match_pair_id=match_pair_id,
                record_low_id=min(records) if records else None,
                record_high_id=survivor_records.get(mapping[merged_id]),
                moved={"tables": moved[merged_id]},
                survivor_before=before.get(mapping[merged_id], {}),
                merged_at=now,
            )
        )
    session.add_all(events)
    session.flush()
    session.execute(
        insert(AuditLogEntry),
        [
            {
                "user_id": user_id,
                "action": "merge",
                "entity_type": "stakeholder",
                "entity_id": str(event.merged_id),
                "reason": f"identity resolution ({reason})",
                "details": {"merge_id": event.id, "survivor_id": event.survivor_id},
            }
            for event in events
        ],
    )
    session.flush()
    return events


def _case(mapping: dict[int, int], chunk: Sequence[int]) -> Any:
    from sqlalchemy import case

    return case({merged: mapping[merged] for merged in chunk}, value=Stakeholder.id)


def _first_records(session: Session, stakeholder_ids: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for start in range(0, len(stakeholder_ids), CHUNK):
        chunk = stakeholder_ids[start : start + CHUNK]
        rows = session.execute(
            select(SourceRecord.stakeholder_id, func.min(SourceRecord.id))
            .where(SourceRecord.stakeholder_id.in_(chunk))
            .group_by(SourceRecord.stakeholder_id)
        )
        found.update({int(s): int(r) for s, r in rows if s is not None})
    return found


def undo_merge(session: Session, *, merge_id: int, user_id: int | None = None) -> MergeEvent:
    """Put back every row the merge moved and keep the two apart from now on."""
    event = session.get(MergeEvent, merge_id)
    if event is None:
        raise NotFoundError("merge", merge_id)
    if event.undone_at is not None:
        raise DomainError(f"merge {merge_id} was already undone at {event.undone_at}")
    merged = session.get(Stakeholder, event.merged_id)
    if merged is None or merged.merged_into_id != event.survivor_id:
        raise DomainError(
            f"stakeholder {event.merged_id} is no longer merged into {event.survivor_id}"
        )
    restore_references(
        session, moved=event.moved["tables"], from_id=event.merged_id, to_id=event.survivor_id
    )
    merged.status, merged.merged_into_id = "active", None
    later = session.scalar(
        select(func.count())
        .select_from(MergeEvent)
        .where(
            MergeEvent.survivor_id == event.survivor_id,
            MergeEvent.id > event.id,
            MergeEvent.undone_at.is_(None),
        )
    )
    if later == 0 and event.survivor_before:
        _restore_snapshot(session, event.survivor_id, event.survivor_before)
    else:
        refresh_golden_records(session, stakeholder_ids=[event.survivor_id])
    event.undone_at = utc_now()
    _keep_apart(session, event, user_id)
    session.add(
        AuditLogEntry(
            user_id=user_id,
            action="unmerge",
            entity_type="stakeholder",
            entity_id=str(event.merged_id),
            reason="merge undone",
            details={"merge_id": event.id, "survivor_id": event.survivor_id},
        )
    )
    session.flush()
    return event


def _keep_apart(session: Session, event: MergeEvent, user_id: int | None) -> None:
    pair = session.get(MatchPair, event.match_pair_id) if event.match_pair_id else None
    if pair is None and event.record_low_id and event.record_high_id:
        low, high = sorted((event.record_low_id, event.record_high_id))
        pair = session.scalar(
            select(MatchPair).where(
                MatchPair.record_low_id == low, MatchPair.record_high_id == high
            )
        )
        if pair is None:
            pair = MatchPair(record_low_id=low, record_high_id=high, match_probability=1.0)
            session.add(pair)
    if pair is not None:
        pair.status, pair.decided_at, pair.decided_by_id = "rejected", utc_now(), user_id


def _restore_snapshot(session: Session, stakeholder_id: int, snapshot: dict[str, Any]) -> None:
    stakeholder = session.get(Stakeholder, stakeholder_id)
    assert stakeholder is not None
    for attribute, value in snapshot["fields"].items():
        if attribute == "birth_date" and value is not None:
            value = date.fromisoformat(value)
        setattr(stakeholder, attribute, value)
    session.execute(
        delete(AttributeProvenance).where(AttributeProvenance.stakeholder_id == stakeholder_id)
    )
    session.add_all(
        AttributeProvenance(
            stakeholder_id=stakeholder_id, attribute=a, source_record_id=r, rule=rule
        )
        for a, r, rule in snapshot["provenance"]
    )


def refresh_golden_records(
    session: Session,
    *,
    stakeholder_ids: Iterable[int],
    trust_order: Sequence[str] = DEFAULT_TRUST_ORDER,
) -> int:
    """Recompute survivorship for these stakeholders; returns how many changed."""
    ids = sorted(set(stakeholder_ids))
    countries = set(session.scalars(select(Country.code)))
    changed = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        candidates: dict[int, list[Candidate]] = defaultdict(list)
        for record in session.execute(
            select(
                SourceRecord.id,
                SourceRecord.stakeholder_id,
                SourceRecord.source_system,
                SourceRecord.attributes,
                SourceRecord.imported_at,
            ).where(SourceRecord.stakeholder_id.in_(chunk))
        ):
            attributes = record.attributes or {}
            updated = attributes.get("updated_at")
            try:
                updated_at = datetime.fromisoformat(updated) if updated else record.imported_at
            except (TypeError, ValueError):
                updated_at = record.imported_at
            candidates[record.stakeholder_id].append(
                Candidate(
                    record.id,
                    record.source_system,
                    updated_at.replace(tzinfo=None),
                    golden_values(attributes, countries),
                )
            )
        provenance = {
            (row.stakeholder_id, row.attribute): (row.source_record_id, row.rule)
            for row in session.scalars(
                select(AttributeProvenance).where(AttributeProvenance.stakeholder_id.in_(chunk))
            )
        }
        # Provenance is written in bulk per chunk: row by row it was half of a resolve's time.
        stale: dict[str, list[int]] = defaultdict(list)
        fresh: list[dict[str, Any]] = []
        for stakeholder in session.scalars(select(Stakeholder).where(Stakeholder.id.in_(chunk))):
            chosen = choose(candidates.get(stakeholder.id, []), trust_order)
            if not chosen:
                continue
            dirty = False
            for attribute in ATTRIBUTES:
                choice = chosen.get(attribute)
                value = choice.value if choice else None
                if attribute in ("type", "display_name") and value is None:
                    continue  # required columns keep what they had
                if getattr(stakeholder, attribute) != value:
                    setattr(stakeholder, attribute, value)
                    dirty = True
                old = provenance.get((stakeholder.id, attribute))
                new = (choice.record_id, choice.rule) if choice else None
                if old != new:
                    dirty = True
                    if old is not None:
                        stale[attribute].append(stakeholder.id)
                    if new is not None:
                        fresh.append(
                            {
                                "stakeholder_id": stakeholder.id,
                                "attribute": attribute,
                                "source_record_id": new[0],
                                "rule": new[1],
                            }
                        )
            kind = "organisation" if stakeholder.type in ORGANISATION_TYPES else "person"
            if stakeholder.kind != kind:
                stakeholder.kind, dirty = kind, True
            changed += dirty
        for attribute, stakeholders in stale.items():
            session.execute(
                delete(AttributeProvenance).where(
                    AttributeProvenance.attribute == attribute,
                    AttributeProvenance.stakeholder_id.in_(stakeholders),
                )
            )
        if fresh:
            session.execute(insert(AttributeProvenance), fresh)
        session.flush()
    return changed
