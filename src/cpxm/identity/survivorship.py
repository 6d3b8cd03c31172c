"""Golden-record attributes chosen per attribute from a stakeholder's source records.

Per attribute, among the records that know a value: the most trusted source system wins; a tie
goes to the most recently updated record, then to the most complete one (most attributes known),
then to the lowest record id so the choice is stable. The rule that decided is kept with the
value (``identity_attribute_provenance``), so a reader can tell why a phone number is there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cpxm.identity.normalise import _kind
from cpxm.stakeholders.models import STAKEHOLDER_TYPES

DEFAULT_TRUST_ORDER = (
    "crm",
    "medical_information",
    "patient_support",
    "events",
    "call_centre",
    "email_platform",
)
ATTRIBUTES = (
    "type",
    "first_name",
    "last_name",
    "display_name",
    "specialty",
    "professional_id",
    "email",
    "phone",
    "address_line",
    "postal_code",
    "city",
    "country_code",
    "language",
    "birth_date",
)
TYPE_WORDS = {"consumer": "patient", "physician": "hcp", "nurse": "hcp", "pharmacist": "hcp"}


@dataclass(frozen=True)
class Candidate:
    """One source record as survivorship sees it."""

    record_id: int
    source_system: str
    updated_at: datetime
    values: dict[str, Any]  # golden-record fields this record knows


@dataclass(frozen=True)
class Choice:
    value: Any
    record_id: int
    rule: str


def _flat(attributes: dict[str, Any]) -> dict[str, Any]:
    """The record's known values in one level: a value in ``address`` counts where the top
    level has none (``address.zip``); empty strings and nested objects are not values."""
    flat: dict[str, Any] = {}
    nested = attributes.get("address")
    for source in (nested if isinstance(nested, dict) else {}, attributes):
        for key, value in source.items():
            if value is not None and value != "" and not isinstance(value, dict):
                flat[key] = value
    return flat


def _get(flat: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = flat.get(key)
        if value is not None:
            return value
    return None


def _name_parts(attributes: dict[str, Any]) -> tuple[str | None, str | None]:
    first = _get(attributes, "first_name", "given_name", "first")
    last = _get(attributes, "last_name", "family_name", "last")
    if first or last:
        return first, last
    full = _get(attributes, "attendee", "requester_name", "caller_name")
    if not full:
        return None, None
    text = str(full)
    if "," in text:
        last_part, _, first_part = text.partition(",")
        return first_part.strip() or None, last_part.strip() or None
    tokens = [t for t in text.split() if t.rstrip(".").lower() not in ("dr", "prof")]
    if len(tokens) < 2:
        return None, tokens[0] if tokens else None
    return " ".join(tokens[:-1]), tokens[-1]


def golden_values(attributes: dict[str, Any], countries: set[str]) -> dict[str, Any]:
    """The golden-record fields one source record knows, in the store's types."""
    kind = _kind(attributes)
    attributes = _flat(attributes)
    raw_type = _get(attributes, "type", "account_type", "role", "caller_type", "requester_type")
    folded = str(raw_type).strip().lower().replace(" ", "_") if raw_type else None
    stakeholder_type = TYPE_WORDS.get(folded or "", folded)
    values: dict[str, Any] = {
        "type": stakeholder_type if stakeholder_type in STAKEHOLDER_TYPES else None,
        "specialty": _get(attributes, "specialty", "profession"),
        "professional_id": _get(attributes, "professional_id"),
        "email": (str(_get(attributes, "email", "email_address") or "").lower() or None),
        "phone": _get(attributes, "phone", "phone_number", "mobile"),
        "address_line": _get(attributes, "address_line", "street", "line1"),
        "postal_code": _get(attributes, "postal_code", "postcode", "zip"),
        "city": _get(attributes, "city"),
        "language": _get(attributes, "language", "lang"),
    }
    country = _get(attributes, "country")
    values["country_code"] = country if country in countries else None
    birth = _get(attributes, "birth_date", "dob", "date_of_birth")
    try:
        values["birth_date"] = date.fromisoformat(str(birth)[:10]) if birth else None
    except ValueError:
        values["birth_date"] = None
    if kind == "organisation":
        name = _get(attributes, "account_name", "name")
        values |= {"first_name": None, "last_name": None, "display_name": name}
    else:
        first, last = _name_parts(attributes)
        full = " ".join(part for part in (first, last) if part) or _get(attributes, "name")
        values |= {"first_name": first, "last_name": last, "display_name": full}
    for key, value in values.items():
        if isinstance(value, str):
            values[key] = value.strip() or None
    return values


def choose(
    candidates: Sequence[Candidate], trust_order: Sequence[str] = DEFAULT_TRUST_ORDER
) -> dict[str, Choice]:
    """Per attribute, the surviving value, the record it came from and the deciding rule."""
    trust = {system: rank for rank, system in enumerate(trust_order)}
    # One order for every attribute (trust, recency, completeness, id): the first record that
    # knows an attribute wins it, and the next one that knows it shows which rule decided.
    ranked = sorted(
        (
            (
                trust.get(c.source_system, len(trust)),
                -c.updated_at.timestamp(),
                -sum(1 for v in c.values.values() if v is not None),
                c.record_id,
            ),
            c,
        )
        for c in candidates
    )
    # One pass in that order: the first record knowing an attribute wins it, the second
    # (the runner-up) shows which rule decided. Scanning the ranking once per attribute cost
    # a tenth of a FEBRL4 resolve.
    winners: dict[str, tuple[tuple[Any, ...], Candidate]] = {}
    rules: dict[str, str] = {}
    for key, c in ranked:
        for attribute, value in c.values.items():
            if value is None or attribute in rules:
                continue
            won = winners.get(attribute)
            if won is None:
                winners[attribute] = (key, c)
            elif won[0][0] != key[0]:
                rules[attribute] = "trust"
            elif won[0][1] != key[1]:
                rules[attribute] = "recency"
            else:
                rules[attribute] = "completeness"
    chosen: dict[str, Choice] = {}
    for attribute in ATTRIBUTES:
        if attribute in winners:
            best = winners[attribute][1]
            chosen[attribute] = Choice(
                best.values[attribute], best.record_id, rules.get(attribute, "only_source")
            )
    return chosen
