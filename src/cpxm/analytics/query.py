"""Ibis over the operational store, run on the caller's own connection.

Analytics are Ibis expressions over unbound tables whose schemas come from the SQLAlchemy models.
Ibis compiles an expression to the store's SQL dialect (SQLite or PostgreSQL, and DuckDB or Spark
for a lake), and the SQL runs on the session's connection, inside the request's transaction:

- no second connection, so a request (or a test's rolled-back transaction) sees its own writes,
  and no schema introspection per request (an Ibis backend reads the catalogue per table);
- one way to write analytics: the same expression compiles for every engine.

A deployment with a read replica sets ``CPXM_ANALYTICS_DATABASE_URL``: then the report queries
(everything ``fetch`` runs, and the data fingerprint the report caches key on) go to the replica,
so the figures and their cache key come from the same copy of the data, while the request's own
reads and writes (sessions, audited reads, lists that name people) stay on the primary.

Filter values end up as SQL literals quoted by sqlglot; every value that reaches an expression is
validated first (codes against the taxonomy, numbers and dates parsed), never pasted as text.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from functools import cache, lru_cache
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Session

from cpxm.schema import metadata

# SQLAlchemy dialect name -> Ibis/sqlglot dialect name.
IBIS_DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres", "duckdb": "duckdb"}

Row = dict[str, Any]
REPLICA_VARIABLE = "CPXM_ANALYTICS_DATABASE_URL"


@cache
def _replica_engine(url: str) -> Engine:
    from cpxm.config import normalise_database_url
    from cpxm.db import make_engine

    return make_engine(normalise_database_url(url))


@contextmanager
def analytics_connection(session: Session) -> Iterator[Connection]:
    """Where report queries run: the read replica when one is configured, else the session's
    own connection (inside its transaction)."""
    replica_url = os.environ.get(REPLICA_VARIABLE, "").strip()
    if not replica_url:
        yield session.connection()
        return
    engine = _replica_engine(replica_url)
    store = session.get_bind().dialect.name
    if engine.dialect.name != store:
        raise RuntimeError(
            f"{REPLICA_VARIABLE} is a {engine.dialect.name} database and the store "
            f"{store}: the replica must be a copy of the store"
        )
    with engine.connect() as connection:
        yield connection


def _ibis_type(column_type: Any) -> dt.DataType | None:
    if isinstance(column_type, Boolean):
        return dt.boolean
    if isinstance(column_type, Integer):
        return dt.int64
    if isinstance(column_type, Float | Numeric):
        return dt.float64
    if isinstance(column_type, DateTime):
        return dt.timestamp
    if isinstance(column_type, Date):
        return dt.date
    if isinstance(column_type, String | Text):
        return dt.string
    if isinstance(column_type, JSON):
        return None  # stored differently per engine; analytics read JSON through the ORM
    return None


@cache
def table(name: str) -> ir.Table:
    """An unbound Ibis table for a store table, typed from its model (JSON columns left out).

    Built from the models, not the database, so columns other domains add appear here too.
    """
    sql_table = metadata.tables[name]
    schema: dict[str, dt.DataType] = {}
    for column in sql_table.columns:
        ibis_type = _ibis_type(column.type)
        if ibis_type is not None:
            schema[column.name] = ibis_type.copy(nullable=column.nullable is not False)
    return ibis.table(ibis.schema(schema), name=name)


def dialect_of(session: Session) -> str:
    name = session.get_bind().dialect.name
    try:
        return IBIS_DIALECTS[name]
    except KeyError:
        raise RuntimeError(f"analytics do not support the {name!r} store") from None


def compile_sql(expression: ir.Expr, dialect: str) -> str:
    """The SQL Ibis writes for ``expression`` in ``dialect`` (sqlite, postgres, duckdb)."""
    return _compiled(expression.op(), dialect)


@lru_cache(maxsize=1024)
def _compiled(node: Any, dialect: str) -> str:
    # Compiling costs Ibis milliseconds per expression, a page asks for a dozen, and the same
    # expressions come back on every view; expression nodes compare and hash by structure.
    return str(ibis.to_sql(node.to_expr(), dialect=dialect))


def fetch(session: Session, expression: ir.Table) -> list[Row]:
    """Run a table expression on the session's connection; rows as dicts keyed by column name."""
    return fetch_sql(session, compile_sql(expression, dialect_of(session)))


def fetch_sql(session: Session, sql: str) -> list[Row]:
    """Run SQL that ``compile_sql`` wrote for the session's dialect (no parameters)."""
    dialect = dialect_of(session)
    with analytics_connection(session) as connection:
        if dialect == "postgres":
            # psycopg treats '%' as a placeholder when parameters are given; none are.
            result = connection.exec_driver_sql(sql.replace("%", "%%"), ())
        else:
            result = connection.exec_driver_sql(sql)
        columns = list(result.keys())
        return [dict(zip(columns, row, strict=True)) for row in result]


def fetch_scalar(session: Session, expression: ir.Scalar) -> Any:
    rows = fetch(session, expression.as_table())
    return next(iter(rows[0].values())) if rows else None


def as_datetime(value: datetime | str | None) -> datetime | None:
    """A timestamp from the store: PostgreSQL gives datetimes, SQLite gives ISO text."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def as_date(value: date | datetime | str | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(value).date()


def column_values(rows: Sequence[Row], name: str) -> list[Any]:
    return [row[name] for row in rows]
