"""Service levels in business hours: the clock runs Monday to Friday, 09:00-17:00, and stops on the
public holidays of the case's country (``holidays`` package, shipped data, no download).

Times are naive UTC, like the rest of the store; business hours are counted in UTC as well, which
is exact for teams in UTC and an hour or two off for the rest of Europe: document it, not hide it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache

import holidays

DAY_START = time(9, 0)
DAY_END = time(17, 0)
HOURS_PER_DAY = 8

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


def add_business_hours(start: datetime, hours: float, country: str | None = None) -> datetime:
    """The moment ``hours`` business hours after ``start`` (which may fall outside them)."""
    remaining = timedelta(hours=hours)
    moment = start
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
            return moment + remaining
        remaining -= available
        moment = datetime.combine(day + timedelta(days=1), DAY_START)


def business_hours_between(start: datetime, end: datetime, country: str | None = None) -> float:
    """Business hours from ``start`` to ``end`` (0 if end is not after start)."""
    if end <= start:
        return 0.0
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
