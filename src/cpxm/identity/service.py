"""Identity resolution: link source records into golden records, review, undo and export.

``resolve`` scores every blocked pair with the Splink model, links pairs at or above the match
threshold (connected components), folds each component's stakeholders into the oldest one and
queues pairs between the review and match thresholds for a person. People's decisions win over
the model: accepted pairs are always linked, rejected pairs never, not even through a third record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from cpxm import csvout
from cpxm.db import Base, bulk_insert, bulk_update, chunked, reserve_ids
from cpxm.errors import DomainError, NotFoundError
from cpxm.heap import fewer_collections
from cpxm.identity.merges import (
    candidate,
    found_golden_records,
    merge_stakeholders,
    refresh_golden_records,
    undo_merge,
)
from cpxm.identity.models import (
    AttributeProvenance,
    MatchPair,
    MergeEvent,
    ResolutionRun,
    SourceRecord,
)
from cpxm.identity.normalise import Normalised, normalise, type_conflict
from cpxm.identity.standardise import NamePopulation
from cpxm.identity.survivorship import DEFAULT_TRUST_ORDER, Candidate, name_population
from cpxm.stakeholders.models import Stakeholder
from cpxm.timeutil import utc_now
from cpxm.workspace.models import AuditLogEntry, Country

DEFAULT_THRESHOLD_MATCH = 0.9
# Where the pairs are scored: in-process DuckDB, or Splink's Spark backend (the same model;
# ``cpxm.identity.spark``).
ENGINES = ("duckdb", "spark")
DEFAULT_THRESHOLD_REVIEW = 0.5
# A fitted match threshold is the lowest at which the model expects this share of its links to
# be right (the mean match probability of the pairs at or above it), and never above
# DEFAULT_THRESHOLD_MATCH: the fitted posteriors are trusted to lower the bar, not to raise it.
EXPECTED_PRECISION = 0.999

__all__ = [
    "DEFAULT_THRESHOLD_MATCH",
    "DEFAULT_THRESHOLD_REVIEW",
    "ENGINES",
    "decide_pair",
    "export_links",
    "fitted_match_threshold",
    "list_review",
    "resolve",
    "undo_merge",
    "unmerge_stakeholder",
]


@dataclass
class _Components:
    """Union-find over record ids that refuses unions joining a rejected pair.

    A model link may also not chain two groups whose identifiers disagree: when either side
    already holds more than one record and both know a professional id (or a date of birth)
    but none of one side's is the other's or near it (``_near``), a link through a record that
    does not know one is refused. A chain through such a record must not put two professional
    ids in one person (different people at one e-mail address, one name shared by two doctors
    and an event registration with the name only). Where both linked records know the id, the
    model has weighed their disagreement and its score stands: a CRM's copy of a person with
    a wrong id and everything else right is that person. A slip is allowed because a person
    recorded several times carries a different typo in each copy: refusing those chains sent
    2,005 pairs to review and lost a quarter of the true pairs on generated deduplication
    data with several copies per person.
    """

    parent: dict[int, int]
    apart: dict[int, set[int]]  # root -> records its component must never contain
    # root -> (size, professional ids, dates of birth) of its component
    identifiers: dict[int, tuple[int, frozenset[str], frozenset[str]]] = field(default_factory=dict)
    # root -> the type groups its records declare (``Normalised.type_group``): a model link
    # never joins two groups, directly or through a record that declares none.
    groups: dict[int, frozenset[str]] = field(default_factory=dict)
    # record -> (knows a professional id, knows a date of birth)
    knows: dict[int, tuple[bool, bool]] = field(default_factory=dict)

    def find(self, item: int) -> int:
        root = item
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while self.parent.get(item, item) != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def _conflict(self, a: int, b: int, root_a: int, root_b: int) -> bool:
        empty: tuple[int, frozenset[str], frozenset[str]] = (1, frozenset(), frozenset())
        size_a, ids_a, dobs_a = self.identifiers.get(root_a, empty)
        size_b, ids_b, dobs_b = self.identifiers.get(root_b, empty)
        if size_a == 1 and size_b == 1:
            return False
        id_a, dob_a = self.knows.get(a, (False, False))
        id_b, dob_b = self.knows.get(b, (False, False))
        return (not (id_a and id_b) and _apart(ids_a, ids_b)) or (
            not (dob_a and dob_b) and _apart(dobs_a, dobs_b)
        )

    def types_conflict(self, a: int, b: int) -> bool:
        """Whether the components of ``a`` and ``b`` hold records of different type groups."""
        return (
            len(
                self.groups.get(self.find(a), frozenset())
                | self.groups.get(self.find(b), frozenset())
            )
            > 1
        )

    def union(self, a: int, b: int, *, force: bool = False) -> bool:
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return False
        if not force and (
            any(self.find(x) == root_b for x in self.apart.get(root_a, ()))
            or any(self.find(x) == root_a for x in self.apart.get(root_b, ()))
            or self._conflict(a, b, root_a, root_b)
            or self.types_conflict(root_a, root_b)
        ):
            return False
        low, high = sorted((root_a, root_b))
        self.parent[high] = low
        if high in self.groups:
            self.groups[low] = self.groups.get(low, frozenset()) | self.groups.pop(high)
        if high in self.apart:
            self.apart.setdefault(low, set()).update(self.apart.pop(high))
        if self.identifiers:
            empty: tuple[int, frozenset[str], frozenset[str]] = (1, frozenset(), frozenset())
            size_l, ids_l, dobs_l = self.identifiers.get(low, empty)
            size_h, ids_h, dobs_h = self.identifiers.pop(high, empty)
            self.identifiers[low] = (size_l + size_h, ids_l | ids_h, dobs_l | dobs_h)
        return True


def _apart(left: frozenset[str], right: frozenset[str]) -> bool:
    """Both sides know values, and none of one side's is near one of the other's."""
    if not left or not right or not left.isdisjoint(right):
        return False
    return not any(_near(a, b) for a in left for b in right)


def _near(a: str, b: str) -> bool:
    """Up to two characters differ in place (two slips, or two neighbours swapped) while most
    still agree, or one was dropped or added to a value of four or more. Two people's ids or
    birth dates differ in more: 2 in 10,000 pairs of random 7-digit ids are this near, and a
    father and son's birth dates differ in the year. A copy typed twice over (1924 as 1284)
    is still the same person's."""
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= min(2, (len(a) - 1) // 2)
    short, long = sorted((a, b), key=len)
    if len(long) - len(short) != 1 or len(short) < 4:
        return False
    index = next(
        (i for i, (x, y) in enumerate(zip(short, long, strict=False)) if x != y), len(short)
    )
    return short[index:] == long[index + 1 :]


def fitted_match_threshold(
    probabilities: Sequence[float], *, review: float, ceiling: float = DEFAULT_THRESHOLD_MATCH
) -> float:
    """The lowest match threshold (from ``review`` up to ``ceiling``) at which the pairs the
    model would link have a mean match probability of at least ``EXPECTED_PRECISION``.

    The match probabilities of the scored pairs are the fitted model's own estimate of how
    many of them are true: linking every pair at or above ``t`` is expected to be right in
    the mean of their probabilities. Where the model separates matches cleanly (FEBRL) that
    holds far below ``ceiling`` and pairs a person would otherwise review are linked; where it
    does not (the demo's silos, where one shared e-mail chains people) the bar stays at
    ``ceiling``, the cost-based default.
    """
    ceiling = max(ceiling, review)
    ranked = sorted((p for p in probabilities if p >= review), reverse=True)
    best = ceiling
    total = 0.0
    for count, probability in enumerate(ranked, 1):
        total += probability
        if probability < ceiling and total / count >= EXPECTED_PRECISION:
            best = probability
    return best


def resolve(
    session: Session,
    *,
    threshold_match: float | None = None,
    threshold_review: float = DEFAULT_THRESHOLD_REVIEW,
    trust_order: tuple[str, ...] = DEFAULT_TRUST_ORDER,
    step: Callable[[str], None] = lambda _label: None,
    engine: str = "duckdb",
) -> ResolutionRun:
    """Link every source record to a golden record; the caller commits.

    ``threshold_match`` ``None`` fits it to this run's scores (``fitted_match_threshold``).
    ``engine`` scores the pairs in DuckDB or on Spark (``ENGINES``)."""
    if not 0 < threshold_review <= (threshold_match or 1) <= 1:
        raise DomainError("thresholds must satisfy 0 < review <= match <= 1")
    if engine not in ENGINES:
        raise DomainError(f"engine '{engine}' is not one of {', '.join(ENGINES)}")
    with fewer_collections():
        return _resolve(
            session,
            threshold_match=threshold_match,
            threshold_review=threshold_review,
            trust_order=trust_order,
            step=step,
            engine=engine,
        )


def _resolve(
    session: Session,
    *,
    threshold_match: float | None,
    threshold_review: float,
    trust_order: tuple[str, ...],
    step: Callable[[str], None],
    engine: str,
) -> ResolutionRun:
    previous = session.scalar(
        select(ResolutionRun)
        .where(ResolutionRun.finished_at.is_not(None))
        .order_by(ResolutionRun.id.desc())
        .limit(1)
    )
    run = ResolutionRun(
        started_at=utc_now(),
        threshold_match=threshold_match or DEFAULT_THRESHOLD_MATCH,
        threshold_review=threshold_review,
    )
    session.add(run)
    session.flush()
    step("reading source records")
    rows = session.execute(
        select(
            SourceRecord.id,
            SourceRecord.source_system,
            SourceRecord.stakeholder_id,
            SourceRecord.attributes,
            SourceRecord.imported_at,
        ).order_by(SourceRecord.id)
    ).all()
    owner = {row.id: row.stakeholder_id for row in rows}
    countries = set(session.scalars(select(Country.code)))
    # How survivorship sees every record is worked out beside the scoring, which waits on
    # DuckDB most of its time, and not again afterwards: new records get survivorship whatever
    # the model says, and how the whole store writes names is evidence for everyone's.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cpxm-survivorship") as pool:
        early = pool.submit(_record_candidates, rows, countries)
        records = [normalise(row.id, row.source_system, row.attributes or {}) for row in rows]
        # Splink and DuckDB take seconds to import: load them only when a resolve runs, so
        # every other cpxm command (and the web app) starts without them.
        if engine == "spark":
            from cpxm.identity.spark import score_pairs
        else:
            from cpxm.identity.linkage import score_pairs

        edges, run.pairs_scored = score_pairs(records, threshold=threshold_review, step=step)
        known_candidates = early.result()
    run.records = len(records)
    if threshold_match is None:
        threshold_match = fitted_match_threshold(
            [edge[2] for edge in edges], review=threshold_review
        )
        run.threshold_match = threshold_match
    population = name_population(known_candidates.values())
    run.name_population = population.as_json()

    step("clustering")
    decided = {
        (pair.record_low_id, pair.record_high_id): pair
        for pair in session.scalars(select(MatchPair).where(MatchPair.status != "pending"))
    }
    components = _Components(
        parent={},
        apart={},
        identifiers={
            record.unique_id: (
                1,
                frozenset([record.professional_id] if record.professional_id else []),
                frozenset([record.dob] if record.dob else []),
            )
            for record in records
        },
        groups={
            record.unique_id: frozenset([record.type_group])
            for record in records
            if record.type_group is not None
        },
        knows={
            record.unique_id: (record.professional_id is not None, record.dob is not None)
            for record in records
        },
    )
    for (low, high), pair in decided.items():
        if pair.status == "rejected":
            components.apart.setdefault(low, set()).add(high)
            components.apart.setdefault(high, set()).add(low)
    # What people and earlier runs joined stays joined: records sharing a stakeholder, accepted
    # pairs. Then the model's links, most certain first, so a rejection blocks the weakest path.
    first_record: dict[int, int] = {}
    for record_id, stakeholder_id in owner.items():
        if stakeholder_id is not None:
            components.union(
                first_record.setdefault(stakeholder_id, record_id), record_id, force=True
            )
    for (low, high), pair in decided.items():
        if pair.status == "accepted" and low in owner and high in owner:
            components.union(low, high, force=True)
    edges.sort(key=lambda edge: (-edge[2], edge[0], edge[1]))
    for low, high, probability in edges:
        if probability >= threshold_match and (low, high) not in decided:
            components.union(low, high)

    step("golden records")
    by_id = {row.id: row for row in rows}
    clusters: dict[int, list[int]] = {}
    for record_id in owner:
        clusters.setdefault(components.find(record_id), []).append(record_id)
    mapping: dict[int, int] = {}
    touched: set[int] = set()
    unlinked: list[tuple[int, list[int]]] = []
    attach: dict[int, int] = {}
    for members in clusters.values():
        stakeholders = sorted({owner[r] for r in members if owner[r] is not None})
        if not stakeholders:
            unlinked.append((min(members), members))
            continue
        survivor = stakeholders[0]
        mapping.update({other: survivor for other in stakeholders[1:]})
        if len(stakeholders) > 1:
            touched.add(survivor)
        orphans = [r for r in members if owner[r] is None]
        if orphans:
            attach.update({record: survivor for record in orphans})
            touched.add(survivor)
    _attach_many(session, attach)
    merge_stakeholders(session, mapping=mapping, reason="auto", run_id=run.id)
    run.merges = len(mapping)
    run.created = len(unlinked)
    _create_golden_records(
        session, unlinked, by_id, trust_order, known_candidates, countries, population
    )
    touched.update(_without_provenance(session))
    if previous is not None:
        touched.update(
            s
            for row in rows
            if row.imported_at >= previous.started_at
            and (s := owner[row.id]) is not None
            and s not in mapping
        )
    run.updated = refresh_golden_records(
        session,
        stakeholder_ids=touched,
        trust_order=trust_order,
        known=_candidates(rows, owner, mapping, attach, touched, known_candidates, countries),
        population=population,
    )
    run.review_pairs = _queue_for_review(
        session,
        edges,
        components,
        decided,
        run,
        {record.unique_id: record for record in records},
        threshold_match=threshold_match,
    )
    run.finished_at = utc_now()
    session.add(
        AuditLogEntry(
            action="resolve",
            entity_type="identity_run",
            entity_id=str(run.id),
            details={
                "records": run.records,
                "merges": run.merges,
                "created": run.created,
                "review_pairs": run.review_pairs,
                "engine": engine,
            },
        )
    )
    session.flush()
    return run


def _record_candidates(rows: Sequence[Any], countries: set[str]) -> dict[int, Candidate]:
    """Each of these records as survivorship sees it, by record id."""
    return {row.id: _candidate_of(row, {}, countries) for row in rows}


def _candidate_of(row: Any, known: dict[int, Candidate], countries: set[str]) -> Candidate:
    """A read source record as survivorship sees it: from ``known`` when seen already."""
    seen = known.get(row.id)
    if seen is not None:
        return seen
    return candidate(row.id, row.source_system, row.attributes, row.imported_at, countries)


def _candidates(
    rows: Sequence[Any],
    owner: dict[int, int | None],
    mapping: dict[int, int],
    attach: dict[int, int],
    stakeholder_ids: set[int],
    known: dict[int, Candidate],
    countries: set[str],
) -> dict[int, list[Candidate]]:
    """The records each of these stakeholders holds after the merges, as survivorship sees
    them, from the rows this run has read (``known``: those already seen that way)."""
    found: dict[int, list[Candidate]] = {s: [] for s in stakeholder_ids}
    for row in rows:
        current = owner[row.id]
        holder = attach.get(row.id) if current is None else mapping.get(current, current)
        if holder in found:
            found[holder].append(_candidate_of(row, known, countries))
    return found


def _attach_many(session: Session, owners: dict[int, int]) -> None:
    """Point each source record at its stakeholder, in bulk (``bulk_update``)."""
    if not owners:
        return
    bulk_update(
        session.connection(),
        Base.metadata.tables["source_records"],
        sorted(owners.items()),
        ["stakeholder_id"],
    )
    _expire_records(session, owners)


def _expire_records(session: Session, record_ids: dict[int, int]) -> None:
    for instance in list(session.identity_map.values()):
        if isinstance(instance, SourceRecord) and instance.id in record_ids:
            session.expire(instance)


def _create_golden_records(
    session: Session,
    clusters: list[tuple[int, list[int]]],
    rows: dict[int, Any],
    trust_order: tuple[str, ...],
    known: dict[int, Candidate],
    countries: set[str],
    population: NamePopulation,
) -> list[int]:
    """A new, complete golden record per cluster no stakeholder holds yet (``known``: records
    already seen as survivorship sees them)."""
    if not clusters:
        return []
    created = reserve_ids(session, Base.metadata.tables["stakeholders"], len(clusters))
    found_golden_records(
        session,
        clusters=[
            [_candidate_of(rows[record], known, countries) for record in members]
            for _, members in clusters
        ],
        stakeholder_ids=created,
        trust_order=trust_order,
        population=population,
    )
    _attach_many(
        session,
        {
            record: stakeholder_id
            for stakeholder_id, (_, members) in zip(created, clusters, strict=True)
            for record in members
        },
    )
    return created


def _without_provenance(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(Stakeholder.id)
            .where(Stakeholder.status == "active")
            .where(Stakeholder.id.in_(select(SourceRecord.stakeholder_id)))
            .where(~Stakeholder.id.in_(select(AttributeProvenance.stakeholder_id)))
        )
    )


