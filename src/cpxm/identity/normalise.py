"""One comparable frame from source records kept in each system's own attribute shape.

Imports store the ingest target's field names; systems written by other tools (the demo's
silos, older loads) keep theirs (``given_name``, ``attendee``, ``address.zip`` ...). Everything
the linkage model compares is derived here: lower-case ASCII names with nicknames folded to
their usual given name, e-mail without placeholders, the phone's national significant digits,
postal code, city, date of birth, professional id and whether it is a person or an organisation.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from cpxm.stakeholders.models import ORGANISATION_TYPES, STAKEHOLDER_TYPES

TITLES = {"dr", "prof", "professor", "mr", "mrs", "ms", "mme", "m", "herr", "frau", "sr", "sra"}
# Cheap nickname folding: the common short forms of frequent given names in our markets.
NICKNAMES = {
    "bill": "william",
    "will": "william",
    "bob": "robert",
    "rob": "robert",
    "kate": "katherine",
    "kathy": "katherine",
    "cathy": "catherine",
    "liz": "elizabeth",
    "beth": "elizabeth",
    "mike": "michael",
    "jim": "james",
    "jamie": "james",
    "jen": "jennifer",
    "jenny": "jennifer",
    "maggie": "margaret",
    "peggy": "margaret",
    "rick": "richard",
    "rich": "richard",
    "tom": "thomas",
    "chris": "christopher",
    "dan": "daniel",
    "danny": "daniel",
    "joe": "joseph",
    "pat": "patricia",
    "trish": "patricia",
    "alex": "alexander",
    "tony": "anthony",
    "nick": "nicholas",
    "sam": "samantha",
    "vicky": "victoria",
    "becky": "rebecca",
    "sue": "susan",
    "hans": "johannes",
    "franzi": "franziska",
    "wolf": "wolfgang",
    "fritz": "friedrich",
    "max": "maximilian",
    "paco": "francisco",
    "pepe": "jose",
    "manolo": "manuel",
    "lola": "dolores",
    "lupe": "guadalupe",
    "nacho": "ignacio",
    "jp": "jean pierre",
}
# German spelling writes a missing umlaut as a trailing e (Müller, Mueller); stripping the accent
# alone (Muller) would make the commonest form of the name differ from its own transliteration.
UMLAUTS = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
)
PLACEHOLDER_EMAIL_USERS = {"noemail", "none", "unknown", "na", "noreply", "no-reply"}
_SEPARATORS = re.compile(r"[\W_]+")
_NON_DIGITS = re.compile(r"\D")
_NON_ALPHANUMERIC = re.compile(r"[^0-9A-Za-z]")
_COMPACT_DATE = re.compile(r"\d{8}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}.*")
COLUMNS = (
    "unique_id",
    "source_system",
    "kind",
    "first_name",
    "last_name",
    "full_name",
    "initial_surname",
    "first_initial",
    "dob",
    "email",
    "phone",
    "postal_code",
    "city",
    "address",
    "professional_id",
    "institution",
    "specialty",
)


# How systems word a person's type, where it is not the store's own word.
TYPE_WORDS = {
    "consumer": "patient",
    "physician": "hcp",
    "nurse": "hcp",
    "pharmacist": "hcp",
    "healthcare_professional": "hcp",
    "patients": "patient",
    "caregivers": "caregiver",
    "investigators": "investigator",
}
# Types whose records may be linked automatically: the same group, or a record that does not
# say. An investigator or site nurse is also an HCP, so one system's "HCP" is another's
# "Investigator"; a patient, a caregiver (often the patient's own family, at one address) and
# an employee are different people from an HCP of the same name until a person says otherwise.
TYPE_GROUPS = {
    "hcp": "professional",
    "investigator": "professional",
    "site_staff": "professional",
    "patient": "patient",
    "caregiver": "caregiver",
    "employee": "employee",
}


@dataclass(frozen=True)
class Normalised:
    """The comparable view of one source record (``None`` where the system did not know)."""

    unique_id: int
    source_system: str
    kind: str
    first_name: str | None
    last_name: str | None
    full_name: str | None
    initial_surname: str | None
    first_initial: str | None
    dob: str | None
    email: str | None
    phone: str | None
    postal_code: str | None
    city: str | None
    address: str | None
    professional_id: str | None
    institution: str | None
    specialty: str | None
    # The store's type the system gives (``hcp``, ``patient``, ``employee`` ...): not compared
    # by the model, but it decides which links need a person (``type_conflict``).
    stakeholder_type: str | None = None

    @property
    def type_group(self) -> str | None:
        """``professional``, ``patient``, ``caregiver``, ``employee``, or ``None``."""
        if self.kind == "organisation":
            return "organisation"
        return TYPE_GROUPS.get(self.stakeholder_type or "")


def fold(text: object) -> str | None:
    """Lower-case letters (Latin ones without accents), digits and single spaces, or ``None``."""
    if text is None:
        return None
    return _fold(str(text))


@lru_cache(maxsize=200_000)
def _fold(text: str) -> str | None:
    # Names, cities and streets repeat across records and systems: each is folded once.
    if text.isascii():
        # Nothing to decompose or transliterate: the same result, a third of the time.
        return _SEPARATORS.sub(" ", text.lower()).strip() or None
    decomposed = unicodedata.normalize(
        "NFKD", unicodedata.normalize("NFC", str(text)).translate(UMLAUTS)
    )
    # Latin letters lose their accents; other scripts (a city or institution written in
    # kanji) keep their letters, which would otherwise vanish and make such records blank.
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    cleaned = _SEPARATORS.sub(" ", plain).strip()
    return cleaned or None


def _plain(name: str | None) -> str | None:
    """A name with umlauts written either way alike: Müller, Mueller and Muller -> muller.

    Systems that cannot store an umlaut drop it (Muller) or transliterate it (Mueller); both
    sides of a comparison go through this, so a name that happens to contain ae, oe or ue
    (Michael) is changed the same way on both.
    """
    if name is None:
        return None
    return name.replace("ae", "a").replace("oe", "o").replace("ue", "u")


def _given_name(text: str | None) -> str | None:
    if text is None:
        return None
    return NICKNAMES.get(text, text)


def _split_full_name(full: object) -> tuple[str | None, str | None]:
    """``"Last, First"`` or ``"Dr First Last"`` into (first, last)."""
    if full is None:
        return None, None
    raw = str(full)
    if "," in raw:
        last, _, first = raw.partition(",")
        return fold(first), fold(last)
    tokens = (fold(raw) or "").split()
    # "M." is Monsieur before a full name, but before a surname alone it is an initial
    # (``Dr M. Kyle``): dropped, the record kept no given name at all.
    while tokens and tokens[0] in TITLES and len(tokens) > (2 if len(tokens[0]) == 1 else 1):
        tokens = tokens[1:]
    if not tokens:
        return None, None
    if len(tokens) == 1:
        return None, tokens[0]
    return " ".join(tokens[:-1]), tokens[-1]


def _email(value: object) -> str | None:
    if value is None:
        return None
    email = str(value).strip().lower()
    user, at, domain = email.partition("@")
    if not at or not user or "." not in domain:
        return None
    if user in PLACEHOLDER_EMAIL_USERS or domain.startswith("unknown."):
        return None
    return email


def _phone(value: object) -> str | None:
    """The last nine digits: the same across international, national and trunk formats."""
    if value is None:
        return None
    digits = _NON_DIGITS.sub("", str(value))
    return digits[-9:] if len(digits) >= 6 else None


def _postal_code(value: object) -> str | None:
    if value is None:
        return None
    code = _NON_ALPHANUMERIC.sub("", str(value)).upper()
    return code or None


def _dob(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date | datetime):
        return value.isoformat()[:10]
    text = str(value).strip()
    if _COMPACT_DATE.fullmatch(text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text[:10] if _ISO_DATE.fullmatch(text) else None


def _kind(attributes: dict[str, Any]) -> str:
    declared = attributes.get("type") or attributes.get("account_type") or attributes.get("role")
    if attributes.get("account_name") or (fold(declared) or "").replace(" ", "_") in (
        ORGANISATION_TYPES
    ):
        return "organisation"
    if attributes.get("name") and not (attributes.get("first_name") or attributes.get("last_name")):
        # One name column and a non-person type: an organisation imported through ingest.
        return "organisation" if declared and declared in ORGANISATION_TYPES else "person"
    return "person"


def stakeholder_type(attributes: dict[str, Any]) -> str | None:
    """The store's type one record declares (``Consumer`` -> ``patient``), or ``None``."""
    declared = _first(attributes, "type", "account_type", "role", "caller_type", "requester_type")
    folded = (fold(declared) or "").replace(" ", "_")
    found = TYPE_WORDS.get(folded, folded)
    return found if found in STAKEHOLDER_TYPES else None


