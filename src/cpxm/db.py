"""The operational store: engine, sessions, the declarative base and bulk loading.

SQLite is the embedded default (WAL so readers never block the writer, foreign keys enforced);
PostgreSQL is the production store. Both are built by the Alembic migrations in ``migrations/``.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from cpxm.config import get_settings

# Stable constraint names, so Alembic migrations can alter them on both engines.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite opens transactions lazily and never for SAVEPOINTs; hand transaction control
    # to SQLAlchemy (its documented recipe) so savepoints and rollbacks work as on PostgreSQL.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable across application crashes in WAL mode; only an OS crash can lose
    # the last transactions, which is the usual trade for an embedded store.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    # SQLite's default page cache is 2 MiB: a bulk import into a table with several indexes
    # then rereads index pages from the OS on nearly every insert. 64 MiB (allocated only as
    # used) halved the CPU time of inserting 100,000 call reports; 256 MiB holds the index
    # pages a batch of 100,000 call reports dirties until its commit writes them once (a
    # million: 29.3 s against 32.9 s with 64 MiB, benchmarks/import_load.py).
    cursor.execute("PRAGMA cache_size=-262144")
    cursor.close()
    # SQLite's lower() folds ASCII only ("Ö" stays "Ö"); searches fold by Python's rules
    # instead (``cpxm.textmatch``), as PostgreSQL's lower() does under a UTF-8 locale.
    dbapi_connection.create_function(SQLITE_FOLD_FUNCTION, 1, _fold, deterministic=True)


SQLITE_FOLD_FUNCTION = "cpxm_fold"


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


SQLITE_BEGIN_OPTION = "cpxm_sqlite_begin"
SQLITE_BUSY_SECONDS = 10
_HELD_WRITER = "cpxm_sqlite_writer"
_WRITERS: dict[str, threading.Lock] = {}
_WRITERS_GUARD = threading.Lock()


def _sqlite_begin(connection: Connection) -> None:
    """Begin a transaction: IMMEDIATE (a writer) unless the connection was opened as a reader.

    A deferred BEGIN takes SQLite's write lock only at the first write, and in WAL mode a
    transaction that has read and then writes fails at once ("database is locked") if anyone
    committed since it read, whatever busy_timeout says. So every transaction takes the write
    lock up front, waiting for it, unless it was opened as a reader.

    Writers of one process first queue on a lock of that process: SQLite's busy handler polls,
    sleeping up to 100 ms between tries, so under a few concurrent writers most of a request's
    time went in sleeps after the lock was already free (the soak benchmark's SQLite submits
    had a p50 of 700 ms). A queue hands the lock over at once; other processes (a ``cpxm
    import``, a worker) still meet the busy handler.
    """
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
    if mode != "IMMEDIATE":
        connection.exec_driver_sql(f"BEGIN {mode}")
        return
    writers = _writer_queue(connection)
    if not writers.acquire(timeout=SQLITE_BUSY_SECONDS):
        raise OperationalError(
            "BEGIN IMMEDIATE",
            None,
            sqlite3.OperationalError(
                f"database is locked: this process's writers held it for {SQLITE_BUSY_SECONDS} s"
            ),
        )
    connection.info[_HELD_WRITER] = writers
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        _release_writer(connection)
        raise


def _writer_queue(connection: Connection) -> threading.Lock:
    database = connection.engine.url.database or ":memory:"
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(database, threading.Lock())


def _release_writer(connection: Connection, *_args: Any) -> None:
    # Called as the transaction ends (SQLAlchemy's commit and rollback events come just before
    # the driver's COMMIT or ROLLBACK; the next writer's BEGIN waits that moment in SQLite).
    writers = connection.info.pop(_HELD_WRITER, None)
    if writers is not None:
        writers.release()


def _release_writer_at_checkin(_dbapi_connection: Any, record: Any) -> None:
    # A connection returned to the pool without its transaction ending through SQLAlchemy
    # (an invalidated connection) must not keep the queue.
    writers = record.info.pop(_HELD_WRITER, None) if record is not None else None
    if writers is not None:
        writers.release()


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` (default: ``CPXM_DATABASE_URL``) with the store's connection rules."""
    url = url or get_settings().database_url
    if url.startswith("sqlite"):
        _ensure_sqlite_directory(url)
        connect_args = {"check_same_thread": False, **kwargs.pop("connect_args", {})}
        if not _in_memory(url):
            # Last in, first out: the connection just used is taken again, its cache warm.
            kwargs.setdefault("pool_use_lifo", True)
            _size_pool(kwargs)
        kwargs.setdefault("json_serializer", store_json)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "commit", _release_writer)
        event.listen(engine, "rollback", _release_writer)
        event.listen(engine, "checkin", _release_writer_at_checkin)
        return engine
    _size_pool(kwargs)
    kwargs.setdefault("json_serializer", store_json)
    return create_engine(url, pool_pre_ping=True, **kwargs)


