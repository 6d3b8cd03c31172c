"""Folding stakeholders into a survivor, undoing it exactly, and refreshing golden records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from cpxm.db import Base, bulk_insert, bulk_update, chunked, one_of, reserve_ids
from cpxm.errors import DomainError, NotFoundError
from cpxm.identity.models import (
    AttributeProvenance,
    MatchPair,
    MergeEvent,
    ResolutionRun,
    SourceRecord,
)
from cpxm.identity.references import merge_map, move_references, restore_references
from cpxm.identity.standardise import NamePopulation
from cpxm.identity.survivorship import (
    ATTRIBUTES,
    DEFAULT_TRUST_ORDER,
    REASONS,
    Candidate,
    Choice,
    choose,
    golden_values,
)
from cpxm.stakeholders.models import (
    ORGANISATION_TYPES,
    PATIENT_IDENTIFIABLE_TYPES,
    Stakeholder,
)
from cpxm.timeutil import utc_now
from cpxm.workspace.models import AuditLogEntry, Country

# Ids per statement: ``one_of`` sends them as one parameter, so few round trips.
CHUNK = 50_000


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _golden_choices(
    candidates: Sequence[Candidate],
    trust_order: Sequence[str],
    population: NamePopulation | None = None,
) -> dict[str, Choice]:
    """Survivorship's choices, except that a golden record any of whose sources says patient
    (or caregiver) takes that type: the patient protections (pseudonyms, audited reads) follow
    the most protected source, not the most trusted one. The type is then chosen, by the same
    rules, among those sources only, so its provenance names one of them."""
    chosen = choose(candidates, trust_order, population)
    current = chosen.get("type")
    if current is None or current.value in PATIENT_IDENTIFIABLE_TYPES:
        return _rectified(candidates, chosen)
    protected = [c for c in candidates if c.values.get("type") in PATIENT_IDENTIFIABLE_TYPES]
    if protected:
        among = choose(protected, trust_order)["type"]
        # Say so: "only source" would hide the more trusted sources that said otherwise.
        chosen["type"] = among._replace(
            reason=f"{among.value} in {len(protected)} of {len(candidates)} sources:"
            " its protections apply"
        )
    return _rectified(candidates, chosen)


RECTIFIED_BY = "rectified by "


def _rectified(candidates: Sequence[Candidate], chosen: dict[str, Choice]) -> dict[str, Choice]:
    """A steward's rectification (GDPR Art. 16, ``cpxm.privacy.rectification``) is a source
    record whose system reads "rectified by EMAIL": its values win over every rule, the latest
    rectification last, so a later resolve keeps them."""
    stewards = sorted(
        (c for c in candidates if c.source_system.startswith(RECTIFIED_BY)),
        key=lambda c: (c.updated_at, c.record_id),
    )
    for steward in stewards:
        for attribute, value in steward.values.items():
            if value is not None:
                chosen[attribute] = Choice(value, steward.record_id, "trust", steward.source_system)
    return chosen


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _snapshot(session: Session, stakeholder_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Attributes and provenance of each stakeholder, as JSON, to restore on undo."""
    snapshots: dict[int, dict[str, Any]] = {}
    columns = [Stakeholder.id, Stakeholder.kind, *(getattr(Stakeholder, a) for a in ATTRIBUTES)]
    for chunk in chunked(stakeholder_ids, CHUNK):
        for stakeholder_id, kind, *values in session.execute(
            select(*columns).where(one_of(session, Stakeholder.id, chunk))
        ):
            fields = dict(zip(ATTRIBUTES, values, strict=True))
            for name in _DATE_ATTRIBUTES:
                fields[name] = _jsonable(fields[name])
            fields["kind"] = kind
            snapshots[stakeholder_id] = {"fields": fields, "provenance": []}
        for stakeholder_id, attribute, record_id, rule, reason in _provenance_of(session, chunk):
            snapshots[stakeholder_id]["provenance"].append([attribute, record_id, rule, reason])
    return snapshots


