"""Who the demo's people became: their silos imported and resolved, as a customer's would be.

The generator knows the true people; the product must find them. Their silo records are written
as export files, imported through ``cpxm import`` with the shipped templates, and linked into
golden records by ``cpxm resolve``. The rest of the demo (contacts, surveys, cases) then points
at the golden record that holds most of each person's records, so where the resolution is
wrong the workspace is wrong the same way: two people merged share one stakeholder, a person
split in two has a second, quiet stakeholder.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, PrimaryKeyConstraint, Table, UniqueConstraint, select
from sqlalchemy.orm import Session

from cpxm.identity.models import SourceRecord
from cpxm.identity.service import resolve
from cpxm.ingest.mapping import resolve_mapping
from cpxm.ingest.service import import_file
from cpxm.stakeholders.models import Stakeholder

Row = tuple[Any, ...]
# Tables whose ids change on the way through import and resolution.
TRANSLATED = {"stakeholders", "source_records"}


class DemoImportError(RuntimeError):
    """The demo's own exports did not import cleanly: a bug in the generator, not in the data."""


@dataclass(frozen=True)
class SiloRecord:
    """One generated silo record: the generator's id for it, where it lives, whose it is."""

    generator_id: int | None  # None for records the activity never points at (HR)
    source_system: str
    source_id: str
    person_id: int


@dataclass
class Identities:
    """The generator's ids mapped onto the store's: people to golden records, silo records to
    the source records the import made."""

    stakeholder_of_person: dict[int, int]
    source_record_of_generated: dict[int, int]
    truth: list[tuple[int, int]]  # (source record id, true person id)
    imports: dict[str, int] = field(default_factory=dict)  # template -> rows imported
    review_pairs: int = 0


def import_and_resolve(
    engine: Engine,
    *,
    files: Sequence[tuple[Path, str]],
    records: Sequence[SiloRecord],
    step: Callable[[str], None] = lambda _label: None,
) -> Identities:
    """Import each export with its template, resolve, and map the generator's ids."""
    imports: dict[str, int] = {}
    for path, template in files:
        step(f"Importing {path.name}")
        report = import_file(engine, path=path, mapping=resolve_mapping(template))
        if report.quarantined:
            raise DemoImportError(
                f"{report.quarantined} row(s) of {path.name} were quarantined "
                f"(import run {report.run_id}); see `cpxm quarantine list --run {report.run_id}`"
            )
        imports[template] = report.created + report.updated + report.unchanged
    step("Resolving identities")
    with Session(engine) as session:
        run = resolve(session)
        review_pairs = run.review_pairs
        session.commit()
    with Session(engine) as session:
        identities = _map(session, records)
    identities.imports = imports
    identities.review_pairs = review_pairs
    return identities


def _map(session: Session, records: Sequence[SiloRecord]) -> Identities:
    survivor: dict[int, int] = {
        row.id: row.merged_into_id
        for row in session.execute(
            select(Stakeholder.id, Stakeholder.merged_into_id).where(
                Stakeholder.merged_into_id.is_not(None)
            )
        )
    }

    def golden(stakeholder_id: int) -> int:
        seen: set[int] = set()
        while stakeholder_id in survivor and stakeholder_id not in seen:
            seen.add(stakeholder_id)
            stakeholder_id = survivor[stakeholder_id]
        return stakeholder_id

    stored = {
        (row.source_system, row.source_id): (row.id, row.stakeholder_id)
        for row in session.execute(
            select(
                SourceRecord.id,
                SourceRecord.source_system,
                SourceRecord.source_id,
                SourceRecord.stakeholder_id,
            )
        )
    }
    votes: dict[int, Counter[int]] = {}
    source_record_of_generated: dict[int, int] = {}
    truth: list[tuple[int, int]] = []
    for record in records:
        found = stored.get((record.source_system, record.source_id))
        if found is None:
            raise DemoImportError(
                f"silo record {record.source_system}/{record.source_id} is not in the store"
            )
        record_id, stakeholder_id = found
        truth.append((record_id, record.person_id))
        if record.generator_id is not None:
            source_record_of_generated[record.generator_id] = record_id
        if stakeholder_id is not None:
            votes.setdefault(record.person_id, Counter())[golden(stakeholder_id)] += 1
    stakeholder_of_person = {
        # The golden record holding most of the person's records; ties to the oldest.
        person_id: min(counts.items(), key=lambda item: (-item[1], item[0]))[0]
        for person_id, counts in votes.items()
    }
    truth.sort()
    return Identities(stakeholder_of_person, source_record_of_generated, truth)


