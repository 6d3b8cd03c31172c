"""Back up the embedded SQLite store while it runs, and restore a backup into an empty store.

A backup is SQLite's online backup API: one step, so the copy is one read transaction on the
store, a consistent snapshot of every committed transaction up to its start (WAL included),
while writers carry on. The copy is written beside OUT, switched out of WAL mode so that it is
one self-contained file, checked (``PRAGMA integrity_check`` and a schema revision), and only then
renamed onto OUT, so a reader of OUT never sees half a backup. A restore goes through the same
API into the store, which keeps the store's own file and locks, and refuses what it cannot vouch
for: a file that is not a CPXM store, one from a newer schema, a store that is not empty.

PostgreSQL has its own tools for this (``pg_dump`` and ``pg_restore``; docs/operations.md):
they take a consistent snapshot of a live database, and a client of the server's own version
writes them, which CPXM cannot promise to do better.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from cpxm.db import make_engine
from cpxm.migrate import alembic_config, upgrade_database

SQLITE_HEADER = b"SQLite format 3\x00"
POSTGRESQL_BACKUP = (
    "back it up with pg_dump (`pg_dump --format=custom --file=OUT DBNAME`) and restore it with "
    "pg_restore; see docs/operations.md"
)


class BackupError(Exception):
    """A backup or restore that cannot be done, with the reason in one line."""


@dataclass(frozen=True)
class StoreSnapshot:
    """What a store file holds: its schema revision and the rows of each table."""

    revision: str
    counts: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class BackupReport:
    path: Path
    snapshot: StoreSnapshot
    size_bytes: int
    seconds: float


@dataclass(frozen=True)
class RestoreReport:
    source: Path
    snapshot: StoreSnapshot
    revision: str
    """The store's schema revision after the restore (later than the backup's if upgraded)."""
    seconds: float


def backup_store(engine: Engine, *, out: Path, force: bool = False) -> BackupReport:
    """Copy the SQLite store behind ``engine`` to ``out`` while other processes keep writing."""
    started = time.perf_counter()
    store = sqlite_store_path(engine, action="back up")
    if not store.is_file():
        raise BackupError(f"there is no store at {store}; create it with `cpxm init`")
    out = out.expanduser()
    if out.is_dir():
        raise BackupError(f"{out} is a directory; name the backup file to write")
    if out.exists() and not force:
        raise BackupError(f"{out} exists; use --force to replace it")
    if not out.parent.is_dir():
        raise BackupError(f"directory {out.parent} does not exist")
    with _temporary_beside(out) as partial:
        with closing(_connect(store)) as source, closing(sqlite3.connect(partial)) as copy:
            # pages=-1: the whole store in one step, so one read transaction sees it all; a
            # step-wise copy restarts whenever another process commits and may never finish.
            source.backup(copy, pages=-1)
            copy.execute("PRAGMA journal_mode=DELETE")
            _check_integrity(copy, name=str(out))
            snapshot = _snapshot(copy, name=str(store))
        _fsync(partial)
        partial.replace(out)
    _fsync(out.parent)
    return BackupReport(
        path=out,
        snapshot=snapshot,
        size_bytes=out.stat().st_size,
        seconds=time.perf_counter() - started,
    )


def restore_store(engine: Engine, *, source: Path, force: bool = False) -> RestoreReport:
    """Replace the (empty, unless ``force``) SQLite store behind ``engine`` with a backup."""
    started = time.perf_counter()
    store = sqlite_store_path(engine, action="restore")
    source = source.expanduser()
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    with source.open("rb") as header:
        if header.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise BackupError(f"{source} is not a SQLite file, so not a backup by `cpxm backup`")
    if store.exists() and store.resolve() == source.resolve():
        raise BackupError(f"{source} is the store itself")
    with closing(_connect(source, read_only=True)) as backup:
        _check_integrity(backup, name=str(source))
        snapshot = _snapshot(backup, name=str(source))
        known = _known_revisions(engine)
        if snapshot.revision not in known:
            raise BackupError(
                f"{source} is from a newer CPXM (schema revision {snapshot.revision}; this "
                f"version knows up to {known[0]}): upgrade cpxm before restoring it"
            )
        if store.exists() and not force:
            _refuse_unless_empty(store)
        store.parent.mkdir(parents=True, exist_ok=True)
        with closing(_connect(store)) as target:
            backup.backup(target, pages=-1)
            _check_integrity(target, name=str(store))
            restored = _snapshot(target, name=str(store))
    if restored.counts != snapshot.counts:
        raise BackupError(f"the restored store at {store} does not hold what {source} holds")
    revision = upgrade_database(engine)
    return RestoreReport(
        source=source, snapshot=snapshot, revision=revision, seconds=time.perf_counter() - started
    )


def store_snapshot(path: Path) -> StoreSnapshot:
    """The schema revision and row counts of a store or backup file, read without changing it."""
    with closing(_connect(path, read_only=True)) as connection:
        return _snapshot(connection, name=str(path))


def sqlite_store_path(engine: Engine, *, action: str) -> Path:
    """The file of a SQLite store; a one-line reason for stores this module cannot copy."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        where = url.render_as_string(hide_password=True)
        raise BackupError(f"the store at {where} is PostgreSQL: {POSTGRESQL_BACKUP}")
    if url.get_backend_name() != "sqlite":
        raise BackupError(f"cannot {action} a {url.get_backend_name()} store")
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"cannot {action} the store '{database or ':memory:'}': not a file")
    return Path(database).expanduser().resolve()


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode={'ro' if read_only else 'rwc'}"
    connection = sqlite3.connect(uri, uri=True, timeout=30)
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def _check_integrity(connection: sqlite3.Connection, *, name: str) -> None:
    try:
        problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{name} cannot be read as a SQLite database: {error}") from None
    if problems != ["ok"]:
        raise BackupError(f"{name} failed SQLite's integrity check: {problems[0]}")


