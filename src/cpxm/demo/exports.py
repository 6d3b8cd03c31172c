"""The demo's silos written as the files their systems export, in the shipped templates' shape.

Each departmental system's people (as that system recorded them: nicknames, typos, missing
e-mails) become one CSV export, read back by ``cpxm import`` with the template for that kind of
export. Nothing about the true person travels in a file except what the system itself would
know, such as the category an event's registration form asked for.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from cpxm.demo.people import Person
from cpxm.demo.taxonomy import COUNTRIES, PRODUCTS

# A category in the words a system's forms use, from the person's true type.
CATEGORY_WORDS = {
    "events": {
        "hcp": "Healthcare professional",
        "investigator": "Investigator",
        "site_staff": "Site staff",
        "patient": "Patient",
        "caregiver": "Caregiver",
    },
    "email_platform": {
        "hcp": "HCP",
        "investigator": "Investigators",
        "site_staff": "Site staff",
        "patient": "Patients",
        "caregiver": "Caregivers",
    },
    "medical_information": {
        "hcp": "HCP",
        "investigator": "HCP",
        "site_staff": "Site staff",
        "patient": "Patient",
        "caregiver": "Caregiver",
    },
}
AREA_OF_PRODUCT_NAME = {product.name: product.therapeutic_area for product in PRODUCTS}
LANGUAGE_OF_COUNTRY = {country.code: country.language for country in COUNTRIES}


@dataclass(frozen=True)
class Export:
    """One export file: the template that reads it and its columns, in file order."""

    file_name: str
    template: str
    columns: tuple[str, ...]


EXPORTS = {
    "crm_person": Export(
        "crm_person_accounts.csv",
        "crm-person-accounts",
        (
            "account_id",
            "account_type",
            "salutation",
            "first_name",
            "last_name",
            "specialty",
            "professional_id",
            "primary_parent",
            "email",
            "phone",
            "street",
            "postal_code",
            "city",
            "country",
            "language",
        ),
    ),
    "crm_organisation": Export(
        "crm_accounts.csv",
        "crm-accounts",
        (
            "account_id",
            "account_type",
            "first_name",
            "last_name",
            "account_name",
            "specialty",
            "professional_id",
            "email",
            "phone",
            "address_line",
            "postal_code",
            "city",
            "country",
            "language",
        ),
    ),
    "events": Export(
        "event_registrations.csv",
        "event-registrations",
        (
            "attendee_id",
            "attendee_category",
            "attendee",
            "email",
            "mobile",
            "organisation",
            "profession",
            "city",
            "country",
            "badge_type",
        ),
    ),
    "email_platform": Export(
        "email_subscribers.csv",
        "email-subscribers",
        (
            "subscriber_id",
            "segment",
            "email_address",
            "first",
            "last",
            "organisation_name",
            "profession",
            "city",
            "lang",
            "opt_in",
        ),
    ),
    "medical_information": Export(
        "medical_information_requesters.csv",
        "medical-information-requesters",
        (
            "requester_id",
            "requester_type",
            "requester_name",
            "phone",
            "email",
            "institution",
            "postal_code",
            "city",
            "country",
        ),
    ),
    "call_centre": Export(
        "call_centre_callers.csv",
        "call-centre-callers",
        (
            "caller_id",
            "caller_type",
            "caller_name",
            "phone_number",
            "email",
            "postcode",
            "city",
            "date_of_birth",
        ),
    ),
    "patient_support": Export(
        "psp_enrolments.csv",
        "psp-enrolments",
        (
            "patient_id",
            "enrollee_role",
            "first_name",
            "last_name",
            "email",
            "phone",
            "postal_code",
            "city",
            "country",
            "language",
            "date_of_birth",
            "therapeutic_area",
        ),
    ),
    "hr": Export(
        "hr_employees.csv",
        "hr-employees",
        (
            "employee_number",
            "first_name",
            "last_name",
            "work_email",
            "phone",
            "office_city",
            "country",
            "language",
        ),
    ),
}
# Parents before the records that name them is not needed (people are linked by resolution),
# but a fixed order keeps import run numbers and ids the same for the same seed.
IMPORT_ORDER = tuple(EXPORTS)
COUNTRY_BY_NAME = {country.name: country.code for country in COUNTRIES}

RowBuilder = Callable[[str, dict[str, Any], Person], dict[str, Any]]


def _crm(source_id: str, attributes: dict[str, Any], person: Person) -> dict[str, Any]:
    return {
        "account_id": source_id,
        "account_type": attributes["account_type"],
        "salutation": attributes.get("salutation"),
        "first_name": attributes.get("first_name"),
        "last_name": attributes.get("last_name"),
        "specialty": attributes.get("specialty"),
        "professional_id": attributes.get("professional_id"),
        "primary_parent": attributes.get("primary_affiliation"),
        "email": attributes.get("email"),
        "phone": attributes.get("phone"),
        "street": attributes.get("street"),
        "postal_code": attributes.get("postal_code"),
        "city": attributes.get("city"),
        "country": attributes.get("country"),
        "language": person.language,  # the account's correspondence language
    }


def _organisation(source_id: str, attributes: dict[str, Any], person: Person) -> dict[str, Any]:
    country = attributes.get("country")
    code = COUNTRY_BY_NAME.get(country, country) if country else None
    return {
        "account_id": source_id,
        "account_type": attributes["account_type"],
        "account_name": attributes["account_name"],
        "phone": attributes.get("phone"),
        "address_line": attributes.get("street"),
        "postal_code": attributes.get("postal_code"),
        "city": attributes.get("city"),
        "country": code,
        "language": LANGUAGE_OF_COUNTRY.get(code or ""),
    }


def _events(source_id: str, attributes: dict[str, Any], person: Person) -> dict[str, Any]:
    if person.kind == "organisation":  # an institution registered as a group
        return {
            "attendee_id": source_id,
            "attendee_category": attributes["account_type"],
            "attendee": attributes["account_name"],
            "mobile": attributes.get("phone"),
            "city": attributes.get("city"),
            "country": attributes.get("country"),
            "badge_type": "exhibitor",
        }
    return {
        "attendee_id": source_id,
        "attendee_category": CATEGORY_WORDS["events"].get(person.type, person.type),
        **{key: attributes.get(key) for key in ("attendee", "email", "mobile", "organisation")},
        "profession": attributes.get("profession"),
        "city": attributes.get("city"),
        "country": attributes.get("country_name"),
        "badge_type": attributes.get("badge_type"),
    }


def _email(source_id: str, attributes: dict[str, Any], person: Person) -> dict[str, Any]:
    if person.kind == "organisation":
        return {
            "subscriber_id": source_id,
            "segment": attributes["account_type"],
            "organisation_name": attributes["account_name"],
            "city": attributes.get("city"),
            "email_address": f"info.{source_id.lower()}@example.org",
        }
    return {
        "subscriber_id": source_id,
        "segment": CATEGORY_WORDS["email_platform"].get(person.type, person.type),
        **{
            key: attributes.get(key)
            for key in ("email_address", "first", "last", "profession", "city", "lang")
        },
        "opt_in": "yes" if attributes.get("opt_in") else "no",
    }


def _medical_information(
    source_id: str, attributes: dict[str, Any], person: Person
) -> dict[str, Any]:
    return {
        "requester_id": source_id,
        "requester_type": CATEGORY_WORDS["medical_information"].get(person.type, person.type),
        **{
            key: attributes.get(key)
            for key in (
                "requester_name",
                "phone",
                "email",
                "institution",
                "postal_code",
                "city",
                "country",
            )
        },
    }


def _call_centre(source_id: str, attributes: dict[str, Any], person: Person) -> dict[str, Any]:
    if person.kind == "organisation":
        return {
            "caller_id": source_id,
            "caller_type": attributes["account_type"],
            "caller_name": attributes["account_name"],
            "phone_number": attributes.get("phone"),
            "postcode": attributes.get("postal_code"),
            "city": attributes.get("city"),
        }
    return {
        "caller_id": source_id,
        **{
            key: attributes.get(key)
            for key in (
                "caller_type",
                "caller_name",
                "phone_number",
                "email",
                "postcode",
                "city",
                "date_of_birth",
            )
        },
    }


def _patient_support(source_id: str, attributes: dict[str, Any], person: Person) -> dict[str, Any]:
    address = attributes.get("address") or {}
    return {
        "patient_id": source_id,
        "enrollee_role": attributes.get("role"),
        "first_name": attributes.get("given_name"),
        "last_name": attributes.get("family_name"),
        "email": attributes.get("email"),
        "phone": attributes.get("phone"),
        "postal_code": address.get("zip"),
        "city": address.get("city"),
        "country": address.get("country"),
        "language": person.language,
        "date_of_birth": attributes.get("dob"),
        "therapeutic_area": AREA_OF_PRODUCT_NAME.get(attributes.get("programme") or ""),
    }


BUILDERS: dict[str, RowBuilder] = {
    "crm": _crm,
    "events": _events,
    "email_platform": _email,
    "medical_information": _medical_information,
    "call_centre": _call_centre,
    "patient_support": _patient_support,
}


def export_of(system: str, person: Person) -> str:
    if system == "crm":
        return "crm_organisation" if person.kind == "organisation" else "crm_person"
    return system


def employee_source_id(person: Person) -> str:
    """The HR system's employee number (a scrambled form of the person's generator id)."""
    return f"E{(person.id * 7919 + 104_729) % 10**7:07d}"


def employee_row(person: Person) -> dict[str, Any]:
    return {
        "employee_number": employee_source_id(person),
        "first_name": person.first_name,
        "last_name": person.last_name,
        "work_email": person.email,
        "phone": person.phone,
        "office_city": person.city,
        "country": person.country_code,
        "language": person.language,
    }


class ExportWriter:
    """Appends each silo record to its system's export file as the chunks are generated."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._stack = ExitStack()
        self._writers: dict[str, csv.DictWriter[str]] = {}
        self.rows: dict[str, int] = dict.fromkeys(EXPORTS, 0)

    def _writer(self, export: str) -> csv.DictWriter[str]:
        writer = self._writers.get(export)
        if writer is None:
            spec = EXPORTS[export]
            handle: TextIO = self._stack.enter_context(
                (self.directory / spec.file_name).open("w", encoding="utf-8", newline="")
            )
            writer = csv.DictWriter(handle, fieldnames=spec.columns, extrasaction="raise")
            writer.writeheader()
            self._writers[export] = writer
        return writer

    def add_record(
        self, system: str, source_id: str, attributes: dict[str, Any], person: Person
    ) -> None:
        export = export_of(system, person)
        builder = _organisation if export == "crm_organisation" else BUILDERS[system]
        self._write(export, builder(source_id, attributes, person))

    def add_employee(self, person: Person) -> None:
        self._write("hr", employee_row(person))

    def _write(self, export: str, row: dict[str, Any]) -> None:
        self._writer(export).writerow({key: _cell(value) for key, value in row.items()})
        self.rows[export] += 1

    def files(self) -> Iterator[tuple[Path, str]]:
        """Each written export with the template that reads it, in import order."""
        for export in IMPORT_ORDER:
            if self.rows[export]:
                spec = EXPORTS[export]
                yield self.directory / spec.file_name, spec.template

    def close(self) -> None:
        self._stack.close()


@contextmanager
def export_writer(directory: Path) -> Iterator[ExportWriter]:
    writer = ExportWriter(directory)
    try:
        yield writer
    finally:
        writer.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
