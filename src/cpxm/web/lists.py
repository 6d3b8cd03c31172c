"""What every list page shares: its search, sort and page in the query string, and a CSV of
exactly what it filters.

A list page and its ``export.csv`` take the same query string through the same dependency, so
the file holds every row the page would page through and nothing else. The page's controls
(``_list_tools.html``) and the pager (``_pager.html``) read the same :class:`ListParams`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query
from fastapi.responses import Response

from cpxm.csvout import csv_response
from cpxm.errors import DomainError

RowT = TypeVar("RowT")

PAGE_SIZE = 50
CSV_LIMIT = 100_000  # a list's CSV holds what is filtered, up to this many rows


class ListParameterError(DomainError):
    status_code = 400


@dataclass(frozen=True)
class ListParams:
    """A list's search text, sort and first row, checked."""

    q: str | None
    sort: str
    offset: int
    page_size: int = PAGE_SIZE


def list_params(sorts: Sequence[tuple[str, str]], *, default: str) -> Any:
    """A dependency reading ``q``, ``sort`` (one of ``sorts``' keys) and ``offset``."""
    keys = [key for key, _label in sorts]
    if default not in keys:
        raise ValueError(f"default sort '{default}' is not one of {keys}")

    def read(
        q: Annotated[str | None, Query(max_length=200)] = None,
        sort: Annotated[str, Query(max_length=40)] = "",
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> ListParams:
        if sort and sort not in keys:
            raise ListParameterError(f"sort is '{sort}', expected one of {', '.join(keys)}")
        return ListParams(q=(q or "").strip() or None, sort=sort or default, offset=offset)

    return Depends(read)


def query_string(pairs: Mapping[str, object]) -> str:
    """Filters as a query string for the pager, the tabs and the CSV link: empty ones left out,
    ``True`` as ``true`` (a checkbox), never the offset."""
    kept = {}
    for key, value in pairs.items():
        if value is None or value == "" or value is False:
            continue
        kept[key] = "true" if value is True else value
    return urlencode(kept)


def page_context(
    params: ListParams, *, total: int, query: str, sorts: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """What ``_list_tools.html`` and ``_pager.html`` read."""
    return {
        "total": total,
        "offset": params.offset,
        "page_size": params.page_size,
        "query": query,
        "q": params.q or "",
        "sort": params.sort,
        "sorts": sorts,
    }


@dataclass(frozen=True)
class Column(Generic[RowT]):
    """One CSV column: its header and how a row gives its cell."""

    header: str
    value: Callable[[RowT], object]


def csv_of(filename: str, columns: Sequence[Column[RowT]], rows: Iterable[RowT]) -> Response:
    """A list's rows as a CSV download, one column per :class:`Column`."""
    return csv_response(
        filename,
        [column.header for column in columns],
        ([column.value(row) for column in columns] for row in rows),
    )


def minutes(moment: datetime | None) -> str | None:
    """A time as CSVs show it: ``2026-11-02 09:00``."""
    return moment.isoformat(sep=" ", timespec="minutes") if moment else None


def yes_no(flag: object) -> str:
    return "yes" if flag else "no"