@dataclass
class _TablePlan:
    id_index: int | None
    translate: list[tuple[int, str, bool]]  # column index, translated table, nullable
    references: list[tuple[int, str]]  # column index, referenced table
    unique_keys: list[tuple[int, ...]]  # keys that a translation can make collide


class Translator:
    """Rewrites generated rows onto the store's ids as they are loaded.

    A row that points at a person without a golden record, or at a row dropped before it, is
    dropped with everything that hangs from it; a row that would repeat a unique key after two
    people were merged into one stakeholder is dropped the same way (the merged stakeholder is
    one person to the product: one invitation per wave, one preference per channel).
    """

    def __init__(self, identities: Identities) -> None:
        self.maps: dict[str, dict[int, int]] = {
            "stakeholders": identities.stakeholder_of_person,
            "source_records": identities.source_record_of_generated,
        }
        self.dropped: dict[str, set[Any]] = {}
        self.seen: dict[tuple[str, tuple[int, ...]], set[Row]] = {}
        self.plans: dict[str, _TablePlan] = {}

    def _plan(self, connection: Connection, table: Table) -> _TablePlan:
        plan = self.plans.get(table.name)
        if plan is not None:
            return plan
        names = [column.name for column in table.columns]
        translate, references = [], []
        for index, column in enumerate(table.columns):
            for foreign_key in column.foreign_keys:
                target = foreign_key.column.table.name
                if target in TRANSLATED:
                    translate.append((index, target, bool(column.nullable)))
                else:
                    references.append((index, target))
        translated = {index for index, _target, _nullable in translate}
        keys = [
            tuple(names.index(column.name) for column in constraint.columns)
            for constraint in table.constraints
            if isinstance(constraint, UniqueConstraint | PrimaryKeyConstraint)
        ] + [
            tuple(names.index(column.name) for column in index.columns)
            for index in table.indexes
            if index.unique
        ]
        plan = _TablePlan(
            id_index=names.index("id") if "id" in names else None,
            translate=translate,
            references=references,
            unique_keys=[key for key in keys if translated & set(key)],
        )
        for key in plan.unique_keys:
            # What the import already wrote (a programme's therapeutic area, say) counts too.
            columns = [table.columns[names[index]] for index in key]
            self.seen[(table.name, key)] = {
                tuple(row) for row in connection.execute(select(*columns))
            }
        self.plans[table.name] = plan
        return plan

    def rows(self, connection: Connection, table: Table, rows: Sequence[Row]) -> list[Row]:
        plan = self._plan(connection, table)
        if not plan.translate and not any(
            self.dropped.get(target) for _index, target in plan.references
        ):
            return list(rows)
        kept: list[Row] = []
        dropped = self.dropped.setdefault(table.name, set())
        for row in rows:
            values = list(row)
            keep = True
            for index, target in plan.references:
                value = values[index]
                if value is not None and value in self.dropped.get(target, ()):
                    keep = False
                    break
            if keep:
                for index, target, nullable in plan.translate:
                    value = values[index]
                    if value is None:
                        continue
                    mapped = self.maps[target].get(value)
                    if mapped is None and not nullable:
                        keep = False
                        break
                    values[index] = mapped
            if keep:
                for key in plan.unique_keys:
                    seen = self.seen.setdefault((table.name, key), set())
                    signature = tuple(values[index] for index in key)
                    if None in signature:
                        continue  # as in SQL, a key with a NULL in it collides with nothing
                    if signature in seen:
                        keep = False
                        break
                    seen.add(signature)
            if keep:
                kept.append(tuple(values))
            elif plan.id_index is not None:
                dropped.add(values[plan.id_index])
        return kept

    def dropped_count(self) -> dict[str, int]:
        return {name: len(ids) for name, ids in sorted(self.dropped.items()) if ids}