def type_conflict(left: Normalised, right: Normalised) -> str | None:
    """``"patient vs hcp"`` when two records say types that must not be linked unasked."""
    groups = {left.type_group, right.type_group} - {None}
    if len(groups) < 2:
        return None
    return " vs ".join(sorted({record.stakeholder_type or record.kind for record in (left, right)}))


def _first(attributes: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value not in (None, ""):
            return value
    return None


def normalise(record_id: int, source_system: str, attributes: dict[str, Any]) -> Normalised:
    """Map any known attribute shape onto the comparable fields."""
    address = attributes.get("address")
    nested: dict[str, Any] = address if isinstance(address, dict) else {}
    kind = _kind(attributes)
    first = fold(_first(attributes, "first_name", "given_name", "first"))
    last = fold(_first(attributes, "last_name", "family_name", "last"))
    if kind == "organisation":
        first, last = None, fold(_first(attributes, "account_name", "name"))
    elif first is None and last is None:
        first, last = _split_full_name(
            _first(attributes, "name", "attendee", "requester_name", "caller_name")
        )
    if first is not None:
        first = (
            " ".join(_given_name(token) or token for token in first.split())
            if " " in first
            else NICKNAMES.get(first, first)
        )
    first, last = _plain(first), _plain(last)
    if first is not None and len(first) == 1:
        initial: str | None = first
        first = None  # an initial says little; it still blocks and breaks ties via first_initial
    else:
        initial = first[:1] if first else None
    return Normalised(
        unique_id=record_id,
        source_system=source_system,
        kind=kind,
        first_name=first,
        last_name=last,
        # How common the whole name is: two records of a rare name are more likely one person.
        full_name=f"{first} {last}" if first and last else None,
        # How common the surname with that initial is: ``S. Melero`` beside ``Sandalio
        # Melero`` says more than ``J. Smith`` beside ``John Smith``.
        initial_surname=f"{initial} {last}" if initial and last else None,
        first_initial=initial,
        dob=_dob(_first(attributes, "birth_date", "dob", "date_of_birth")),
        email=_email(_first(attributes, "email", "email_address")),
        phone=_phone(_first(attributes, "phone", "phone_number", "mobile")),
        postal_code=_postal_code(
            _first(attributes, "postal_code", "postcode") or nested.get("zip")
        ),
        city=fold(_first(attributes, "city") or nested.get("city")),
        address=fold(
            _first(attributes, "address_line", "street")
            or (address if isinstance(address, str) else None)
            or nested.get("line1")
        ),
        professional_id=_postal_code(attributes.get("professional_id")),
        institution=fold(
            _first(attributes, "institution", "organisation", "primary_affiliation", "employer")
        )
        if kind == "person"
        else None,
        specialty=fold(_first(attributes, "specialty", "profession")),
        stakeholder_type=stakeholder_type(attributes) if kind == "person" else None,
    )