# JSON as the store keeps it: "Müller", not "M\u00fcller", so a search of a JSON column's text
# (a quarantined row, a source record's attributes) finds what a person types.
_STORE_JSON = json.JSONEncoder(ensure_ascii=False)


def store_json(value: Any) -> str:
    """``value`` as JSON text with its characters as they are (not ``\\u`` escapes)."""
    return _STORE_JSON.encode(value)


def _size_pool(kwargs: dict[str, Any]) -> None:
    # Connections kept open per process (CPXM_DB_POOL_SIZE, default 10), and up to 30 more
    # under load (a server process runs up to 40 requests at once in its thread pool). With
    # SQLAlchemy's 5 a server taking 16 concurrent submits closed and reopened a PostgreSQL
    # connection for every third request (benchmarks/survey_submit.py).
    kwargs.setdefault("pool_size", int(os.environ.get("CPXM_DB_POOL_SIZE") or 10))
    kwargs.setdefault("max_overflow", 30)


def _in_memory(url: str) -> bool:
    database = make_url(url).database
    return not database or database == ":memory:" or "mode=memory" in url


def _ensure_sqlite_directory(url: str) -> None:
    path = url.split("///", 1)[-1] if "///" in url else ""
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


@cache
def default_engine() -> Engine:
    return make_engine()