def _snapshot(connection: sqlite3.Connection, *, name: str) -> StoreSnapshot:
    counts = _table_counts(connection)
    if "alembic_version" not in counts:
        raise BackupError(f"{name} is not a CPXM store: it has no schema revision")
    revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    if revision is None:
        raise BackupError(f"{name} is not a CPXM store: its schema revision is empty")
    del counts["alembic_version"]
    return StoreSnapshot(revision=str(revision[0]), counts=counts)


def _table_counts(connection: sqlite3.Connection) -> dict[str, int]:
    tables = [
        str(row[0])
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    # The names come from the file's own catalogue, quoted as identifiers.
    return {
        table: int(
            connection.execute(
                'SELECT count(*) FROM "{}"'.format(table.replace('"', '""'))  # noqa: S608
            ).fetchone()[0]
        )
        for table in tables
    }


def _refuse_unless_empty(store: Path) -> None:
    """Refuse a store holding more than ``cpxm init`` puts in one (the default fatigue rules)."""
    with closing(_connect(store, read_only=True)) as connection:
        counts = _table_counts(connection)
    counts.pop("alembic_version", None)
    if not any(counts.values()):
        return
    seeded = _freshly_initialised_counts()
    added = {
        table: rows - seeded.get(table, 0)
        for table, rows in counts.items()
        if rows > seeded.get(table, 0)
    }
    if added:
        raise BackupError(
            f"the store at {store} is not empty ({sum(added.values()):,} rows in "
            f"{len(added)} tables beyond what `cpxm init` creates); use --force to replace it"
        )


def _freshly_initialised_counts() -> dict[str, int]:
    # Built rather than listed, so a migration that seeds another table is followed here.
    with tempfile.TemporaryDirectory(prefix="cpxm-restore-") as directory:
        engine = make_engine(f"sqlite:///{Path(directory) / 'fresh.db'}")
        try:
            upgrade_database(engine)
        finally:
            engine.dispose()
        with closing(_connect(Path(directory) / "fresh.db", read_only=True)) as connection:
            return _table_counts(connection)


def _known_revisions(engine: Engine) -> list[str]:
    """Every schema revision this version can run, newest first."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    return [revision.revision for revision in script.walk_revisions()]


@contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """A file name in ``path``'s directory (so the final rename is atomic), removed on failure."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
    finally:
        for leftover in (partial, partial.with_name(partial.name + "-journal")):
            leftover.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
