"""The stakeholders of the demo: organisations, HCPs, patients, sites and the company's employees.

Names and addresses come from Faker pools built once per locale with a fixed seed and then drawn
with numpy, which is both deterministic and a hundred times faster than calling Faker per person.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from faker import Faker

from cpxm.demo.taxonomy import (
    COMPANY_EMAIL_DOMAIN,
    COUNTRIES,
    DEPARTMENT_CODES,
    HISTORY_START,
    PRODUCTS,
    REFERENCE_DATE,
    THERAPEUTIC_AREAS,
)

TA_CODES = tuple(code for code, _ in THERAPEUTIC_AREAS)
COUNTRY_WEIGHTS = np.array([c.weight for c in COUNTRIES]) / sum(c.weight for c in COUNTRIES)

# Counts at scale 1 (issue 2); organisations are split across their types.
BASE_COUNTS = {
    "hcp": 3000,
    "patient": 1500,
    "caregiver": 600,
    "clinical_site": 60,
    "employee": 300,
}
ORGANISATION_MIX = {
    "hospital": 80,
    "pharmacy": 70,
    "wholesaler": 10,
    "payer": 20,
    "patient_organisation": 8,
    "cro": 4,
    "elderly_home": 8,
}
# Smallest counts, so a tiny scale still has every kind of stakeholder the generators need.
MINIMUM_COUNTS = {"hcp": 20, "patient": 10, "caregiver": 4, "clinical_site": 2, "employee": 27}

SPECIALTIES = {
    "oncology": ("Medical oncology", "Haematology", "Oncology nursing"),
    "immunology": ("Rheumatology", "Dermatology", "Gastroenterology"),
    "cardiometabolic": ("Cardiology", "Endocrinology", "General practice"),
}
NON_PHYSICIAN_SPECIALTIES = ("Oncology nursing", "Hospital pharmacy")
JOB_TITLES = {
    "field_sales": "Key account manager",
    "medical_affairs": "Medical science liaison",
    "medical_information": "Medical information specialist",
    "marketing": "Brand manager",
    "patient_services": "Patient support nurse",
    "clinical_operations": "Clinical research associate",
    "market_access": "Market access manager",
    "pharmacovigilance": "Drug safety associate",
    "customer_service": "Customer service agent",
}
EMPLOYEE_DEPARTMENT_SHARE = (0.35, 0.12, 0.06, 0.08, 0.12, 0.12, 0.05, 0.04, 0.06)
ORGANISATION_NAME_PATTERNS = {
    "hospital": ("{city} University Hospital", "St. {last} Hospital", "{city} General Hospital"),
    "pharmacy": ("{last} Pharmacy", "{city} Central Pharmacy", "Pharmacy {last}"),
    "wholesaler": ("{last} Pharma Distribution", "{city} Medical Supplies"),
    "payer": ("{city} Health Fund", "{last} Health Insurance"),
    "patient_organisation": ("{city} Patient Alliance", "Living with Arthritis {city}"),
    "cro": ("{last} Clinical Research", "{city} Trials Group"),
    "elderly_home": ("{last} Care Home", "{city} Senior Residence"),
    "clinical_site": ("{city} Clinical Research Centre", "{last} Institute for Clinical Trials"),
}


def strip_accents(text: str) -> str:
    """'Müller' -> 'Muller': what systems without Unicode support keep of a name."""
    normalised = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in normalised if not unicodedata.combining(ch))


def slug(text: str) -> str:
    return "".join(ch for ch in strip_accents(text).lower() if ch.isascii() and ch.isalnum())


@dataclass
class NamePool:
    female: list[str]
    male: list[str]
    last: list[str]
    cities: list[tuple[str, str]]  # (city, postal code)
    streets: list[str]


def build_name_pools(seed: int) -> list[NamePool]:
    """One pool per country, in COUNTRIES order."""
    pools = []
    for index, country in enumerate(COUNTRIES):
        fake = Faker(country.faker_locale)
        fake.seed_instance(seed * 100 + index)
        if country.code == "JP":
            female = {fake.first_romanized_name_female() for _ in range(300)}
            male = {fake.first_romanized_name_male() for _ in range(300)}
            last = {fake.last_romanized_name() for _ in range(500)}
        else:
            female = {fake.first_name_female() for _ in range(300)}
            male = {fake.first_name_male() for _ in range(300)}
            last = {fake.last_name() for _ in range(600)}
        cities = [(fake.city(), fake.postcode()) for _ in range(120)]
        streets = [fake.street_address().replace("\n", ", ") for _ in range(300)]
        pools.append(NamePool(sorted(female), sorted(male), sorted(last), cities, streets))
    return pools


@dataclass
class Person:
    """A stakeholder with the latent facts the activity and survey generators need."""

    id: int
    kind: str
    type: str
    country: int  # index into COUNTRIES
    display_name: str
    first_name: str | None = None
    last_name: str | None = None
    gender: str | None = None
    specialty: str | None = None
    professional_id: str | None = None
    email: str | None = None
    phone: str | None = None
    address_line: str | None = None
    postal_code: str | None = None
    city: str | None = None
    birth_date: date | None = None
    created_at: datetime = REFERENCE_DATE
    interests: tuple[str, ...] = ()
    product: str | None = None  # the therapy a patient is on
    organisation_id: int | None = None
    department: str | None = None  # employees only
    engagement: float = 1.0  # multiplies the stakeholder's interaction rate
    survey_withdrawn_at: datetime | None = None
    related_person_id: int | None = None  # a caregiver's patient
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def country_code(self) -> str:
        return COUNTRIES[self.country].code

    @property
    def language(self) -> str:
        return COUNTRIES[self.country].language


def scaled(count: int, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(count * scale))


def _phone(rng: np.random.Generator, country_code: str) -> str:
    digits = "".join(str(d) for d in rng.integers(0, 10, size=9))
    if country_code == "US":
        # 555-01xx numbers are reserved for fiction, so no real line is ever printed.
        return f"({201 + int(rng.integers(0, 700))}) 555-01{digits[:2]}"
    formats = {
        "DE": f"+49 {digits[:2]} {digits[2:9]}",
        "FR": f"+33 {digits[0] or 1} {digits[1:3]} {digits[3:5]} {digits[5:7]} {digits[7:9]}",
        "GB": f"+44 20 7946 0{digits[:3]}",
        "ES": f"+34 9{digits[:2]} {digits[2:5]} {digits[5:8]}",
        "JP": f"+81 3-{digits[:4]}-{digits[4:8]}",
    }
    return formats[country_code]


def _professional_id(rng: np.random.Generator, country_code: str) -> str:
    lengths = {"US": 10, "GB": 7, "FR": 11, "DE": 9, "ES": 9, "JP": 6}
    digits = "".join(str(d) for d in rng.integers(0, 10, size=lengths[country_code]))
    return "1" + digits[1:] if country_code == "US" else digits


class PeopleFactory:
    """Draws people country by country from the name pools, with a single seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng([seed, 1])
        self.pools = build_name_pools(seed)
        self.next_id = 1
        self.people: list[Person] = []
        self.by_id: dict[int, Person] = {}
        self.emails: set[str] = set()  # work addresses given out, each to one person

    def _pick(self, items: list[Any]) -> Any:
        return items[int(self.rng.integers(0, len(items)))]

    def _country(self) -> int:
        return int(self.rng.choice(len(COUNTRIES), p=COUNTRY_WEIGHTS))

    def _add(self, person: Person) -> Person:
        self.people.append(person)
        self.by_id[person.id] = person
        return person

    def organisation(self, type_: str, country: int | None = None) -> Person:
        country = self._country() if country is None else country
        pool = self.pools[country]
        city, postcode = self._pick(pool.cities)
        pattern = self._pick(list(ORGANISATION_NAME_PATTERNS[type_]))
        name = pattern.format(city=city, last=self._pick(pool.last))
        person = Person(
            id=self.next_id,
            kind="organisation",
            type=type_,
            country=country,
            display_name=name,
            email=f"contact@{slug(name)[:30]}.example.org",
            phone=_phone(self.rng, COUNTRIES[country].code),
            address_line=self._pick(pool.streets),
            postal_code=postcode,
            city=city,
            created_at=self._created_at(),
            interests=self._interests(2),
        )
        self.next_id += 1
        return self._add(person)

    def person(
        self, type_: str, country: int | None = None, last_name: str | None = None
    ) -> Person:
        country = self._country() if country is None else country
        pool = self.pools[country]
        gender = "female" if self.rng.random() < 0.52 else "male"
        first = self._pick(pool.female if gender == "female" else pool.male)
        last = last_name or self._pick(pool.last)
        city, postcode = self._pick(pool.cities)
        code = COUNTRIES[country].code
        person = Person(
            id=self.next_id,
            kind="person",
            type=type_,
            country=country,
            display_name=f"{first} {last}",
            first_name=first,
            last_name=last,
            gender=gender,
            phone=_phone(self.rng, code),
            address_line=self._pick(pool.streets),
            postal_code=postcode,
            city=city,
            created_at=self._created_at(),
            engagement=float(self.rng.lognormal(0.0, 0.45)),
        )
        self.next_id += 1
        return self._add(person)

    def _created_at(self) -> datetime:
        days = float(self.rng.uniform(30, 1500))
        return (HISTORY_START - timedelta(days=days)).replace(microsecond=0)

    def _interests(self, most: int) -> tuple[str, ...]:
        count = int(self.rng.integers(1, most + 1))
        chosen = self.rng.choice(len(TA_CODES), size=count, replace=False)
        return tuple(TA_CODES[int(i)] for i in sorted(chosen))

    def birth_date(self, youngest: int, oldest: int) -> date:
        age_days = int(self.rng.integers(youngest * 365, oldest * 365))
        return (REFERENCE_DATE - timedelta(days=age_days)).date()


