"""The PV clock: one business day after first awareness, in the reporter's country.

Business days are Monday to Friday without the country's public holidays (the ``holidays``
package, which ships its calendars). Awareness on a weekend or holiday starts the clock at the
start of the next business day, and the case is due one business day after that.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _holidays(country_code: str, year: int) -> frozenset[date]:
    try:
        calendar = holidays.country_holidays(country_code, years=year)
    except NotImplementedError:
        return frozenset()  # a country the package does not know: weekends only
    return frozenset(calendar.keys())


def is_business_day(day: date, country_code: str | None) -> bool:
    if day.weekday() >= 5:
        return False
    if not country_code:
        return True
    return day not in _holidays(country_code.upper(), day.year)


def next_business_day(day: date, country_code: str | None) -> date:
    candidate = day + timedelta(days=1)
    while not is_business_day(candidate, country_code):
        candidate += timedelta(days=1)
    return candidate


def due_after_one_business_day(aware_at: datetime, country_code: str | None) -> datetime:
    """When a case that the company became aware of at ``aware_at`` must reach PV."""
    start = aware_at
    if not is_business_day(start.date(), country_code):
        start = datetime.combine(next_business_day(start.date(), country_code), time.min)
    due_day = next_business_day(start.date(), country_code)
    return datetime.combine(due_day, start.time())


def escalation_level(due_at: datetime, now: datetime, country_code: str | None) -> int:
    """0 before ``due_at``; 1 once overdue; one more for each further business day overdue."""
    if now <= due_at:
        return 0
    level = 1
    cursor = due_at.date()
    while cursor < now.date():
        cursor += timedelta(days=1)
        if is_business_day(cursor, country_code) and datetime.combine(cursor, due_at.time()) <= now:
            level += 1
    return level
