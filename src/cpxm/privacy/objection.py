"""Objection to processing (GDPR Art. 21): recorded, withdrawn, and honoured by every use that
asks ``cpxm.access.purposes``; the caller owns the transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.access import audit
from cpxm.errors import DomainError, NotFoundError
from cpxm.privacy.models import Objection
from cpxm.stakeholders.models import Stakeholder
from cpxm.timeutil import utc_now


class ObjectionStateError(DomainError):
    status_code = 409


def _golden(session: Session, stakeholder_id: int) -> Stakeholder:
    stakeholder = session.get(Stakeholder, stakeholder_id)
    if stakeholder is None:
        raise NotFoundError("stakeholder", stakeholder_id)
    if stakeholder.status == "merged" and stakeholder.merged_into_id is not None:
        raise DomainError(
            f"stakeholder {stakeholder_id} was merged into {stakeholder.merged_into_id}: "
            "record the objection on that golden record"
        )
    return stakeholder


def _standing(session: Session, stakeholder_id: int) -> Objection | None:
    return session.scalar(
        select(Objection).where(
            Objection.stakeholder_id == stakeholder_id, Objection.withdrawn_at.is_(None)
        )
    )


def record_objection(
    session: Session, *, stakeholder_id: int, reason: str, actor_user_id: int | None
) -> Objection:
    """The person objects: from now on they are left out of profiling and survey audiences."""
    reason = reason.strip()
    if not reason:
        raise DomainError("say why (the request, how it came in and its date), for the audit trail")
    _golden(session, stakeholder_id)
    if _standing(session, stakeholder_id) is not None:
        raise ObjectionStateError(f"stakeholder {stakeholder_id} already objects")
    objection = Objection(
        stakeholder_id=stakeholder_id,
        objected_at=utc_now(),
        reason=reason,
        recorded_by_user_id=actor_user_id,
    )
    session.add(objection)
    session.flush()
    audit.record(
        session,
        user_id=actor_user_id,
        action="object",
        entity_type="stakeholders",
        entity_id=stakeholder_id,
        reason=reason,
        details={"objection_id": objection.id},
    )
    return objection


def withdraw_objection(
    session: Session, *, stakeholder_id: int, reason: str, actor_user_id: int | None
) -> Objection:
    """The person withdraws their objection; it is kept, with when and why it ended."""
    reason = reason.strip()
    if not reason:
        raise DomainError("say why the objection is withdrawn, for the audit trail")
    _golden(session, stakeholder_id)
    objection = _standing(session, stakeholder_id)
    if objection is None:
        raise ObjectionStateError(f"stakeholder {stakeholder_id} has no objection to withdraw")
    objection.withdrawn_at = utc_now()
    objection.withdrawal_reason = reason
    objection.withdrawn_by_user_id = actor_user_id
    session.flush()
    audit.record(
        session,
        user_id=actor_user_id,
        action="withdraw_objection",
        entity_type="stakeholders",
        entity_id=stakeholder_id,
        reason=reason,
        details={"objection_id": objection.id},
    )
    return objection


def objections_of(session: Session, *, stakeholder_id: int) -> list[Objection]:
    return list(
        session.scalars(
            select(Objection)
            .where(Objection.stakeholder_id == stakeholder_id)
            .order_by(Objection.objected_at, Objection.id)
        )
    )