def _provenance_of(session: Session, stakeholder_ids: Sequence[int]) -> Any:
    """(stakeholder id, attribute, source record id, rule, reason) of these stakeholders'
    attributes."""
    return session.execute(
        select(
            AttributeProvenance.stakeholder_id,
            AttributeProvenance.attribute,
            AttributeProvenance.source_record_id,
            AttributeProvenance.rule,
            AttributeProvenance.reason,
        ).where(one_of(session, AttributeProvenance.stakeholder_id, stakeholder_ids))
    )


def golden_record_provenance(session: Session, *, stakeholder_id: int) -> list[dict[str, Any]]:
    """Why each attribute of a golden record holds its value: the record it came from and its
    system, the rule that decided and its reason, in the order of ``ATTRIBUTES``. No values and
    no ids from the source systems: a patient's programme id is patient data, this is not."""
    if session.get(Stakeholder, stakeholder_id) is None:
        raise NotFoundError("stakeholder", stakeholder_id)
    rows = session.execute(
        select(
            AttributeProvenance.attribute,
            AttributeProvenance.rule,
            AttributeProvenance.reason,
            SourceRecord.id,
            SourceRecord.source_system,
        )
        .join(SourceRecord, SourceRecord.id == AttributeProvenance.source_record_id)
        .where(AttributeProvenance.stakeholder_id == stakeholder_id)
    ).all()
    order = {attribute: index for index, attribute in enumerate(ATTRIBUTES)}
    return [
        {
            "attribute": row.attribute,
            "rule": row.rule,
            "reason": row.reason,
            "source_record_id": row.id,
            "source_system": row.source_system,
        }
        for row in sorted(rows, key=lambda row: order.get(row.attribute, len(order)))
    ]


def merge_stakeholders(
    session: Session,
    *,
    mapping: dict[int, int],
    reason: str,
    run_id: int | None = None,
    match_pair_id: int | None = None,
    user_id: int | None = None,
) -> dict[int, int]:
    """Fold each key of ``mapping`` into its value (a survivor); every reference follows.

    Returns the id of each merge event by merged stakeholder. Set-based: the mapping goes into
    a temporary table that every referencing table and the stakeholders are joined to, and
    the merge events and their audit rows are bulk-inserted with reserved ids. A resolve
    folds an import's provisional stakeholders thousands at a time.
    """
    if not mapping:
        return {}
    survivors = sorted(set(mapping.values()))
    before = _snapshot(session, survivors)
    survivor_records = _first_records(session, survivors)
    stakeholders = _table("stakeholders")
    with merge_map(session, mapping) as merge_table:
        moved = move_references(session, mapping=mapping, merge_table=merge_table)
        session.execute(
            update(stakeholders)
            .where(stakeholders.c.id == merge_table.c.merged_id)
            .values(status="merged", merged_into_id=merge_table.c.survivor_id)
        )
    merged_ids = sorted(mapping)
    _expire(session, merged_ids)
    now = utc_now()
    events = _table("identity_merges")
    merge_ids = dict(zip(merged_ids, reserve_ids(session, events, len(merged_ids)), strict=True))
    rows = []
    for merged_id in merged_ids:
        records = [
            pk[0]
            for entry in moved[merged_id]
            if entry["table"] == "source_records"
            for pk in entry["moved"]
        ]
        survivor_id = mapping[merged_id]
        rows.append(
            (
                merge_ids[merged_id],
                survivor_id,
                merged_id,
                reason,
                run_id,
                match_pair_id,
                min(records) if records else None,
                survivor_records.get(survivor_id),
                {"tables": moved[merged_id]},
                before.get(survivor_id, {}),
                now,
            )
        )
    connection = session.connection()
    bulk_insert(connection, events, rows, _EVENT_COLUMNS)
    audit_reason = f"identity resolution ({reason})"
    bulk_insert(
        connection,
        _table("audit_log"),
        [
            (
                user_id,
                "merge",
                "stakeholder",
                str(merged_id),
                audit_reason,
                {"merge_id": merge_ids[merged_id], "survivor_id": mapping[merged_id]},
            )
            for merged_id in merged_ids
        ],
        ["user_id", "action", "entity_type", "entity_id", "reason", "details"],
    )
    return merge_ids


