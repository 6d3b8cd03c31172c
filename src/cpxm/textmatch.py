"""A list's search as people expect it on both engines: a part of the text, case blind for every
alphabet ("özdemir" finds "ÖZDEMIR", "müller" finds "Müller").

SQLite's ``lower()`` and ``LIKE`` fold ASCII letters only, so a search for an accented name
missed on the embedded store while it found it on PostgreSQL (whose ``lower()`` follows the
database's UTF-8 locale). :func:`folded` is ``lower()`` on PostgreSQL and a function the store
registers on every SQLite connection (``cpxm.db``) that folds by Python's rules.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from cpxm.db import SQLITE_FOLD_FUNCTION


class folded(FunctionElement[str]):
    """The text in lower case, for every alphabet, on both engines."""

    type = String()
    inherit_cache = True
    name = "cpxm_fold"


@compiles(folded)
def _folded_default(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(folded, "sqlite")
def _folded_sqlite(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_FOLD_FUNCTION}({compiler.process(element.clauses, **kw)})"


def contains_text(column: Any, text: str) -> ColumnElement[bool]:
    """``column`` holds ``text`` somewhere, case blind; ``%`` and ``_`` in ``text`` are literal."""
    pattern = f"%{escape_like(text.lower())}%"
    if text.isascii():
        # The engine's own lower() agrees on letters an ASCII pattern can match, and is
        # faster on SQLite than a call into Python per row.
        return func.lower(column).like(pattern, escape="\\")
    return folded(column).like(pattern, escape="\\")


def record_number(text: str) -> int | None:
    """The record number a search names ("12" or "#12"), or None: ASCII digits only ("²" is a
    digit to Python but not to ``int``) and few enough for the store's 64-bit integer columns, so
    a long run of digits is searched as text rather than refused as out of range."""
    number = text.strip().removeprefix("#")
    if number.isascii() and number.isdigit() and len(number) <= 18:
        return int(number)
    return None


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