def session_factory(engine: Engine | None = None, *, reader: bool = False) -> sessionmaker[Session]:
    """Sessions on ``engine``; on SQLite their transactions take the write lock when they begin.

    ``reader=True`` gives sessions whose SQLite transactions begin deferred: for work that only
    reads (a page, a report), so it never waits for, nor holds up, a writer. Such a session that
    writes after reading can fail with "database is locked" when another writer got in first;
    the web app retries such a request once as a writer (``cpxm.web.transactions``).
    """
    bind = engine or default_engine()
    if reader and bind.dialect.name == "sqlite":
        bind = bind.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
    return sessionmaker(bind=bind, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def bulk_insert(
    connection: Connection,
    table: Table,
    rows: Sequence[Sequence[Any]],
    columns: Sequence[str] | None = None,
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order, default all of ``table.columns``) by the
    engine's fastest path; columns left out take their database defaults.

    PostgreSQL gets ``COPY ... FROM STDIN``; SQLite gets one ``executemany`` in the caller's
    transaction. These are the bulk-insert limits the benchmarks compare the loaders with.
    """
    if not rows:
        return 0
    columns = list(columns) if columns is not None else [column.name for column in table.columns]
    # Values are converted by column type, and only where the driver cannot take them as they
    # are: a per-value type check costs more than the insert itself at a million rows.
    converters = _value_converters(table, tuple(columns), connection.dialect.name)
    if converters:
        rows = _converted_rows(rows, converters)
    return _insert_rows(connection, table, columns, rows)


def bulk_insert_columns(
    connection: Connection, table: Table, columns: Mapping[str, Any], count: int
) -> int:
    """Insert ``count`` rows given column by column, by the same path as ``bulk_insert``.

    Each entry of ``columns`` (column name -> values) is a pyarrow array of ``count`` values or
    one value for every row; columns left out take their database defaults. PostgreSQL gets
    the columns as one CSV ``COPY``; SQLite gets rows, timestamps as text in SQLAlchemy's own
    format, so ORM reads and string comparisons agree.
    """
    if count == 0:
        return 0
    import pyarrow as pa
    import pyarrow.compute as pc

    # A column every row leaves empty, with no default to stand in, is NULL without being sent:
    # an import of calls leaves a third of the interaction columns empty.
    columns = {
        name: value
        for name, value in columns.items()
        if value is not None
        or table.c[name].default is not None
        or table.c[name].server_default is not None
    }
    names = list(columns)
    converters = dict(_value_converters(table, tuple(names), connection.dialect.name))
    if connection.dialect.name == "postgresql":
        _copy_columns(connection, table, names, list(columns.values()), count, converters)
        return count
    sources: list[Iterable[Any]] = []
    for index, value in enumerate(columns.values()):
        if isinstance(value, pa.Array | pa.ChunkedArray):
            if pa.types.is_timestamp(value.type) or pa.types.is_date(value.type):
                # "2024-12-31 14:30:00.000000", as SQLAlchemy writes a datetime to SQLite.
                value = pc.cast(value, pa.string())
            sources.append(value.to_pylist())
        else:
            if value is not None and index in converters:
                value = converters[index](value)
            sources.append(itertools.repeat(value, count))
    return _insert_rows(connection, table, names, list(zip(*sources, strict=False)))


def _copy_columns(
    connection: Connection,
    table: Table,
    names: list[str],
    values: list[Any],
    count: int,
    converters: dict[int, ValueConverter],
) -> None:
    """COPY whole columns to PostgreSQL as CSV that pyarrow writes, not row by row.

    psycopg's ``write_row`` formats each row in Python, 4 us a row: most of the client's time
    in a million-row import. pyarrow's CSV is what COPY's CSV format reads: strings quoted (an
    empty one as ``""``), nulls as nothing, timestamps as ``2024-12-31 14:30:00.000000``.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    arrays: list[Any] = []
    for index, value in enumerate(values):
        if isinstance(value, pa.ChunkedArray):
            value = value.combine_chunks()
        if isinstance(value, pa.Array):
            arrays.append(value)
            continue
        if value is not None and index in converters:
            value = converters[index](value)
        arrays.append(pa.nulls(count) if value is None else pa.repeat(pa.scalar(value), count))
    buffer = io.BytesIO()
    pa_csv.write_csv(
        pa.Table.from_arrays(arrays, names=names),
        buffer,
        pa_csv.WriteOptions(include_header=False),
    )
    column_list = ", ".join(f'"{name}"' for name in names)
    statement = f'COPY "{table.name}" ({column_list}) FROM STDIN WITH (FORMAT csv)'
    with _copy(connection, statement) as copy:
        copy.write(buffer.getbuffer())


def bulk_update(
    connection: Connection,
    table: Table,
    rows: Sequence[Sequence[Any]],
    columns: Sequence[str],
    *,
    key: str = "id",
) -> int:
    """Set ``columns`` of the rows of ``table`` named by ``key``: each of ``rows`` is the key
    followed by the new values, in ``columns`` order. Values are converted as ``bulk_insert``
    converts them.

    PostgreSQL: the rows are copied into a temporary table of the same column types and applied
    by one joined UPDATE (an executemany is a round trip per row). SQLite: one executemany in
    the driver, without SQLAlchemy's per-row parameter handling, which took as long as the
    statement itself for FEBRL4's 4,563 golden-record updates (cProfile).
    """
    if not rows:
        return 0
    names = [key, *columns]
    converters = _value_converters(table, tuple(names), connection.dialect.name)
    if converters:
        rows = _converted_rows(rows, converters)
    if connection.dialect.name == "postgresql":
        listed = ", ".join(f'"{name}"' for name in names)
        connection.exec_driver_sql(
            f"CREATE TEMP TABLE cpxm_bulk_update ON COMMIT DROP AS "  # noqa: S608
            f'SELECT {listed} FROM "{table.name}" WITH NO DATA'
        )
        _copy_rows(connection, f"COPY cpxm_bulk_update ({listed}) FROM STDIN", rows)
        assignments = ", ".join(f'"{name}" = u."{name}"' for name in columns)
        connection.exec_driver_sql(
            f'UPDATE "{table.name}" SET {assignments} FROM cpxm_bulk_update u '  # noqa: S608
            f'WHERE "{table.name}"."{key}" = u."{key}"'
        )
        connection.exec_driver_sql("DROP TABLE cpxm_bulk_update")
        return len(rows)
    assignments = ", ".join(f'"{name}" = ?' for name in columns)
    connection.exec_driver_sql(
        f'UPDATE "{table.name}" SET {assignments} WHERE "{key}" = ?',  # noqa: S608
        [(*row[1:], row[0]) for row in rows],
    )
    return len(rows)


@contextmanager
def _copy(connection: Connection, statement: str) -> Iterator[Any]:
    """psycopg's ``Copy`` for ``statement``, a ``COPY ... FROM STDIN``, on the caller's
    connection and transaction."""
    raw = connection.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        yield copy


def _copy_rows(connection: Connection, statement: str, rows: Iterable[Sequence[Any]]) -> None:
    """Send ``rows`` to PostgreSQL by ``statement``, a ``COPY ... FROM STDIN``."""
    with _copy(connection, statement) as copy:
        for row in rows:
            copy.write_row(row)


def _insert_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> int:
    column_list = ", ".join(f'"{name}"' for name in columns)
    if connection.dialect.name == "postgresql":
        _copy_rows(connection, f'COPY "{table.name}" ({column_list}) FROM STDIN', rows)
        return len(rows)
    placeholders = ", ".join("?" for _ in columns)
    connection.exec_driver_sql(
        f'INSERT INTO "{table.name}" ({column_list}) VALUES ({placeholders})',  # noqa: S608
        rows if isinstance(rows, list) else list(rows),
    )
    return len(rows)


ValueConverter = Callable[[Any], Any]


def _converted_rows(
    rows: Sequence[Sequence[Any]], converters: list[tuple[int, ValueConverter]]
) -> list[tuple[Any, ...]]:
    """``rows`` with the converted columns converted, column by column.

    A column at a time, and each distinct date or time once: the rows of one bulk insert
    mostly share their timestamps (``created_at``, ``imported_at``), and a call per value
    of every row cost a FEBRL4 import and resolve 40,000 conversions of far fewer values.
    """
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for index, convert in converters:
        values = columns[index]
        if convert is _json_text:
            columns[index] = [_json_text(v) if v is not None else None for v in values]
            continue
        texts: dict[Any, Any] = {}
        for value in values:
            if value is not None and value not in texts:
                texts[value] = convert(value)
        columns[index] = [texts[v] if v is not None else None for v in values]
    return list(zip(*columns, strict=True))  # sqlite3's executemany takes tuples, not lists


# One encoder for every value: ``json.dumps`` with options builds a new one per call.
_JSON_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _json_text(value: Any) -> Any:
    return value if isinstance(value, str) else _JSON_ENCODER.encode(value)


def _sqlite_datetime(value: Any) -> Any:
    # SQLAlchemy's own SQLite DATETIME format, so ORM reads and string comparisons agree.
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="microseconds")
    return value


