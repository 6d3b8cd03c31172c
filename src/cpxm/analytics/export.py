"""CSV downloads of the tables the analytics pages show (through the one safe CSV writer)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi.responses import Response

from cpxm import csvout


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    # Figures to six significant digits: a CSV of a chart, not of the floats behind it.
    return csvout.csv_text(header, rows, float_format=".6g")


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    return csvout.csv_response(filename, header, rows, float_format=".6g")
