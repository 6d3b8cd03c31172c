"""The one CSV writer for every file CPXM hands out: no cell runs as a spreadsheet formula.

Text from outside (a patient's comment, a call note, a survey answer, a source system's id) can
start with ``=``, ``+``, ``-`` or ``@``; a spreadsheet opening the export runs such a cell as a
formula (``=HYPERLINK(...)`` exfiltrates, ``=cmd|...`` once ran programs). Each such text cell is
written with a leading apostrophe, which spreadsheets show as text and drop from the value. Numbers
(and text that is a number, such as ``-3.5``) stay as they are. Every CSV the product writes (the
survey, analytics, case, safety and reconciliation exports, identity mappings, analysed files)
goes through :func:`writer` or :func:`csv_text`; ``tests/test_csvout.py`` fails when a module
writes CSV with the standard library's writer directly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from fastapi.responses import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell that cannot run: None is empty, formula-like text is quoted."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _is_number(value):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose every cell goes through :func:`safe_cell`."""

    def __init__(self, stream: TextIO, **options: Any) -> None:
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter:
    """``csv.DictWriter`` whose every cell goes through :func:`safe_cell`."""

    def __init__(self, stream: TextIO, fieldnames: Sequence[str], **options: Any) -> None:
        self._writer = csv.DictWriter(stream, fieldnames=fieldnames, **options)

    def writeheader(self) -> None:
        self._writer.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow({key: safe_cell(value) for key, value in row.items()})


def writer(stream: TextIO, **options: Any) -> SafeWriter:
    return SafeWriter(stream, **options)


def dict_writer(stream: TextIO, fieldnames: Sequence[str], **options: Any) -> SafeDictWriter:
    return SafeDictWriter(stream, fieldnames, **options)


def csv_text(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, float_format: str | None = None
) -> str:
    """A whole CSV file as text; ``float_format`` (e.g. ``.6g``) formats floats."""
    buffer = io.StringIO()
    out = writer(buffer, lineterminator="\n")
    out.writerow(header)
    for row in rows:
        out.writerow(
            [
                format(value, float_format) if float_format and isinstance(value, float) else value
                for value in row
            ]
        )
    return buffer.getvalue()


def csv_response(
    filename: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    float_format: str | None = None,
) -> Response:
    """A CSV download (``attachment``) of ``rows`` under ``header``."""
    from fastapi.responses import Response

    return Response(
        csv_text(header, rows, float_format=float_format),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


__all__ = ["csv_response", "csv_text", "dict_writer", "safe_cell", "writer"]
