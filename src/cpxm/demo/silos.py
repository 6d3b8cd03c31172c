"""Departmental silos: the same person as each source system recorded them.

Each system keeps its own attribute shape, and people are recorded with the variation real
systems accumulate (nicknames, typos, initials, swapped name order, dropped diacritics, missing
emails, other phone and address formats, duplicates). The true stakeholder of every record goes
to ``demo_source_truth``; ``source_records.stakeholder_id`` stays NULL for identity resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from cpxm.demo.context import Context
from cpxm.demo.people import Person, slug, strip_accents
from cpxm.demo.taxonomy import COUNTRIES, PRODUCT_BY_CODE

SYSTEMS = (
    "crm",
    "events",
    "email_platform",
    "medical_information",
    "call_centre",
    "patient_support",
)
SYSTEM_PREFIX = {
    "crm": "CRM-",
    "events": "REG",
    "email_platform": "sub_",
    "medical_information": "MI-",
    "call_centre": "CC",
    "patient_support": "PSP-",
}
NICKNAMES = {
    "William": ("Bill", "Will"),
    "Robert": ("Bob", "Rob"),
    "Katherine": ("Kate", "Kathy"),
    "Catherine": ("Cathy", "Kate"),
    "Elizabeth": ("Liz", "Beth"),
    "Michael": ("Mike",),
    "James": ("Jim", "Jamie"),
    "Jennifer": ("Jen", "Jenny"),
    "Margaret": ("Maggie", "Peggy"),
    "Richard": ("Rick", "Rich"),
    "Thomas": ("Tom",),
    "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"),
    "Joseph": ("Joe",),
    "Patricia": ("Pat", "Trish"),
    "Alexander": ("Alex",),
    "Anthony": ("Tony",),
    "Nicholas": ("Nick",),
    "Samantha": ("Sam",),
    "Victoria": ("Vicky",),
    "Rebecca": ("Becky",),
    "Susan": ("Sue",),
    "Johannes": ("Hans",),
    "Franziska": ("Franzi",),
    "Wolfgang": ("Wolf",),
    "Friedrich": ("Fritz",),
    "Maximilian": ("Max",),
    "Francisco": ("Paco",),
    "José": ("Pepe",),
    "Manuel": ("Manolo",),
    "Dolores": ("Lola",),
    "Guadalupe": ("Lupe",),
    "Ignacio": ("Nacho",),
    "Jean-Pierre": ("JP",),
    "Marie-Christine": ("Marie",),
}
KEYBOARD_NEIGHBOURS = {
    "a": "sq",
    "e": "wr",
    "i": "uo",
    "o": "ip",
    "n": "bm",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "l": "k",
    "m": "n",
}
ADDRESS_ABBREVIATIONS = (
    ("Straße", "Str."),
    ("strasse", "str."),
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("rue", "r."),
    ("Calle", "C/"),
    ("Apt.", "#"),
)


def typo(rng: np.random.Generator, text: str) -> str:
    """One keying slip: a swap, a drop, a doubled letter or a neighbouring key."""
    if len(text) < 4:
        return text
    position = int(rng.integers(1, len(text) - 1))
    slip = int(rng.integers(0, 4))
    if slip == 0:
        return text[:position] + text[position + 1] + text[position] + text[position + 2 :]
    if slip == 1:
        return text[:position] + text[position + 1 :]
    if slip == 2:
        return text[:position] + text[position] + text[position:]
    neighbours = KEYBOARD_NEIGHBOURS.get(text[position].lower())
    if not neighbours:
        return text[:position] + text[position + 1 :]
    return (
        text[:position] + neighbours[int(rng.integers(0, len(neighbours)))] + text[position + 1 :]
    )


def phone_variant(rng: np.random.Generator, phone: str | None, country_code: str) -> str | None:
    """The same number as another system formats it."""
    if phone is None:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    choice = int(rng.integers(0, 4))
    prefix = next(c.phone_prefix for c in COUNTRIES if c.code == country_code).lstrip("+")
    if choice == 0:
        return phone
    if choice == 1:
        return "+" + digits if digits.startswith(prefix) else digits
    if choice == 2 and digits.startswith(prefix) and country_code != "US":
        return "0" + digits[len(prefix) :]  # national format with a trunk prefix
    return "-".join(digits[i : i + 3] for i in range(0, len(digits), 3))


def address_variant(rng: np.random.Generator, address: str | None) -> str | None:
    if address is None or rng.random() < 0.08:
        return None
    for long, short in ADDRESS_ABBREVIATIONS:
        if long in address and rng.random() < 0.6:
            address = address.replace(long, short)
    if rng.random() < 0.15:
        address = address.upper()
    return address


class SiloWriter:
    """Builds source records for one chunk; ids are reserved from the context."""

    def __init__(
        self,
        rng: np.random.Generator,
        ctx: Context,
        imported_at: datetime,
        details: np.random.Generator | None = None,
    ) -> None:
        self.rng = rng
        # Draws for fields added to the exports later (mobile, profession, an MI requester's
        # address ...): a generator of their own leaves every draw of ``rng`` where it was.
        self.details = details if details is not None else rng
        self.ctx = ctx
        self.imported_at = imported_at
        self.records: list[tuple[object, ...]] = []
        self.truth: list[tuple[int, int]] = []
        self.record_ids: dict[tuple[int, str], list[int]] = {}

    def add_people(
        self, chunk: Sequence[Person], used: dict[int, set[str]], organisations: dict[int, Person]
    ) -> None:
        """Records for each person in the systems their contacts came from, plus the usual ones."""
        for index, person in enumerate(chunk):
            systems = set(used.get(index, set())) | self._usual_systems(person)
            for system in SYSTEMS:  # fixed order: deterministic ids
                if system not in systems:
                    continue
                copies = 2 if self.rng.random() < 0.05 else 1
                for _ in range(copies):
                    self._add(index, person, system, organisations)

    def _usual_systems(self, person: Person) -> set[str]:
        r = self.rng.random(3)
        if person.type == "hcp":
            systems = {"crm"} if r[0] < 0.97 else set()
            if person.email and r[1] < 0.6:
                systems.add("email_platform")
            if r[2] < 0.2:
                systems.add("events")
            return systems
        if person.type in ("investigator", "site_staff"):
            return {"crm"} if r[0] < 0.9 else set()
        if person.kind == "organisation":
            return {"crm"}
        if person.type == "patient" and person.extra.get("psp_enrolled"):
            return {"patient_support"}
        return set()

    def _add(self, index: int, person: Person, system: str, orgs: dict[int, Person]) -> None:
        record_id = self.ctx.take_ids("source_records", 1)
        # Multiplying by a prime coprime to 10**9 scrambles ids yet keeps them unique.
        source_id = f"{SYSTEM_PREFIX[system]}{(record_id * 7919 + 104_729) % 10**9:09d}"
        if person.kind == "organisation":
            attributes = self._organisation_attributes(person, system)
        else:
            attributes = self._person_attributes(person, system, orgs)
        self.records.append((record_id, system, source_id, None, attributes, self.imported_at))
        self.truth.append((record_id, person.id))
        self.record_ids.setdefault((index, system), []).append(record_id)

    def _name(self, person: Person) -> tuple[str, str]:
        """First and last name with the variation one system introduced."""
        first, last = person.first_name or "", person.last_name or ""
        r = self.rng.random(6)
        if r[0] < 0.25 and first in NICKNAMES:
            options = NICKNAMES[first]
            first = options[int(self.rng.integers(0, len(options)))]
        if r[1] < 0.08:
            last = typo(self.rng, last)
        elif r[2] < 0.06:
            first = typo(self.rng, first)
        if r[3] < 0.25:
            first, last = strip_accents(first), strip_accents(last)
        if r[4] < 0.05:
            first, last = last, first  # entered the wrong way round
        if r[5] < 0.06:
            first = first[:1] + "."
        return first, last

    def _email(
        self, person: Person, missing: float, rng: np.random.Generator | None = None
    ) -> str | None:
        rng = rng or self.rng
        if person.email is None or rng.random() < missing:
            return None
        if rng.random() < 0.1:
            return person.email.upper()
        return person.email

    def _personal_email(self, person: Person) -> str:
        """The private address someone without a known one signed up with."""
        number = int(self.details.integers(1, 100))
        local = f"{slug(person.first_name or '')[:1]}{slug(person.last_name or '')}{number}"
        return f"{local}@{('example.com', 'example.net')[number % 2]}"

    def _person_attributes(
        self, person: Person, system: str, orgs: dict[int, Person]
    ) -> dict[str, object]:
        first, last = self._name(person)
        country = COUNTRIES[person.country]
        organisation = orgs.get(person.organisation_id or -1)
        org_name = organisation.display_name if organisation else None
        phone = phone_variant(self.rng, person.phone, country.code)
        dob = person.birth_date.isoformat() if person.birth_date else None
        if system == "crm":
            return {
                "salutation": "Dr." if person.display_name.startswith("Dr.") else None,
                "first_name": first,
                "last_name": last.upper() if country.code == "FR" else last,
                "specialty": person.specialty,
                "professional_id": person.professional_id if self.rng.random() < 0.85 else None,
                "email": self._email(person, 0.15),
                "phone": phone,
                "street": address_variant(self.rng, person.address_line),
                "postal_code": person.postal_code,
                "city": person.city,
                "country": country.code,
                "account_type": person.type.upper(),
                "primary_affiliation": org_name,
            }
        if system == "events":
            # A registration form asks for a name, a work e-mail, a mobile for the day, the
            # institution and the profession.
            attendee = f"{last}, {first}" if self.rng.random() < 0.5 else f"{first} {last}"
            return {
                "attendee": attendee,
                "email": self._email(person, 0.2),
                "mobile": phone if self.details.random() < 0.6 else None,
                "organisation": org_name,
                "profession": person.specialty if self.details.random() < 0.7 else None,
                "city": person.city,
                "country_name": country.name,
                "badge_type": "speaker" if self.rng.random() < 0.05 else "delegate",
            }
        if system == "email_platform":
            # Subscribers exist because of their address; the platform also keeps the profile
            # fields of the sign-up form (profession, city) for segmenting its sends.
            return {
                "email_address": self._email(person, 0.0) or self._personal_email(person),
                "first": first,
                "last": last,
                "profession": person.specialty if self.details.random() < 0.6 else None,
                "city": person.city if self.details.random() < 0.6 else None,
                "lang": country.language,
                "opt_in": bool(self.rng.random() < 0.85),
            }
        if system == "medical_information":
            # An answer goes out by letter, e-mail or phone, so the requester's contact details
            # and postal address are kept with the inquiry.
            title = "Dr " if person.display_name.startswith("Dr.") else ""
            return {
                "requester_name": f"{title}{first[:1]}. {last}"
                if self.rng.random() < 0.4
                else f"{title}{first} {last}",
                "requester_type": "HCP" if person.type in ("hcp", "investigator") else "Consumer",
                "phone": phone if self.details.random() < 0.85 else None,
                "email": self._email(person, 0.35),
                "institution": org_name,
                "postal_code": person.postal_code if self.details.random() < 0.6 else None,
                "city": person.city if self.details.random() < 0.7 else None,
                "country": country.code,
            }
        if system == "call_centre":
            return {
                "caller_name": f"{first} {last}".strip(),
                "caller_type": person.type,
                "phone_number": phone,
                "email": self._email(person, 0.7, self.details),
                "postcode": person.postal_code if self.rng.random() < 0.7 else None,
                "city": person.city if self.details.random() < 0.5 else None,
                "date_of_birth": dob
                if person.type == "patient" and self.rng.random() < 0.5
                else None,
            }
        product = PRODUCT_BY_CODE[person.product].name if person.product else None
        return {
            "given_name": first,
            "family_name": last,
            "dob": dob,
            "phone": phone,
            "email": self._email(person, 0.25),
            "address": {
                "line1": address_variant(self.rng, person.address_line),
                "zip": person.postal_code,
                "city": person.city,
                "country": country.code,
            },
            "programme": product,
            "role": person.type,
        }

    def _organisation_attributes(self, person: Person, system: str) -> dict[str, object]:
        name = person.display_name
        if self.rng.random() < 0.2:
            name = strip_accents(name).upper()
        elif self.rng.random() < 0.1:
            name = typo(self.rng, name)
        country = COUNTRIES[person.country]
        return {
            "account_name": name,
            "account_type": person.type,
            "street": address_variant(self.rng, person.address_line),
            "postal_code": person.postal_code,
            "city": person.city,
            "country": country.code if system == "crm" else country.name,
            "phone": phone_variant(self.rng, person.phone, country.code),
        }

    def pick(self, index: int, system: str | None) -> int | None:
        """A record of this person in this system (either copy of a duplicate)."""
        if system is None:
            return None
        ids = self.record_ids.get((index, system))
        if not ids:
            return None
        return ids[0] if len(ids) == 1 else ids[int(self.rng.integers(0, len(ids)))]
