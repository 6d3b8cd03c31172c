"""A mapping's ``date_format``, compiled once and read a value or a whole column at a time.

strptime costs tens of microseconds a call, a million times an import; a format made only of
number codes (``%d.%m.%Y %H:%M``) and literal text is read here instead, by one regular
expression compiled from one reading of the format: Python's ``re`` for a single value (the row
path), pyarrow's RE2 over a column. Either gives what strptime gives, or None where it cannot
tell, and the caller then asks strptime (``rows``), whose answer and error message stand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

# The strptime codes that are plain numbers: the part of a datetime each gives, and its digits.
_CODES = {
    "d": ("day", r"\d{1,2}"),
    "m": ("month", r"\d{1,2}"),
    "Y": ("year", r"\d{4}"),
    "y": ("year2", r"\d{2}"),
    "H": ("hour", r"\d{1,2}"),
    "M": ("minute", r"\d{1,2}"),
    "S": ("second", r"\d{1,2}"),
    "f": ("fraction", r"\d{1,6}"),
}
_SPACE = None  # a token standing for whitespace: strptime lets one space match any run of it
_DEFAULTS = {"month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0}


@dataclass(frozen=True)
class DateFormat:
    """A number-only strptime format: its tokens (a part's name, a literal character, or
    ``_SPACE``) and the parts it has."""

    tokens: tuple[tuple[str, str] | None, ...]
    parts: tuple[str, ...]

    @classmethod
    def compile(cls, date_format: str) -> DateFormat | None:
        """The format read once; None when it has codes only strptime reads (``%b``, ``%z``)."""
        tokens: list[tuple[str, str] | None] = []
        parts: list[str] = []
        index = 0
        while index < len(date_format):
            char = date_format[index]
            if char == "%":
                code = date_format[index + 1 : index + 2]
                if code == "%":
                    tokens.append(("literal", "%"))
                elif code in _CODES and _CODES[code][0] not in parts:
                    parts.append(_CODES[code][0])
                    tokens.append(("part", code))
                else:
                    return None
                index += 2
                continue
            tokens.append(_SPACE if char.isspace() else ("literal", char))
            index += 1
        if "year" not in parts and "year2" not in parts:
            return None
        return cls(tuple(tokens), tuple(parts))

    def _pattern(self, space: str, literal: Any) -> str:
        pieces = []
        for token in self.tokens:
            if token is _SPACE:
                pieces.append(space)
            elif token[0] == "part":
                name, digits = _CODES[token[1]]
                pieces.append(f"(?P<{name}>{digits})")
            else:
                pieces.append(literal(token[1]))
        return "".join(pieces)

    @cached_property
    def _compiled(self) -> re.Pattern[str]:
        return re.compile(self._pattern(r"\s+", re.escape))

    @cached_property
    def _positions(self) -> tuple[int, ...]:
        # Each part's group number (0: absent), looked up by position: groupdict() and named
        # lookups cost more than the match itself at a million rows.
        groups = self._compiled.groupindex
        names = ("year", "year2", "fraction", "month", "day", "hour", "minute", "second")
        return tuple(groups.get(name, 0) for name in names)

    def parse(self, text: str) -> datetime | None:
        """``text`` as strptime reads it with this format, or None (then ask strptime)."""
        match = self._compiled.fullmatch(text)
        if match is None:
            return None
        groups = ("", *match.groups(""))  # every group takes part in a full match
        year, year2, fraction, *rest = self._positions
        if year:
            full_year = int(groups[year])
        else:
            short = int(groups[year2])
            full_year = short + (1900 if short >= 69 else 2000)  # strptime's pivot
        month, day, hour, minute, second = [
            int(groups[at]) if at else default
            for at, default in zip(rest, _DEFAULTS.values(), strict=True)
        ]
        micros = int(groups[fraction].ljust(6, "0")) if fraction else 0
        try:
            return datetime(full_year, month, day, hour, minute, second, micros)
        except ValueError:
            return None

    @cached_property
    def _column_pattern(self) -> str:
        # RE2 syntax. ASCII whitespace only: a value with other spaces goes the row path.
        def literal(char: str) -> str:
            return char if char.isascii() and char.isalnum() else r"\x{" + f"{ord(char):x}" + "}"

        return "^" + self._pattern(r"[ \t\n\r\f\v]+", literal) + "$"

    def parse_column(self, texts: Any) -> tuple[Any, Any]:
        """A column of text as timestamps, and per value whether it was read (null where
        ``parse`` might answer otherwise; those values go the row path)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        found = pc.extract_regex(texts, self._column_pattern)
        matched = pc.is_valid(found).to_numpy(zero_copy_only=False)
        count = len(texts)

        def part(name: str, default: int) -> Any:
            if name not in self.parts:
                return np.full(count, default, dtype=np.int64)
            values = pc.cast(pc.if_else(pc.is_valid(found), found.field(name), "0"), pa.int64())
            return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)

        if "year" in self.parts:
            year = part("year", 1900)
        else:
            short = part("year2", 0)
            year = short + np.where(short >= 69, 1900, 2000)  # strptime's pivot
        month, day = part("month", 1), part("day", 1)
        hour, minute, second = part("hour", 0), part("minute", 0), part("second", 0)
        if "fraction" in self.parts:
            digits = pc.if_else(pc.is_valid(found), found.field("fraction"), "0")
            scale = np.power(10, 6 - pc.utf8_length(digits).to_numpy(zero_copy_only=False))
            micros = part("fraction", 0) * scale
        else:
            micros = np.zeros(count, dtype=np.int64)
        month_ok = (month >= 1) & (month <= 12)
        year_ok = (year >= 1) & (year <= 9999)
        starts = (np.where(year_ok, year, 1970) - 1970).astype("datetime64[Y]").astype(
            "datetime64[M]"
        ) + (np.where(month_ok, month, 1) - 1).astype("timedelta64[M]")
        days_in_month = (starts + np.timedelta64(1, "M")).astype("datetime64[D]") - starts.astype(
            "datetime64[D]"
        )
        valid = (
            matched
            & year_ok
            & month_ok
            & (day >= 1)
            & (day <= days_in_month.astype(np.int64))
            & (hour <= 23)
            & (minute <= 59)
            & (second <= 59)
        )
        stamps = (
            starts.astype("datetime64[D]").astype("datetime64[us]")
            + (np.where(valid, day, 1) - 1).astype("timedelta64[D]")
            + np.where(valid, hour, 0).astype("timedelta64[h]")
            + np.where(valid, minute, 0).astype("timedelta64[m]")
            + np.where(valid, second, 0).astype("timedelta64[s]")
            + np.where(valid, micros, 0).astype("timedelta64[us]")
        )
        return pa.array(stamps, pa.timestamp("us"), mask=~valid), pa.array(valid, pa.bool_())