def build_people(seed: int, scale: float) -> list[Person]:
    """Every stakeholder, ids in a fixed order: organisations, employees, then people by type."""
    factory = PeopleFactory(seed)
    rng = factory.rng
    organisations: dict[str, list[Person]] = {}
    for type_, count in ORGANISATION_MIX.items():
        organisations[type_] = [factory.organisation(type_) for _ in range(scaled(count, scale))]
    sites = [
        factory.organisation("clinical_site")
        for _ in range(scaled(BASE_COUNTS["clinical_site"], scale, MINIMUM_COUNTS["clinical_site"]))
    ]

    employee_count = scaled(BASE_COUNTS["employee"], scale, MINIMUM_COUNTS["employee"])
    for index in range(employee_count):
        # The first ones cover every department, so each has someone to make its contacts.
        department_index = (
            index
            if index < len(DEPARTMENT_CODES) * 3
            else int(rng.choice(len(DEPARTMENT_CODES), p=EMPLOYEE_DEPARTMENT_SHARE))
        ) % len(DEPARTMENT_CODES)
        employee = factory.person("employee")
        employee.department = DEPARTMENT_CODES[department_index]
        employee.specialty = JOB_TITLES[employee.department]
        employee.email = (
            f"{slug(employee.first_name or '')}.{slug(employee.last_name or '')}"
            f"@{COMPANY_EMAIL_DOMAIN}"
        )

    hospitals = organisations["hospital"] + organisations["pharmacy"]
    for _ in range(scaled(BASE_COUNTS["hcp"], scale, MINIMUM_COUNTS["hcp"])):
        hcp = factory.person("hcp")
        area = TA_CODES[int(rng.integers(0, len(TA_CODES)))]
        hcp.specialty = (
            "Hospital pharmacy" if rng.random() < 0.08 else factory._pick(list(SPECIALTIES[area]))
        )
        extra_area = TA_CODES[int(rng.integers(0, len(TA_CODES)))] if rng.random() < 0.3 else area
        hcp.interests = tuple(sorted({area, extra_area}))
        hcp.professional_id = _professional_id(rng, hcp.country_code)
        if hcp.specialty not in NON_PHYSICIAN_SPECIALTIES:
            hcp.display_name = f"Dr. {hcp.first_name} {hcp.last_name}"
        same_country = [org for org in hospitals if org.country == hcp.country] or hospitals
        if rng.random() < 0.75:
            hcp.organisation_id = factory._pick(same_country).id
        hcp.email = _work_email(factory, hcp)

    for site in sites:
        staff_count = 1 + int(rng.integers(0, 3))
        for role_index in range(1 + int(rng.integers(1, 3)) + staff_count):
            type_ = "investigator" if role_index < 2 else "site_staff"
            member = factory.person(type_, country=site.country)
            member.organisation_id = site.id
            member.interests = site.interests[:1]
            if type_ == "investigator":
                member.display_name = f"Dr. {member.first_name} {member.last_name}"
                member.specialty = factory._pick(list(SPECIALTIES[member.interests[0]]))
                member.professional_id = _professional_id(rng, member.country_code)
            else:
                member.specialty = "Study coordinator" if rng.random() < 0.6 else "Research nurse"
            member.email = _work_email(factory, member)

    commercial = [product for product in PRODUCTS if product.phase == "commercial"]
    patients = []
    for _ in range(scaled(BASE_COUNTS["patient"], scale, MINIMUM_COUNTS["patient"])):
        patient = factory.person("patient")
        product = factory._pick(commercial)
        patient.product = product.code
        patient.interests = (product.therapeutic_area,)
        patient.birth_date = factory.birth_date(22, 88)
        patient.extra["psp_enrolled"] = bool(rng.random() < 0.75)
        if rng.random() < 0.7:
            patient.email = _private_email(factory, patient)
        patients.append(patient)

    for _ in range(scaled(BASE_COUNTS["caregiver"], scale, MINIMUM_COUNTS["caregiver"])):
        patient = factory._pick(patients)
        same_family = rng.random() < 0.6
        caregiver = factory.person(
            "caregiver",
            country=patient.country,
            last_name=patient.last_name if same_family else None,
        )
        caregiver.related_person_id = patient.id
        caregiver.product = patient.product
        caregiver.interests = patient.interests
        caregiver.birth_date = factory.birth_date(25, 80)
        caregiver.extra["relation"] = factory._pick(
            ["daughter", "son", "spouse", "parent", "friend"]
        )
        if same_family:
            caregiver.address_line = patient.address_line
            caregiver.city, caregiver.postal_code = patient.city, patient.postal_code
        if rng.random() < 0.6:
            caregiver.email = _private_email(factory, caregiver)

    _assign_survey_withdrawals(factory)
    return factory.people


