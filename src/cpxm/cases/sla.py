"""Service levels in business hours, counted where the case is: Monday to Friday, 09:00-17:00 in
the local time of the case's country, stopping on that country's public holidays (``holidays``
package, shipped data, no download).

Times in and out are naive UTC, like the rest of the store. A country's business time zone is its
main zone in the tz database (``zone.tab``; for countries that span several, the zone of the
business capital, e.g. the US: New York, Australia: Sydney). A case with no country, or a country
the database does not know, counts in ``CPXM_BUSINESS_TIMEZONE`` (default UTC) with no holidays.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

DAY_START = time(9, 0)
DAY_END = time(17, 0)
HOURS_PER_DAY = 8
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

# Business hours to resolve, per case type and priority. Complaints and safety-adjacent cases are
# tighter because regulations and reputations are at stake; manual cases follow their priority.
SLA_HOURS: dict[str, dict[str, int]] = {
    "detractor": {"urgent": 4, "high": 8, "normal": 16, "low": 40},
    "low_score": {"urgent": 4, "high": 8, "normal": 24, "low": 40},
    "negative_feedback": {"urgent": 4, "high": 8, "normal": 24, "low": 40},
    "complaint": {"urgent": 4, "high": 8, "normal": 16, "low": 24},
    "medical_inquiry": {"urgent": 4, "high": 8, "normal": 16, "low": 24},
    "manual": {"urgent": 4, "high": 8, "normal": 24, "low": 40},
}
CASE_TYPES = tuple(SLA_HOURS)
PRIORITIES = ("low", "normal", "high", "urgent")


def sla_hours(case_type: str, priority: str) -> int:
    return SLA_HOURS.get(case_type, SLA_HOURS["manual"]).get(priority, 24)


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
    try:
        return frozenset(holidays.country_holidays(country, years=year).keys())
    except NotImplementedError:
        return frozenset()  # a country the package does not know: weekdays only


def is_business_day(day: date, country: str | None) -> bool:
    return day.weekday() < 5 and day not in _holidays(country, day.year)


def _to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    """Naive UTC -> naive wall-clock time in ``zone``."""
    return moment.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)


def _to_utc(wall_clock: datetime, zone: ZoneInfo) -> datetime:
    """Naive wall-clock time in ``zone`` -> naive UTC."""
    return wall_clock.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def add_business_hours(start: datetime, hours: float, country: str | None = None) -> datetime:
    """The moment ``hours`` business hours after ``start`` (which may fall outside them)."""
    zone = business_timezone(country)
    remaining = timedelta(hours=hours)
    # Business hours never span a daylight-saving change (they happen at night), so wall-clock
    # arithmetic within a day is elapsed time.
    moment = _to_local(start, zone)
    while True:
        day = moment.date()
        if not is_business_day(day, country):
            moment = datetime.combine(day + timedelta(days=1), DAY_START)
            continue
        opens = datetime.combine(day, DAY_START)
        closes = datetime.combine(day, DAY_END)
        if moment < opens:
            moment = opens
        if moment >= closes:
            moment = datetime.combine(day + timedelta(days=1), DAY_START)
            continue
        available = closes - moment
        if remaining <= available:
            return _to_utc(moment + remaining, zone)
        remaining -= available
        moment = datetime.combine(day + timedelta(days=1), DAY_START)


def business_hours_between(start: datetime, end: datetime, country: str | None = None) -> float:
    """Business hours from ``start`` to ``end`` (0 if end is not after start)."""
    if end <= start:
        return 0.0
    zone = business_timezone(country)
    start, end = _to_local(start, zone), _to_local(end, zone)
    total = timedelta()
    day = start.date()
    while day <= end.date():
        if is_business_day(day, country):
            opens = max(datetime.combine(day, DAY_START), start)
            closes = min(datetime.combine(day, DAY_END), end)
            if closes > opens:
                total += closes - opens
        day += timedelta(days=1)
    return total.total_seconds() / 3600