def _queue_for_review(
    session: Session,
    edges: list[tuple[int, int, float]],
    components: _Components,
    decided: dict[tuple[int, int], MatchPair],
    run: ResolutionRun,
    records: dict[int, Normalised],
    *,
    threshold_match: float,
) -> int:
    """Pending pairs = uncertain pairs still apart after linking; stale ones are dropped.

    A pair whose records (or groups) declare incompatible types is queued only on strong
    evidence (at or above the match threshold), marked with the two types: below it, a
    patient and an HCP of one name are two people and a person need not look.
    """
    wanted: dict[tuple[int, int], tuple[float, str | None]] = {}
    for low, high, probability in edges:
        if (low, high) in decided or components.find(low) == components.find(high):
            continue
        conflict = type_conflict(records[low], records[high]) or _group_conflict(
            components, low, high
        )
        if conflict is not None and probability < threshold_match:
            continue
        if probability < threshold_match or (low, high) not in wanted:
            # A pair above the match threshold that a rejection kept apart also needs a person.
            wanted[(low, high)] = (probability, conflict)
    session.flush()
    # Rows, not objects: a first run over a large store queues tens of thousands of pairs.
    pending = {
        (low, high): (pair_id, probability, conflict)
        for pair_id, low, high, probability, conflict in session.execute(
            select(
                MatchPair.id,
                MatchPair.record_low_id,
                MatchPair.record_high_id,
                MatchPair.match_probability,
                MatchPair.type_conflict,
            ).where(MatchPair.status == "pending")
        )
    }
    stale = [pair_id for key, (pair_id, _, _) in pending.items() if key not in wanted]
    for chunk in chunked(stale, 500):
        session.execute(delete(MatchPair).where(MatchPair.id.in_(chunk)))
    changed = [
        {"pair": pending[key][0], "probability": probability, "conflict": conflict}
        for key, (probability, conflict) in wanted.items()
        if key in pending
        and (abs(pending[key][1] - probability) > 1e-9 or pending[key][2] != conflict)
    ]
    if changed:
        table = Base.metadata.tables["identity_match_pairs"]
        session.execute(
            update(table)
            .where(table.c.id == bindparam("pair"))
            .values(
                match_probability=bindparam("probability"),
                type_conflict=bindparam("conflict"),
            ),
            changed,
        )
    new = [
        (low, high, probability, conflict, "pending", run.id)
        for (low, high), (probability, conflict) in wanted.items()
        if (low, high) not in pending
    ]
    for batch in chunked(new, 50_000):
        bulk_insert(
            session.connection(),
            Base.metadata.tables["identity_match_pairs"],
            batch,
            [
                "record_low_id",
                "record_high_id",
                "match_probability",
                "type_conflict",
                "status",
                "run_id",
            ],
        )
    _expire_pairs(session)
    return len(wanted)