def _work_email(factory: PeopleFactory, person: Person) -> str | None:
    """first.last at the employer's domain (a practice's when there is none).

    A mail server gives every mailbox its own address: a second Kumiko Ota at one domain
    becomes kumiko.ota2, as real mail systems do.
    """
    if factory.rng.random() < 0.12:
        return None
    local = f"{slug(person.first_name or '')}.{slug(person.last_name or '')}"
    employer = factory.by_id.get(person.organisation_id or -1)
    if employer is not None:
        domain = f"{slug(employer.display_name)[:30]}.example.org"
    else:
        domain = f"{slug(person.city or '')[:16] or 'clinic'}-health.example.org"
    address = f"{local}@{domain}"
    number = 1
    while address in factory.emails:
        number += 1
        address = f"{local}{number}@{domain}"
    factory.emails.add(address)
    return address


def _private_email(factory: PeopleFactory, person: Person) -> str:
    first, last = slug(person.first_name or ""), slug(person.last_name or "")
    number = int(factory.rng.integers(1, 99))
    local = factory._pick([f"{first}.{last}", f"{first[0]}{last}{number}", f"{last}.{first}"])
    return f"{local}@{factory._pick(['example.com', 'example.net', 'mail.example.org'])}"


def _assign_survey_withdrawals(factory: PeopleFactory) -> None:
    """About 7% of people withdraw survey consent at some point in the history."""
    for person in factory.people:
        if person.kind == "person" and person.type != "employee" and factory.rng.random() < 0.07:
            days = float(factory.rng.uniform(30, 540))
            person.survey_withdrawn_at = (HISTORY_START + timedelta(days=days)).replace(
                microsecond=0
            )
