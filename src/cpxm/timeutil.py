"""Times in the store are naive UTC; these helpers bring client-supplied times into that form, and
``UtcDateTime`` writes them back out to JSON with their offset (RFC 3339 ``date-time``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def to_naive_utc(moment: datetime) -> datetime:
    """An aware time converted to UTC; a naive time is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def as_aware_utc(moment: datetime) -> datetime:
    """A naive time from the store marked as the UTC it is; an aware time converted to UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# The type of every datetime an API schema returns: the value stays what the store holds in
# Python, and its JSON carries the offset ("2026-11-23T15:48:43Z"), on SQLite and PostgreSQL alike.
UtcDateTime = Annotated[
    datetime, PlainSerializer(as_aware_utc, return_type=datetime, when_used="json")
]
