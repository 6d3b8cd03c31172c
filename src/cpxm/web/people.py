"""People named on a page's rows (a list's writers, a case's person), as the role may see them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.access import Principal, shield_stakeholders
from cpxm.stakeholders.models import Stakeholder
from cpxm.stakeholders.schemas import StakeholderOut, stakeholder_out


def people_as_shown(
    session: Session,
    principal: Principal,
    stakeholder_ids: Iterable[int | None],
    *,
    purpose: str,
) -> dict[int, StakeholderOut]:
    """The people with these ids, by id, as ``principal`` may see them: a name linked to the
    profile, or a pseudonym without the id. One query and one audited shield for a whole page,
    so every list decides who is named the same way (``cpxm.access``)."""
    ids = sorted({stakeholder_id for stakeholder_id in stakeholder_ids if stakeholder_id})
    if not ids:
        return {}
    people = list(session.scalars(select(Stakeholder).where(Stakeholder.id.in_(ids))))
    shown = shield_stakeholders(
        session, principal, [stakeholder_out(person) for person in people], purpose=purpose
    )
    return {person.id: out for person, out in zip(people, shown, strict=True)}
