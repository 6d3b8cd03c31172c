"""One business calendar for every clock in CPXM: cases' service levels and PV's safety clocks.

A date is a business day in a country when it is Monday to Friday and not one of the country's
public holidays (the ``holidays`` package, shipped data, no download). Days are counted in the
country's local time: its main zone in the tz database (``zone.tab``; for countries that span
several, the zone of the business capital, e.g. the US: New York, Australia: Sydney). With no
country, or one the database does not know, the zone is ``CPXM_BUSINESS_TIMEZONE`` (default
UTC) and there are no holidays.

Times in and out of the store are naive UTC; :func:`to_local` and :func:`to_utc` cross over.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "UTC"
# zone.tab lists a country's zones from east to west or by history, not by where business is done.
MAIN_ZONE = {
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "RU": "Europe/Moscow",
    "UA": "Europe/Kyiv",
    "UZ": "Asia/Tashkent",
}


def _zone_table() -> str:
    try:
        return (files("tzdata.zoneinfo") / "zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        for folder in ("/usr/share/zoneinfo", "/usr/lib/zoneinfo", "/etc/zoneinfo"):
            table = Path(folder) / "zone.tab"
            if table.exists():
                return table.read_text(encoding="utf-8")
    return ""


@cache
def _country_zones() -> dict[str, str]:
    zones: dict[str, str] = {}
    for line in _zone_table().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        country, _coordinates, zone = line.split("\t")[:3]
        zones.setdefault(country, zone)
    return zones | MAIN_ZONE


@cache
def business_timezone(country: str | None) -> ZoneInfo:
    """The time zone whose 09:00-17:00 counts for a case in ``country``."""
    name = _country_zones().get(country.upper()) if country else None
    try:
        return ZoneInfo(name or os.environ.get("CPXM_BUSINESS_TIMEZONE") or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


@cache
def _holidays(country: str | None, year: int) -> frozenset[date]:
    if not country:
        return frozenset()
    # Imported on first use: the package loads every country's calendar (half a second), which
    # a command that only lists cases by their stored due dates should not pay.
    import holidays

    try:
        return frozenset(holidays.country_holidays(country.upper(), years=year).keys())
    except NotImplementedError:
        return frozenset()  # a country the package does not know: weekdays only


def is_business_day(day: date, country: str | None) -> bool:
    return day.weekday() < 5 and day not in _holidays(country, day.year)


def to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    """Naive UTC -> naive wall-clock time in ``zone``."""
    return moment.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)


def to_utc(wall_clock: datetime, zone: ZoneInfo) -> datetime:
    """Naive wall-clock time in ``zone`` -> naive UTC."""
    return wall_clock.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def next_business_day(day: date, country: str | None) -> date:
    """The first business day after ``day``."""
    candidate = day + timedelta(days=1)
    while not is_business_day(candidate, country):
        candidate += timedelta(days=1)
    return candidate
