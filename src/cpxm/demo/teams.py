"""The teams the demo's employees work in, and the enablement each team has.

Customers are served by teams: field-force territories, MSL teams, call-centre teams, site
management. An employee's team follows from their department and country (and, for the large US
field force, a territory), so every interaction an employee made belongs to their team.

Planted effect (7): teams differ in their tools. Each team's employees rate "I have the tools I
need" around the pulse mean plus the team's offset, and the customers that team serves rate
their after-contact CSAT lower by :data:`TOOLS_CSAT_PER_POINT` per point the team's tools lack
(added to the latent score before rounding and clipping). ``cpxm.analytics.ex`` should find it.
"""

from __future__ import annotations

import zlib

from cpxm.demo.people import Person
from cpxm.demo.taxonomy import COUNTRIES

# (name, department, country code or None): the work teams, in the order they are numbered.
WORK_TEAMS: tuple[tuple[str, str, str | None], ...] = (
    ("Field force US East", "field_sales", "US"),
    ("Field force US West", "field_sales", "US"),
    ("Field force Germany", "field_sales", "DE"),
    ("Field force France", "field_sales", "FR"),
    ("Field force United Kingdom", "field_sales", "GB"),
    ("Field force Spain", "field_sales", "ES"),
    ("Field force Japan", "field_sales", "JP"),
    ("MSL team Americas", "medical_affairs", "US"),
    ("MSL team Europe", "medical_affairs", None),
    ("MSL team Japan", "medical_affairs", "JP"),
    ("Call centre Americas", "customer_service", "US"),
    ("Call centre Europe & Japan", "customer_service", None),
    ("Site management Americas", "clinical_operations", "US"),
    ("Site management Europe", "clinical_operations", None),
    ("Site management Japan", "clinical_operations", "JP"),
    ("Patient support US", "patient_services", "US"),
    ("Patient support Europe & Japan", "patient_services", None),
    ("Medical information desk", "medical_information", None),
    ("Brand team", "marketing", None),
    ("Market access team", "market_access", None),
    ("Drug safety team", "pharmacovigilance", None),
)
TOOLS_CSAT_PER_POINT = 0.6  # CSAT points (1-5) per point (1-5) of the team's tools offset
TOOLS_OFFSET_RANGE = (-1.2, 0.6)  # how far a team's tools sit from the pulse mean


def work_team(person: Person) -> str:
    """The team an employee works in: by department and country (US field force: territory)."""
    department = person.department or ""
    country = COUNTRIES[person.country].code
    candidates = [t for t in WORK_TEAMS if t[1] == department]
    if department == "field_sales" and country == "US":
        return WORK_TEAMS[person.id % 2][0]
    for name, _department, team_country in candidates:
        if team_country == country:
            return name
    for name, _department, team_country in candidates:
        if team_country is None:
            return name
    return candidates[0][0]


def tools_offset(team: str) -> float:
    """The team's tools offset, fixed by its name (the same on every run and scale)."""
    low, high = TOOLS_OFFSET_RANGE
    spread = (zlib.crc32(team.encode()) % 1000) / 999
    return round(low + (high - low) * spread, 3)
