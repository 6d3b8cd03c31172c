"""Service levels in business hours, counted where the case is: Monday to Friday, 09:00-17:00 in
the local time of the case's country, stopping on that country's public holidays (the calendar
of ``cpxm.business_calendar``, which PV's safety clocks share).

Times in and out are naive UTC, like the rest of the store. A country's business time zone is its
main zone in the tz database (``zone.tab``; for countries that span several, the zone of the
business capital, e.g. the US: New York, Australia: Sydney). A case with no country, or a country
the database does not know, counts in ``CPXM_BUSINESS_TIMEZONE`` (default UTC) with no holidays.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from cpxm.business_calendar import (
    MAIN_ZONE,
    business_timezone,
    is_business_day,
    to_local,
    to_utc,
)

__all__ = ["MAIN_ZONE", "business_timezone", "is_business_day"]

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
    # A person at risk (cpxm.predict): reach them within a week of business days.
    "proactive_outreach": {"urgent": 8, "high": 16, "normal": 40, "low": 80},
}
CASE_TYPES = tuple(SLA_HOURS)
PRIORITIES = ("low", "normal", "high", "urgent")


def sla_hours(case_type: str, priority: str) -> int:
    return SLA_HOURS.get(case_type, SLA_HOURS["manual"]).get(priority, 24)


def add_business_hours(start: datetime, hours: float, country: str | None = None) -> datetime:
    """The moment ``hours`` business hours after ``start`` (which may fall outside them)."""
    zone = business_timezone(country)
    remaining = timedelta(hours=hours)
    # Business hours never span a daylight-saving change (they happen at night), so wall-clock
    # arithmetic within a day is elapsed time.
    moment = to_local(start, zone)
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
            return to_utc(moment + remaining, zone)
        remaining -= available
        moment = datetime.combine(day + timedelta(days=1), DAY_START)


def business_hours_between(start: datetime, end: datetime, country: str | None = None) -> float:
    """Business hours from ``start`` to ``end`` (0 if end is not after start)."""
    if end <= start:
        return 0.0
    zone = business_timezone(country)
    start, end = to_local(start, zone), to_local(end, zone)
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
