"""Rectification (GDPR Art. 16): a steward corrects a person's golden record, and the correction
survives every later ``cpxm resolve``.

The golden record is survivorship's choice among the person's source records, so writing the
column alone would be undone by the next resolve. A rectification is therefore a source record
of its own, from the system "rectified by EMAIL", attached to the person; survivorship lets its
values win over every rule (``cpxm.identity.merges``), and the attribute's provenance reads
"rectified by EMAIL". The change is audited with each field's old and new value (fingerprints
for personal data, as every audited change) and the reason.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.access import audit
from cpxm.access.principal import Principal
from cpxm.errors import DomainError, NotFoundError
from cpxm.identity.merges import RECTIFIED_BY, refresh_golden_records
from cpxm.identity.models import SourceRecord
from cpxm.stakeholders.models import Stakeholder
from cpxm.timeutil import utc_now
from cpxm.workspace.models import Country

# Golden-record fields a steward may correct, and the source-record key survivorship reads each
# from. Names are corrected together: survivorship builds the display name from both parts.
RECTIFIABLE = {
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "phone": "phone",
    "address_line": "address_line",
    "postal_code": "postal_code",
    "city": "city",
    "country_code": "country",
    "language": "language",
    "birth_date": "birth_date",
    "specialty": "specialty",
    "professional_id": "professional_id",
}
PERSON_ONLY = frozenset({"first_name", "last_name", "birth_date"})
LIMITS = {
    "first_name": 120,
    "last_name": 120,
    "email": 320,
    "phone": 40,
    "address_line": 300,
    "postal_code": 20,
    "city": 120,
    "country_code": 2,
    "language": 8,
    "specialty": 120,
    "professional_id": 40,
}


class RectificationError(DomainError):
    status_code = 422


def rectify(
    session: Session,
    *,
    stakeholder_id: int,
    changes: dict[str, Any],
    reason: str,
    actor: Principal,
) -> Stakeholder:
    """Correct these golden-record fields of the person; every problem is reported at once."""
    reason = reason.strip()
    stakeholder = session.get(Stakeholder, stakeholder_id)
    if stakeholder is None:
        raise NotFoundError("stakeholder", stakeholder_id)
    if stakeholder.status != "active":
        raise RectificationError(
            f"stakeholder {stakeholder_id} is {stakeholder.status}: rectify its golden record "
            f"{stakeholder.merged_into_id or ''}".rstrip()
        )
    cleaned, problems = _checked(session, stakeholder, changes)
    if not reason:
        problems.append("reason: say why (the request and its date), for the audit trail")
    if problems:
        raise RectificationError(problems)
    before = {field: getattr(stakeholder, field) for field in cleaned}
    now = utc_now()
    attributes: dict[str, Any] = {
        RECTIFIABLE[field]: value.isoformat() if isinstance(value, date) else value
        for field, value in cleaned.items()
    }
    if cleaned.keys() & {"first_name", "last_name"}:
        attributes.setdefault("first_name", stakeholder.first_name)
        attributes.setdefault("last_name", stakeholder.last_name)
    sourced = session.scalar(
        select(SourceRecord.id)
        .where(
            SourceRecord.stakeholder_id == stakeholder_id,
            ~SourceRecord.source_system.startswith(RECTIFIED_BY),
        )
        .limit(1)
    )
    if sourced is None:
        # A record entered by hand has no source to choose from: survivorship would clear
        # what the rectification does not name, so it carries the rest of the record as it is.
        for field, key in RECTIFIABLE.items():
            value = getattr(stakeholder, field)
            if value is not None and key not in attributes:
                attributes[key] = value.isoformat() if isinstance(value, date) else value
        if stakeholder.kind == "organisation":
            attributes.setdefault("name", stakeholder.display_name)
    # Survivorship reads the type and when the record was written; the type keeps the record
    # on the person's side of the patient protections.
    attributes |= {"type": stakeholder.type, "updated_at": now.isoformat()}
    source = SourceRecord(
        source_system=(RECTIFIED_BY + actor.email)[:60],
        source_id=f"stakeholder-{stakeholder_id}-{now:%Y%m%dT%H%M%S%f}",
        stakeholder_id=stakeholder_id,
        attributes=attributes,
        imported_at=now,
    )
    session.add(source)
    session.flush()
    refresh_golden_records(session, stakeholder_ids=[stakeholder_id])
    session.refresh(stakeholder)
    after = {field: getattr(stakeholder, field) for field in cleaned}
    audit.record(
        session,
        user_id=actor.user_id,
        action="rectify",
        entity_type="stakeholders",
        entity_id=stakeholder_id,
        reason=reason,
        details={
            "fields": sorted(cleaned),
            "changes": {
                field: {
                    "old": audit.shown_value("stakeholders", field, before[field]),
                    "new": audit.shown_value("stakeholders", field, after[field]),
                }
                for field in sorted(cleaned)
            },
            "source_record_id": source.id,
        },
    )
    return stakeholder


def _checked(
    session: Session, stakeholder: Stakeholder, changes: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    cleaned: dict[str, Any] = {}
    if not changes:
        problems.append(f"nothing to rectify: give one or more of {', '.join(RECTIFIABLE)}")
    for field, raw in changes.items():
        if field not in RECTIFIABLE:
            problems.append(
                f"{field}: not a field that can be rectified ({', '.join(RECTIFIABLE)})"
            )
            continue
        if field in PERSON_ONLY and stakeholder.kind != "person":
            problems.append(f"{field}: stakeholder {stakeholder.id} is an organisation")
            continue
        value = str(raw).strip() if raw is not None else ""
        if not value:
            problems.append(
                f"{field}: give the correct value (to remove a value, erase the source it came "
                "from or ask for erasure)"
            )
            continue
        if field == "birth_date":
            try:
                birth = date.fromisoformat(value)
            except ValueError:
                problems.append(f"birth_date: '{value}' is not a date like 1970-01-31")
                continue
            if birth > utc_now().date() or birth.year < 1900:
                problems.append(f"birth_date: {birth} is not a plausible birth date")
                continue
            cleaned[field] = birth
            continue
        if len(value) > LIMITS[field]:
            problems.append(f"{field}: at most {LIMITS[field]} characters")
            continue
        if field == "email":
            value = value.lower()
            if "@" not in value or "." not in value.rsplit("@", 1)[-1] or " " in value:
                problems.append(f"email: '{value}' is not an email address")
                continue
        if field == "country_code":
            value = value.upper()
            if session.scalar(select(Country.code).where(Country.code == value)) is None:
                problems.append(f"country_code: unknown country '{value}'")
                continue
        cleaned[field] = value
    return cleaned, problems
