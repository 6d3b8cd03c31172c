"""Which rows belong to one person: the golden record, the records merged into it, and every
row that points at one of them, found from the schema's foreign keys rather than a list kept
by hand, so a table added later is not silently left out of an export or an erasure."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Column, ColumnElement, Table, select
from sqlalchemy.orm import Session

from cpxm.db import Base, one_of
from cpxm.errors import NotFoundError
from cpxm.stakeholders.models import Stakeholder


def person_ids(session: Session, *, stakeholder_id: int) -> list[int]:
    """The golden record and every record merged into it, directly or through merges of merges."""
    golden = session.get(Stakeholder, stakeholder_id)
    if golden is None:
        raise NotFoundError("stakeholder", stakeholder_id)
    found = {golden.id}
    frontier = {golden.id}
    while frontier:
        merged = set(
            session.scalars(
                select(Stakeholder.id).where(one_of(session, Stakeholder.merged_into_id, frontier))
            )
        )
        frontier = merged - found
        found |= frontier
    return sorted(found)


def stakeholder_references() -> list[tuple[Table, Column[int]]]:
    """(table, column) for every column in the schema that points at a stakeholder."""
    references = []
    for table in Base.metadata.sorted_tables:
        if table.name == "stakeholders":
            continue
        for column in table.columns:
            if any(key.column.table.name == "stakeholders" for key in column.foreign_keys):
                references.append((table, column))
    return references


def ids_in(session: Session, column: ColumnElement[int], ids: Iterable[int]) -> ColumnElement[bool]:
    return one_of(session, column, sorted(set(ids)))