def _group_conflict(components: _Components, low: int, high: int) -> str | None:
    """The type groups two compatible records would join, when their groups conflict
    (an untyped record already linked to an HCP, scored against an employee)."""
    groups = components.groups.get(components.find(low), frozenset()) | components.groups.get(
        components.find(high), frozenset()
    )
    return " vs ".join(sorted(groups)) if len(groups) > 1 else None


def _expire_pairs(session: Session) -> None:
    """Loaded review pairs reload what the bulk statements wrote."""
    for instance in list(session.identity_map.values()):
        if isinstance(instance, MatchPair):
            session.expire(instance)


def list_review(session: Session, *, limit: int, offset: int) -> tuple[list[MatchPair], int]:
    """Pending pairs, most likely matches first."""
    total = session.scalar(
        select(func.count()).select_from(MatchPair).where(MatchPair.status == "pending")
    )
    pairs = session.scalars(
        select(MatchPair)
        .where(MatchPair.status == "pending")
        .order_by(MatchPair.match_probability.desc(), MatchPair.id)
        .limit(limit)
        .offset(offset)
    )
    return list(pairs), int(total or 0)


def decide_pair(
    session: Session, *, pair_id: int, accept: bool, user_id: int | None = None
) -> MatchPair:
    """Accept (merge the two golden records) or reject (keep them apart for good)."""
    pair = session.get(MatchPair, pair_id)
    if pair is None:
        raise NotFoundError("review pair", pair_id)
    if pair.status != "pending":
        raise DomainError(f"review pair {pair_id} was already {pair.status}")
    if accept and "employee" in (pair.type_conflict or "").split(" vs "):
        # The employee pulse is confidential and a customer's record is not: one person in
        # both roles keeps two records.
        raise DomainError(
            f"review pair {pair_id} is {pair.type_conflict}: an employee record is never"
            " merged with another type; reject the pair to keep them apart"
        )
    pair.status, pair.decided_at, pair.decided_by_id = (
        ("accepted" if accept else "rejected"),
        utc_now(),
        user_id,
    )
    low = session.get(SourceRecord, pair.record_low_id)
    high = session.get(SourceRecord, pair.record_high_id)
    assert low is not None and high is not None
    if accept and low.stakeholder_id and high.stakeholder_id:
        survivor, merged = sorted((low.stakeholder_id, high.stakeholder_id))
        if survivor != merged:
            merge_stakeholders(
                session,
                mapping={merged: survivor},
                reason="review",
                match_pair_id=pair.id,
                user_id=user_id,
            )
            refresh_golden_records(session, stakeholder_ids=[survivor])
    session.add(
        AuditLogEntry(
            user_id=user_id,
            action="accept" if accept else "reject",
            entity_type="identity_match_pair",
            entity_id=str(pair.id),
            details={"records": [pair.record_low_id, pair.record_high_id]},
        )
    )
    session.flush()
    return pair


def unmerge_stakeholder(
    session: Session, *, stakeholder_id: int, user_id: int | None = None
) -> MergeEvent:
    """Undo the merge that folded this stakeholder into another."""
    merge_id = session.scalar(
        select(MergeEvent.id)
        .where(MergeEvent.merged_id == stakeholder_id, MergeEvent.undone_at.is_(None))
        .order_by(MergeEvent.id.desc())
        .limit(1)
    )
    if merge_id is None:
        raise DomainError(f"stakeholder {stakeholder_id} is not merged into another")
    return undo_merge(session, merge_id=merge_id, user_id=user_id)


def export_links(session: Session, path: Path) -> int:
    """Write ``source_system,source_id,stakeholder_id`` for every source record."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvout.writer(handle)
        writer.writerow(["source_system", "source_id", "stakeholder_id"])
        rows: Any = session.execute(
            select(SourceRecord.source_system, SourceRecord.source_id, SourceRecord.stakeholder_id)
            .order_by(SourceRecord.source_system, SourceRecord.source_id)
            .execution_options(yield_per=10_000)
        )
        for system, source_id, stakeholder_id in rows:
            writer.writerow([system, source_id, "" if stakeholder_id is None else stakeholder_id])
            count += 1
    return count
