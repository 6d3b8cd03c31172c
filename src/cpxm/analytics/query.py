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

A deployment that keeps its facts in a lake sets ``CPXM_ANALYTICS_ENGINE=spark`` and
``CPXM_LAKE_PATH`` (a lake written with ``cpxm lake export --store-tables``): then the same
expressions compile to Spark SQL and run on the process's SparkSession (:mod:`cpxm.spark`) over
the lake's copy of the store's tables, registered as views of the same names. Figures only: an
expression whose rows are people (it returns ``stakeholder_id``, or reads a column the lake
withholds, such as a name or a comment), one over a table the lake does not hold, and one asked
for ``on_store`` (the employee pulse, whose rows never leave the store) run on the store, under
its access rules.

Filter values end up as SQL literals quoted by sqlglot; every value that reaches an expression is
validated first (codes against the taxonomy, numbers and dates parsed), never pasted as text.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
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
ENGINE_VARIABLE = "CPXM_ANALYTICS_ENGINE"
LAKE_VARIABLE = "CPXM_LAKE_PATH"
ENGINES = ("store", "spark")
SPARK_DIALECT = "pyspark"
# A column named so holds one person per row: such rows are never computed from the lake.
PERSON_COLUMN = "stakeholder_id"


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


def analytics_engine() -> str:
    """Where figures are computed: ``store`` (the default) or ``spark`` (over the lake)."""
    engine = os.environ.get(ENGINE_VARIABLE, "").strip().lower() or "store"
    if engine not in ENGINES:
        raise RuntimeError(
            f"{ENGINE_VARIABLE} is {engine!r}, expected one of: {', '.join(ENGINES)}"
        )
    return engine


def store_dialect(session: Session) -> str:
    name = session.get_bind().dialect.name
    try:
        return IBIS_DIALECTS[name]
    except KeyError:
        raise RuntimeError(f"analytics do not support the {name!r} store") from None


def dialect_of(session: Session) -> str:
    """The dialect figures are compiled to: Spark's with the Spark engine, else the store's."""
    if analytics_engine() == "spark":
        return SPARK_DIALECT
    return store_dialect(session)


def compile_sql(expression: ir.Expr, dialect: str) -> str:
    """The SQL Ibis writes for ``expression`` in ``dialect`` (sqlite, postgres, duckdb, pyspark)."""
    return _compiled(expression.op(), dialect)


@lru_cache(maxsize=1024)
def _compiled(node: Any, dialect: str) -> str:
    # Compiling costs Ibis milliseconds per expression, a page asks for a dozen, and the same
    # expressions come back on every view; expression nodes compare and hash by structure.
    if dialect == SPARK_DIALECT and ibis.options.pyspark is None:
        # The Spark compiler reads the backend's options, registered when a backend connects.
        from ibis.backends.pyspark import Backend

        Backend.register_options()
    return str(ibis.to_sql(node.to_expr(), dialect=dialect))


def fetch(session: Session, expression: ir.Table, *, on_store: bool = False) -> list[Row]:
    """Run a table expression where figures are computed; rows as dicts keyed by column name.

    ``on_store`` keeps it on the store whatever the engine (data that never leaves the store).
    """
    if not on_store and analytics_engine() == "spark" and runs_on_lake(expression):
        return _spark_rows(compile_sql(expression, SPARK_DIALECT))
    return _store_rows(session, compile_sql(expression, store_dialect(session)))


def fetch_sql(session: Session, sql: str) -> list[Row]:
    """Run SQL that ``compile_sql`` wrote for ``dialect_of(session)`` (no parameters)."""
    if dialect_of(session) == SPARK_DIALECT:
        return _spark_rows(sql)
    return _store_rows(session, sql)


def runs_on_lake(expression: ir.Expr) -> bool:
    """Whether the lake may answer ``expression``: figures over tables it holds, no column it
    withholds read, and no row per person returned."""
    from cpxm.lake.mirror import MIRRORED_TABLES, withheld

    node = expression.op()
    if isinstance(expression, ir.Table) and PERSON_COLUMN in expression.columns:
        return False
    for unbound in node.find(ops.UnboundTable):
        if unbound.name not in MIRRORED_TABLES:
            return False
    for field in node.find(ops.Field):
        rel = field.rel
        if isinstance(rel, ops.UnboundTable) and field.name in withheld(rel.name):
            return False
    return True


@dataclass(frozen=True)
class _LakeViews:
    path: Path
    state: str  # the lake's state file as last read: views are re-registered when it changes


_views_lock = threading.Lock()
_views: _LakeViews | None = None


def lake_path() -> Path:
    """The lake the Spark engine reads (``CPXM_LAKE_PATH``), checked to hold the store's tables."""
    from cpxm.lake.export import STATE_FILE
    from cpxm.lake.mirror import MIRROR_FOLDER

    text = os.environ.get(LAKE_VARIABLE, "").strip()
    if not text:
        raise RuntimeError(
            f"{ENGINE_VARIABLE}=spark reads the lake: set {LAKE_VARIABLE} to a folder written "
            "by `cpxm lake export --to PATH --store-tables`"
        )
    path = Path(text)
    state = path / STATE_FILE
    if not state.exists() or not (path / MIRROR_FOLDER).is_dir():
        raise RuntimeError(
            f"{LAKE_VARIABLE} is {text}, which holds no store tables: write them with "
            f"`cpxm lake export --to {text} --store-tables`"
        )
    return path


def lake_marker() -> int | None:
    """With the Spark engine, when the lake was last written (its state file's modification
    time), so a report cache keyed on the data fingerprint refreshes after each export."""
    if analytics_engine() != "spark":
        return None
    from cpxm.lake.export import STATE_FILE

    return (lake_path() / STATE_FILE).stat().st_mtime_ns


def _registered_spark() -> Any:
    """The SparkSession with a view per lake table, registered again after each export."""
    global _views
    from cpxm.lake.export import STATE_FILE
    from cpxm.lake.mirror import MIRROR_FOLDER, MIRRORED_TABLES
    from cpxm.spark import get_spark

    path = lake_path()
    state_text = (path / STATE_FILE).read_text(encoding="utf-8")
    spark = get_spark()
    with _views_lock:
        if _views is not None and _views.path == path and _views.state == state_text:
            return spark
        state = json.loads(state_text)
        if not state.get("mirror"):
            raise RuntimeError(
                f"the lake at {path} was last written without --store-tables; "
                f"re-export with `cpxm lake export --to {path} --store-tables`"
            )
        for name in MIRRORED_TABLES:
            folder = path / MIRROR_FOLDER / name
            dataset = state["datasets"].get(f"{MIRROR_FOLDER}/{name}", {})
            if dataset.get("buckets"):
                frame = spark.read.parquet(str(folder)).drop("bucket")
            else:
                # No rows (no bucket files): an empty view of the store's shape.
                frame = spark.createDataFrame([], _spark_schema(name))
            frame.createOrReplaceTempView(name)
        _views = _LakeViews(path, state_text)
    return spark


def _spark_schema(name: str) -> Any:
    from ibis.backends.pyspark.datatypes import PySparkSchema

    return PySparkSchema.from_ibis(table(name).schema())


def _spark_rows(sql: str) -> list[Row]:
    spark = _registered_spark()
    return [row.asDict() for row in spark.sql(sql).collect()]


def _store_rows(session: Session, sql: str) -> list[Row]:
    dialect = store_dialect(session)
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