_EVENT_COLUMNS = [
    "id",
    "survivor_id",
    "merged_id",
    "reason",
    "run_id",
    "match_pair_id",
    "record_low_id",
    "record_high_id",
    "moved",
    "survivor_before",
    "merged_at",
]
_DATE_ATTRIBUTES = ("birth_date",)
_PROVENANCE = ["stakeholder_id", "attribute", "source_record_id", "rule", "reason"]
# A golden record's attributes when no record knows them; the required ones are not cleared.
_CLEARED = {a: None for a in ATTRIBUTES if a not in ("type", "display_name")}


def _first_records(session: Session, stakeholder_ids: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for chunk in chunked(stakeholder_ids, CHUNK):
        rows = session.execute(
            select(SourceRecord.stakeholder_id, func.min(SourceRecord.id))
            .where(one_of(session, SourceRecord.stakeholder_id, chunk))
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
            stakeholder_id=stakeholder_id,
            attribute=a,
            source_record_id=r,
            rule=rule,
            # Snapshots taken before reasons were kept hold three fields.
            reason=reason[0] if reason else REASONS.get(rule, rule),
        )
        for a, r, rule, *reason in snapshot["provenance"]
    )


def candidate(
    record_id: int,
    source_system: str,
    attributes: dict[str, Any] | None,
    imported_at: datetime,
    countries: set[str],
) -> Candidate:
    """A source record as survivorship sees it: recency is the export's ``updated_at`` when
    it has one, else when the record was imported."""
    attributes = attributes or {}
    updated = attributes.get("updated_at")
    try:
        updated_at = datetime.fromisoformat(updated) if updated else imported_at
    except (TypeError, ValueError):
        updated_at = imported_at
    return Candidate(
        record_id,
        source_system,
        updated_at.replace(tzinfo=None),
        golden_values(attributes, countries),
    )


def found_golden_records(
    session: Session,
    *,
    clusters: Sequence[Sequence[Candidate]],
    stakeholder_ids: Sequence[int],
    trust_order: Sequence[str] = DEFAULT_TRUST_ORDER,
    population: NamePopulation | None = None,
) -> None:
    """Insert one new golden record per cluster of records no stakeholder holds yet.

    Survivorship runs on the records the caller has already read, and the stakeholders and
    their provenance go in by the engine's bulk path (COPY on PostgreSQL): a new golden record
    is written once, complete, instead of inserted empty, read back and updated.
    """
    now = utc_now()
    columns = ["id", "kind", *ATTRIBUTES, "status", "created_at", "updated_at"]
    stakeholders: list[tuple[Any, ...]] = []
    provenance: list[tuple[int, str, int, str, str]] = []
    for stakeholder_id, members in zip(stakeholder_ids, clusters, strict=True):
        chosen = _golden_choices(members, trust_order, population)
        values = {attribute: choice.value for attribute, choice in chosen.items()}
        values.setdefault("type", "hcp")
        values.setdefault("display_name", f"record {min(c.record_id for c in members)}")
        kind = "organisation" if values["type"] in ORGANISATION_TYPES else "person"
        stakeholders.append(
            (stakeholder_id, kind, *(values.get(a) for a in ATTRIBUTES), "active", now, now)
        )
        provenance.extend(
            (stakeholder_id, attribute, choice.record_id, choice.rule, choice.reason)
            for attribute, choice in chosen.items()
        )
    connection = session.connection()
    for batch in chunked(stakeholders, 50_000):
        bulk_insert(connection, _table("stakeholders"), batch, columns)
    for batch in chunked(provenance, 200_000):
        bulk_insert(connection, _table("identity_attribute_provenance"), batch, _PROVENANCE)


