"""PV's clocks, counted in the reporter's local time on the one business calendar.

- **Forward to PV**: one business day after first awareness, in the reporter's country (its
  time zone and public holidays, from ``cpxm.business_calendar``, the calendar cases use too).
  Awareness on a weekend or holiday *there* starts the clock at the start of the next business
  day, and the case is due one business day after that. A US report on the Wednesday evening
  before Thanksgiving is due on the Friday evening; a report made at 08:30 on a Saturday in
  Japan (Friday 23:30 UTC) counts as Saturday.
- **Hand-off to the safety database**: calendar days from awareness (day 0), due at the end of
  the last day in the reporter's local time: 7 for fatal or life-threatening cases, 15 for
  other serious ones (ICH E2A), and ``CPXM_PV_NONSERIOUS_HANDOFF_DAYS`` (default 30, a house
  rule rather than a regulation) for the rest.

Times in and out are naive UTC, like the rest of the store.
"""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta

from cpxm.business_calendar import (
    business_timezone,
    is_business_day,
    next_business_day,
    to_local,
    to_utc,
)

FATAL_OR_LIFE_THREATENING_DAYS = 7
SERIOUS_DAYS = 15
NONSERIOUS_DAYS_ENV = "CPXM_PV_NONSERIOUS_HANDOFF_DAYS"
DEFAULT_NONSERIOUS_DAYS = 30
_END_OF_DAY = time(23, 59, 59)

__all__ = ["is_business_day", "next_business_day"]


def due_after_one_business_day(aware_at: datetime, country_code: str | None) -> datetime:
    """When a case that the company became aware of at ``aware_at`` must reach PV."""
    zone = business_timezone(country_code)
    start = to_local(aware_at, zone)
    if not is_business_day(start.date(), country_code):
        start = datetime.combine(next_business_day(start.date(), country_code), time.min)
    due_day = next_business_day(start.date(), country_code)
    return to_utc(datetime.combine(due_day, start.time()), zone)


def handoff_days(seriousness_level: int) -> int:
    """Calendar days to hand a case to the safety database: 7, 15, or the house rule."""
    if seriousness_level >= 2:
        return FATAL_OR_LIFE_THREATENING_DAYS
    if seriousness_level == 1:
        return SERIOUS_DAYS
    configured = os.environ.get(NONSERIOUS_DAYS_ENV, "").strip()
    return (
        int(configured)
        if configured.isdigit() and int(configured) > 0
        else (DEFAULT_NONSERIOUS_DAYS)
    )


def handoff_due(aware_at: datetime, seriousness_level: int, country_code: str | None) -> datetime:
    """The end of the last calendar day to hand the case over, in the reporter's local time."""
    zone = business_timezone(country_code)
    day_zero = to_local(aware_at, zone).date()
    last_day = day_zero + timedelta(days=handoff_days(seriousness_level))
    return to_utc(datetime.combine(last_day, _END_OF_DAY), zone)


def escalation_level(due_at: datetime, now: datetime, country_code: str | None) -> int:
    """0 before ``due_at``; 1 once overdue; one more for each further business day overdue."""
    if now <= due_at:
        return 0
    zone = business_timezone(country_code)
    due_local, now_local = to_local(due_at, zone), to_local(now, zone)
    level = 1
    cursor = due_local.date()
    while cursor < now_local.date():
        cursor += timedelta(days=1)
        if (
            is_business_day(cursor, country_code)
            and datetime.combine(cursor, due_local.time()) <= now_local
        ):
            level += 1
    return level
