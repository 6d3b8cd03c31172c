"""Record-level shields: what of a record a principal may see, decided here and nowhere else.

Routes pass the records they are about to answer with through these functions. Patients and
caregivers appear under a stable pseudonym to roles without the patient-identifiable domain;
roles with it see them whole and each such read is audited. Notes of medical departments are
withheld from roles without the medical domain (the medical/commercial firewall).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Sequence
from functools import cache
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from cpxm.access import audit
from cpxm.access.principal import Principal
from cpxm.access.roles import MEDICAL_DEPARTMENTS, Domain
from cpxm.stakeholders.models import PATIENT_IDENTIFIABLE_TYPES

logger = logging.getLogger(__name__)

# Fields that identify a person; blanked when a patient is shown under a pseudonym.
IDENTIFYING_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "address_line",
    "postal_code",
    "birth_date",
    "professional_id",
)
WITHHELD_MEDICAL_FIELDS = ("notes", "outcome")


ModelT = TypeVar("ModelT", bound=BaseModel)


@cache
def _pseudonym_key() -> bytes:
    configured = os.environ.get("CPXM_SECRET_KEY", "")
    if configured:
        return configured.encode()
    logger.warning("CPXM_SECRET_KEY is not set: patient pseudonyms change when the server restarts")
    return secrets.token_bytes(32)


def pseudonym(stakeholder_id: int) -> str:
    """A stable pseudonym ('Patient 3F9A21C4') that cannot be turned back into the id without
    the server's key."""
    digest = hmac.new(_pseudonym_key(), str(stakeholder_id).encode(), hashlib.sha256)
    return f"Patient {digest.hexdigest()[:8].upper()}"


def is_patient_identifiable(stakeholder_type: str) -> bool:
    return stakeholder_type in PATIENT_IDENTIFIABLE_TYPES


def shield_stakeholders(
    session: Session, principal: Principal, records: Sequence[ModelT], *, purpose: str
) -> list[ModelT]:
    """``records`` (pydantic models with ``id``, ``type`` and personal fields) as ``principal``
    may see them; reads of whole patient records are audited."""
    patient_ids = [
        record_id(record) for record in records if is_patient_identifiable(record_type(record))
    ]
    if principal.can_see(Domain.PATIENT_IDENTIFIABLE):
        audit.record_read(
            session, principal, entity_type="stakeholders", entity_ids=patient_ids, purpose=purpose
        )
        return list(records)
    return [
        _pseudonymised(record) if is_patient_identifiable(record_type(record)) else record
        for record in records
    ]


def record_type(record: BaseModel) -> str:
    return str(getattr(record, "type", ""))


def record_id(record: BaseModel) -> int:
    value = record.model_dump(include={"id"}).get("id")
    if not isinstance(value, int):
        raise TypeError(f"{type(record).__name__} has no integer id to pseudonymise")
    return value


def _pseudonymised(record: ModelT) -> ModelT:
    fields = type(record).model_fields
    update: dict[str, object] = {name: None for name in IDENTIFYING_FIELDS if name in fields}
    if "display_name" in fields:
        update["display_name"] = pseudonym(record_id(record))
    return record.model_copy(update=update)


def shield_interactions(principal: Principal, records: Sequence[ModelT]) -> list[ModelT]:
    """Interactions without the notes of medical departments for roles outside the firewall."""
    if principal.can_see(Domain.MEDICAL):
        return list(records)
    return [
        record.model_copy(update={name: None for name in WITHHELD_MEDICAL_FIELDS})
        if str(getattr(record, "department", "")) in MEDICAL_DEPARTMENTS
        else record
        for record in records
    ]
