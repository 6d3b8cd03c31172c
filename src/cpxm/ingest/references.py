"""Stakeholder references in imported rows: a source system's id, or a CPXM stakeholder id.

References are resolved once per batch with a few queries. A reference to a stakeholder that
identity resolution merged away lands on the surviving golden record, so rows imported after a
merge follow the person like the rows imported before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.db import one_of
from cpxm.identity.models import MergeEvent, SourceRecord
from cpxm.ingest.mapping import CPXM_IDS
from cpxm.ingest.rows import ConvertedRow, Reference, RowError
from cpxm.stakeholders.models import Stakeholder

# Merge chains longer than this are a data error, not something to follow forever.
_MAX_MERGE_HOPS = 10


@dataclass(frozen=True)
class ResolvedStakeholder:
    stakeholder_id: int
    kind: str  # person or organisation
    source_record_id: int | None  # None when the row named the stakeholder by its CPXM id
    type: str = ""  # hcp, patient, employee, hospital, ...


References = dict[tuple[str, str], ResolvedStakeholder]


def references_in(
    rows: list[ConvertedRow], fields: tuple[str, ...] | None = None
) -> set[tuple[str, str]]:
    """The (system, id) of every reference in ``rows``; only in ``fields`` when named."""
    if fields is None:
        return {
            value.key
            for row in rows
            for value in row.values.values()
            if isinstance(value, Reference)
        }
    found: set[tuple[str, str]] = set()
    for name in fields:
        found.update(
            (value.source_system, value.source_id)
            for row in rows
            if isinstance(value := row.values.get(name), Reference)
        )
    return found


SourceLinks = dict[tuple[str, str], tuple[int, int]]  # key -> (source record id, stakeholder id)


@dataclass
class ReferenceCache:
    """What earlier batches of one import resolved, kept while no merge or unmerge happens.

    A file of a million call reports names the same twenty thousand accounts again and again.
    Every merge and unmerge writes ``identity_merges`` (a new event, or ``undone_at``), so a
    change there is the one signal that a cached link or survivor may be stale.
    """

    links: SourceLinks = field(default_factory=dict)
    survivors: dict[int, tuple[int, str, str]] = field(default_factory=dict)
    resolved: References = field(default_factory=dict)
    merges_seen: tuple[Any, ...] | None = None

    def refresh(self, session: Session) -> None:
        signature = tuple(
            session.execute(select(func.max(MergeEvent.id), func.count(MergeEvent.undone_at))).one()
        )
        if signature != self.merges_seen:
            self.links.clear()
            self.survivors.clear()
            self.resolved.clear()
            self.merges_seen = signature


def resolve_references(
    session: Session,
    rows: list[ConvertedRow],
    cache: ReferenceCache | None = None,
    fields: tuple[str, ...] | None = None,
) -> References:
    """Every stakeholder the rows name that exists, keyed by (source system, id).

    ``fields`` names the fields that may hold references (default: look at every value).
    """
    return resolve_keys(session, references_in(rows, fields), cache)


def resolve_keys(
    session: Session, keys: set[tuple[str, str]], cache: ReferenceCache | None = None
) -> References:
    """The stakeholders named by (source system, id) keys that exist (see resolve_references)."""
    if not keys:
        return {}
    if cache is None:
        cache = ReferenceCache()
    else:
        cache.refresh(session)
    done = cache.resolved
    resolved: References = {key: done[key] for key in keys if key in done}
    if len(resolved) == len(keys):
        return resolved
    keys = keys - resolved.keys()
    known = cache.links
    source_keys = {key for key in keys if key[0] != CPXM_IDS and key not in known}
    if source_keys:
        found = session.execute(
            select(
                SourceRecord.source_system,
                SourceRecord.source_id,
                SourceRecord.id,
                SourceRecord.stakeholder_id,
            ).where(
                one_of(session, SourceRecord.source_system, {system for system, _ in source_keys}),
                one_of(
                    session, SourceRecord.source_id, {source_id for _, source_id in source_keys}
                ),
                SourceRecord.stakeholder_id.is_not(None),
            )
        )
        for system, source_id, record_id, stakeholder_id in found:
            if (system, source_id) in source_keys and stakeholder_id is not None:
                known[(system, source_id)] = (record_id, stakeholder_id)
    by_source = {key: known[key] for key in keys if key in known}
    by_cpxm_id = {key: int(key[1]) for key in keys if key[0] == CPXM_IDS}
    wanted = {s for _, s in by_source.values()} | set(by_cpxm_id.values())
    survivors = cache.survivors
    survivors.update(_survivors(session, wanted - survivors.keys()))
    for key, (record_id, stakeholder_id) in by_source.items():
        if stakeholder_id in survivors:
            survivor, kind, type_ = survivors[stakeholder_id]
            resolved[key] = ResolvedStakeholder(survivor, kind, record_id, type_)
    for key, stakeholder_id in by_cpxm_id.items():
        if stakeholder_id in survivors:
            survivor, kind, type_ = survivors[stakeholder_id]
            resolved[key] = ResolvedStakeholder(survivor, kind, None, type_)
    # A key that names nobody is looked up again next time: its record may arrive meanwhile.
    done.update({key: resolved[key] for key in keys if key in resolved})
    return resolved


def _survivors(session: Session, stakeholder_ids: set[int]) -> dict[int, tuple[int, str, str]]:
    """Stakeholder id -> (the active record it is, or was merged into; its kind; its type)."""
    # id -> (status, merged into, kind, type)
    known: dict[int, tuple[str, int | None, str, str]] = {}
    wanted = set(stakeholder_ids)
    for _ in range(_MAX_MERGE_HOPS):
        if not wanted:
            break
        for stakeholder_id, status, merged_into_id, kind, type_ in session.execute(
            select(
                Stakeholder.id,
                Stakeholder.status,
                Stakeholder.merged_into_id,
                Stakeholder.kind,
                Stakeholder.type,
            ).where(one_of(session, Stakeholder.id, sorted(wanted)))
        ):
            known[stakeholder_id] = (status, merged_into_id, kind, type_)
        wanted = {
            merged_into
            for status, merged_into, _, _ in known.values()
            if status == "merged" and merged_into is not None and merged_into not in known
        }
    survivors: dict[int, tuple[int, str, str]] = {}
    for stakeholder_id in stakeholder_ids:
        current = stakeholder_id
        for _ in range(_MAX_MERGE_HOPS):
            if current not in known:
                break
            status, merged_into, kind, type_ = known[current]
            if status != "merged" or merged_into is None:
                survivors[stakeholder_id] = (current, kind, type_)
                break
            current = merged_into
    return survivors


def stakeholder_of(
    reference: Reference,
    references: References,
    *,
    kind: str | None = None,
    type_: str | None = None,
) -> ResolvedStakeholder:
    """The stakeholder a reference names; RowError when it names nobody (or the wrong kind or
    type)."""
    resolved = references.get(reference.key)
    if resolved is None:
        if reference.source_system == CPXM_IDS:
            raise RowError(
                f"column '{reference.column}' is '{reference.source_id}', but no CPXM "
                "stakeholder has that id"
            )
        raise RowError(
            f"column '{reference.column}' is '{reference.source_id}', but no stakeholder has that "
            f"id in source system '{reference.source_system}'; import that system's stakeholders "
            "first, or correct the id"
        )
    if kind is not None and resolved.kind != kind:
        raise RowError(
            f"column '{reference.column}' is '{reference.source_id}', which names "
            f"{'a person' if resolved.kind == 'person' else 'an organisation'}; "
            f"expected {'a person' if kind == 'person' else 'an organisation'}"
        )
    if type_ is not None and resolved.type != type_:
        raise RowError(
            f"column '{reference.column}' is '{reference.source_id}', which names a stakeholder "
            f"of type {resolved.type}; expected one of type {type_}"
        )
    return resolved