def _sqlite_date(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _value_converters(
    table: Table, columns: tuple[str, ...], dialect: str
) -> list[tuple[int, ValueConverter]]:
    converters: list[tuple[int, ValueConverter]] = []
    for index, name in enumerate(columns):
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            converters.append((index, _json_text))
        elif dialect == "sqlite" and isinstance(column_type, DateTime):
            converters.append((index, _sqlite_datetime))
        elif dialect == "sqlite" and isinstance(column_type, Date):
            converters.append((index, _sqlite_date))
    return converters


def server_timestamps(table: Table) -> dict[str, datetime]:
    """The timestamps the database would fill (column key -> now), given up front instead, so
    nothing is read back after an insert."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return {
        column.key: now
        for column in table.columns
        if column.server_default is not None and isinstance(column.type, DateTime)
    }


def assign_ids(session: Session, model: type[Any], entities: list[Any]) -> None:
    """Number new entities and fill their server-side timestamps before inserting them.

    With ids and timestamps known there is nothing for the database to return, so the ORM
    sends one prepared INSERT as an executemany: on SQLite instead of one INSERT ... RETURNING
    per row, on PostgreSQL instead of long multi-row statements psycopg must parse afresh each
    time. Measured on 100,000 imported call reports (benchmarks/import_load.py).
    """
    if not entities:
        return
    ids = reserve_ids(session, model.__table__, len(entities))
    stamps = server_timestamps(model.__table__)
    for entity, new_id in zip(entities, ids, strict=True):
        entity.id = new_id
        for key, now in stamps.items():
            if getattr(entity, key, None) is None:
                setattr(entity, key, now)


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` unused ids for new rows of ``table``, reserved for this transaction, so rows
    can be bulk-inserted with their ids known (nothing to read back)."""
    if session.get_bind().dialect.name == "postgresql":
        # One array, not a row per id: fetching 100,000 rows one by one took a tenth of a
        # second per batch, the array a third of that.
        reserved = session.scalar(
            text(
                "SELECT array_agg(nextval(pg_get_serial_sequence(:table, 'id'))) "
                "FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": count},
        )
        return sorted(reserved or [])
    # SQLite has one writer at a time: take the write lock first (a write that changes
    # nothing), so no other connection can insert between reading the highest id and
    # inserting above it.
    session.execute(text(f'UPDATE "{table.name}" SET id = id WHERE 0 = 1'))  # noqa: S608
    highest = session.scalar(select(func.max(table.c.id))) or 0
    return list(range(highest + 1, highest + 1 + count))


def one_of(
    session: Session, column: QueryableAttribute[Any] | ColumnElement[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL sent as one array parameter (``= ANY(:values)``).

    psycopg parses every statement's text for placeholders and caches only short ones, so an
    IN list of thousands of placeholders costs it tens of milliseconds per query; one array
    parameter keeps the statement short and cached.
    """
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    if len(values) > _SQLITE_JSON_LIST_FROM and set(map(type, values)) <= {int, str}:
        # SQLite's counterpart: one JSON text parameter read by json_each. Expanding thousands
        # of IN placeholders cost SQLAlchemy's compiler a quarter of an import's time.
        listed = func.json_each(bindparam(None, json.dumps(values), type_=String)).table_valued(
            "value"
        )
        return column.in_(select(listed.c.value))
    return column.in_(values)


_SQLITE_JSON_LIST_FROM = 32


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


__all__ = [
    "Base",
    "bulk_insert",
    "bulk_insert_columns",
    "chunked",
    "default_engine",
    "make_engine",
    "one_of",
    "session_factory",
    "transaction",
]