def refresh_golden_records(
    session: Session,
    *,
    stakeholder_ids: Iterable[int],
    trust_order: Sequence[str] = DEFAULT_TRUST_ORDER,
    known: dict[int, list[Candidate]] | None = None,
    population: NamePopulation | None = None,
) -> int:
    """Recompute survivorship for these stakeholders; returns how many changed.

    ``known`` gives each stakeholder's records as candidates when the caller has read them
    already (a resolve has), so they are not read and decoded a second time.

    Reads and writes rows, not ORM objects, one statement per chunk each: loading, comparing
    and flushing an object per stakeholder was most of a 10,000-record resolve. Objects of
    these stakeholders already in the session are expired so they reload what was written.
    ``population``: how the store writes names; by default the last resolution run's.
    """
    ids = sorted(set(stakeholder_ids))
    if population is None:
        population = latest_population(session)
    countries = set(session.scalars(select(Country.code)))
    table = _table("stakeholders")
    golden_columns = [table.c.id, table.c.kind, *(table.c[a] for a in ATTRIBUTES)]
    updated_columns = ["kind", *ATTRIBUTES, "updated_at"]
    now = utc_now()
    changed: list[int] = []
    for chunk in chunked(ids, CHUNK):
        candidates: dict[int, list[Candidate]] = defaultdict(list)
        if known is not None:
            candidates.update((s, known[s]) for s in chunk if s in known)
        for record in (
            ()
            if known is not None
            else session.execute(
                select(
                    SourceRecord.id,
                    SourceRecord.stakeholder_id,
                    SourceRecord.source_system,
                    SourceRecord.attributes,
                    SourceRecord.imported_at,
                ).where(one_of(session, SourceRecord.stakeholder_id, chunk))
            )
        ):
            candidates[record.stakeholder_id].append(
                candidate(
                    record.id,
                    record.source_system,
                    record.attributes,
                    record.imported_at,
                    countries,
                )
            )
        provenance: dict[int, dict[str, tuple[int, str, str]]] = defaultdict(dict)
        for stakeholder_id, attribute, record_id, rule, reason in _provenance_of(session, chunk):
            provenance[stakeholder_id][attribute] = (record_id, rule, reason)
        stale: dict[str, list[int]] = defaultdict(list)
        fresh: list[tuple[int, str, int, str, str]] = []
        updates: list[tuple[Any, ...]] = []
        current_rows = session.execute(
            select(*golden_columns).where(one_of(session, table.c.id, chunk))
        )
        for row in current_rows:
            chosen = _golden_choices(candidates.get(row.id, []), trust_order, population)
            if not chosen:
                continue
            current = dict(row._mapping)
            # What no record knows any more is cleared; required columns keep what they had.
            wanted = current | _CLEARED | {a: choice.value for a, choice in chosen.items()}
            wanted["kind"] = "organisation" if wanted["type"] in ORGANISATION_TYPES else "person"
            old = provenance.get(row.id, {})
            new = {
                a: (choice.record_id, choice.rule, choice.reason) for a, choice in chosen.items()
            }
            dirty = old != new
            if dirty:
                fresh.extend((row.id, a, *why) for a, why in new.items() if old.get(a) != why)
                for attribute, why in old.items():
                    if new.get(attribute) != why:
                        stale[attribute].append(row.id)
            if wanted != current:
                updates.append((row.id, *(wanted[name] for name in ("kind", *ATTRIBUTES)), now))
                dirty = True
            if dirty:
                changed.append(row.id)
        bulk_update(session.connection(), table, updates, updated_columns)
        for attribute, stakeholders in stale.items():
            session.execute(
                delete(AttributeProvenance).where(
                    AttributeProvenance.attribute == attribute,
                    one_of(session, AttributeProvenance.stakeholder_id, stakeholders),
                )
            )
        if fresh:
            # The engine's raw bulk path: provenance is a dozen rows per golden record, and
            # SQLAlchemy's per-row parameter handling cost more than the insert itself.
            bulk_insert(
                session.connection(), _table("identity_attribute_provenance"), fresh, _PROVENANCE
            )
    _expire(session, changed)
    return len(changed)


def latest_population(session: Session) -> NamePopulation | None:
    """How names were written in the store at the last finished resolution run."""
    return NamePopulation.from_json(
        session.scalar(
            select(ResolutionRun.name_population)
            .where(ResolutionRun.finished_at.is_not(None))
            .order_by(ResolutionRun.id.desc())
            .limit(1)
        )
    )


def _expire(session: Session, stakeholder_ids: Iterable[int]) -> None:
    """Make loaded objects of these stakeholders reload what a bulk statement wrote."""
    wanted = set(stakeholder_ids)
    for instance in list(session.identity_map.values()):
        if isinstance(instance, Stakeholder) and instance.id in wanted:
            session.expire(instance)
