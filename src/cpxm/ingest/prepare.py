"""Get rows ready to apply: their source key, digest and typed values, or why they cannot be.

Preparing a row needs only the mapping and the taxonomy codes, not the store, so a large file is
prepared in a second process while this one writes: on a machine with two cores, reading and
converting no longer wait for the database, nor the database for them.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpxm.ingest.mapping import ImportMapping
from cpxm.ingest.readers import RawRecord, ReadError, file_columns, read_rows
from cpxm.ingest.rows import ConvertedRow, Lookups, RowConverter, RowError

# CPXM_IMPORT_READER says who reads and converts a large file (from this size up; below it,
# starting a helper costs more than it saves): "inline" (the importing thread, the default),
# "thread" (a second thread, which runs while the database driver waits on the database) or
# "process" (a second process; every row is pickled across). BENCHMARKS.md has the figures.
WORKER_FROM_BYTES = 8 * 1024 * 1024
_QUEUED_BATCHES = 4  # batches read ahead: bounds the memory the reader may use
_PARENT_POLL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class PreparedRecord:
    """A row as read, with what the import needs to decide about it."""

    record: RawRecord
    key: str | None  # the source id, or None when the row lacks one
    digest: str  # of the row's text under the mapping ("" when it cannot be used at all)
    converted: ConvertedRow | None
    error: str | None  # why it cannot be stored as it is (a quarantine reason)


def source_key(mapping: ImportMapping, record: RawRecord) -> str | None:
    """The row's source id as far as it can be told before conversion (for the quarantine)."""
    columns = mapping.source_id_columns
    if len(columns) == 1:
        single = record.values.get(columns[0])
        return single[:200] if single is not None else None
    values = [record.values.get(column) for column in columns]
    if any(value is None for value in values):
        return None
    return "|".join(value for value in values if value is not None)[:200]


def prepare(mapping: ImportMapping, converter: RowConverter, record: RawRecord) -> PreparedRecord:
    key = source_key(mapping, record)
    if record.problem:
        return PreparedRecord(record, key, "", None, record.problem)
    digest = converter.digest(record.values)
    try:
        return PreparedRecord(record, key, digest, converter(record.values), None)
    except RowError as error:
        return PreparedRecord(record, key, digest, None, str(error))


def read_checked(path: Path, mapping: ImportMapping) -> Iterator[RawRecord]:
    """The file's rows; fails before the first row when it lacks a column the mapping reads.

    A missing column would otherwise quarantine every row with the same reason. JSON Lines
    records may leave keys out, so they are checked row by row instead.
    """
    columns = file_columns(path, mapping.file)
    if columns:
        check_columns(path, mapping, columns)
    return read_rows(path, mapping.file)


def check_columns(path: Path, mapping: ImportMapping, columns: list[str]) -> None:
    """ReadError when the file's ``columns`` lack one the mapping reads."""
    missing = sorted(mapping.columns_used() - set(columns))
    if missing:
        raise ReadError(
            f"{path.name} has no column {', '.join(repr(c) for c in missing)}, which the "
            f"mapping '{mapping.name}' reads; its columns are: {', '.join(columns)}"
        )


READERS = ("inline", "thread", "process")


def reader_for(path: Path) -> str:
    """Who prepares ``path``'s rows, by CPXM_IMPORT_READER and the file's size."""
    wanted = os.environ.get("CPXM_IMPORT_READER", "").strip() or "inline"
    if wanted not in READERS:
        raise ValueError(f"CPXM_IMPORT_READER is '{wanted}'; expected one of {', '.join(READERS)}")
    if wanted == "inline" or path.stat().st_size < WORKER_FROM_BYTES:
        return "inline"
    if wanted == "process" and (os.cpu_count() or 1) < 2:
        return "inline"
    return wanted


def prepared_in_worker(
    path: Path, mapping: ImportMapping, lookups: Lookups, batch_size: int
) -> Iterator[list[PreparedRecord]]:
    """Batches of prepared rows of ``path``, read and converted by a second process.

    Errors reach the caller as they would in one process: a ReadError as a ReadError, anything
    else as a RuntimeError naming it. The process ends with the iteration, or when this one
    dies (it watches its parent), so a killed import leaves nothing running.
    """
    # spawn, not fork: a forked child would share this process's database connections.
    context = multiprocessing.get_context("spawn")
    results: Any = context.Queue(maxsize=_QUEUED_BATCHES)
    worker = context.Process(
        target=_prepare_file,
        args=(path, mapping, lookups, batch_size, results, os.getpid()),
        daemon=True,
        name="cpxm-import-reader",
    )
    worker.start()
    try:
        while True:
            try:
                kind, payload = results.get(timeout=_PARENT_POLL_SECONDS)
            except queue.Empty:
                if not worker.is_alive():
                    raise RuntimeError(
                        f"the process reading {path.name} stopped unexpectedly "
                        f"(exit code {worker.exitcode}); nothing after the last stored batch "
                        "was imported: run the import again to complete it"
                    ) from None
                continue
            if kind == "batch":
                yield payload
            elif kind == "done":
                return
            elif kind == "read_error":
                raise ReadError(payload)
            else:
                raise RuntimeError(f"reading {path.name} failed: {payload}")
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join(timeout=10)
        results.close()


def _prepare_file(
    path: Path,
    mapping: ImportMapping,
    lookups: Lookups,
    batch_size: int,
    results: Any,
    parent_pid: int,
) -> None:
    """The second process: read, prepare and hand over batches until done or orphaned."""

    def hand_over(message: tuple[str, Any]) -> bool:
        while True:
            try:
                results.put(message, timeout=_PARENT_POLL_SECONDS)
                return True
            except queue.Full:
                if os.getppid() != parent_pid:
                    return False  # the importing process is gone: stop quietly

    try:
        for batch in _prepared_batches(path, mapping, lookups, batch_size):
            if not hand_over(("batch", batch)):
                return
        hand_over(("done", None))
    except ReadError as error:
        hand_over(("read_error", str(error)))
    except Exception as error:  # reported to the importing process, which raises it
        hand_over(("error", f"{type(error).__name__}: {error}"))


def _prepared_batches(
    path: Path, mapping: ImportMapping, lookups: Lookups, batch_size: int
) -> Iterator[list[PreparedRecord]]:
    """The file's rows prepared, ``batch_size`` at a time: what either helper hands over."""
    converter = RowConverter(mapping, lookups)
    records = read_checked(path, mapping)
    # (itertools.batched would do, from Python 3.12; cpxm.db.chunked would import SQLAlchemy
    # into a process that never touches the store.)
    while batch := list(itertools.islice(records, batch_size)):
        yield [prepare(mapping, converter, record) for record in batch]


def prepared_in_thread(
    path: Path, mapping: ImportMapping, lookups: Lookups, batch_size: int
) -> Iterator[list[PreparedRecord]]:
    """Batches of prepared rows of ``path``, read and converted by a thread of this process.

    The database driver lets go of the interpreter while the database works (PostgreSQL's
    server, SQLite's pager), and this thread reads and converts the next batches meanwhile.
    Nothing crosses a process boundary, so nothing is pickled.
    """
    results: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=_QUEUED_BATCHES)
    stop = threading.Event()

    def hand_over(message: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                results.put(message, timeout=_PARENT_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in _prepared_batches(path, mapping, lookups, batch_size):
                if not hand_over(("batch", batch)):
                    return
            hand_over(("done", None))
        except BaseException as error:  # re-raised in the importing thread
            hand_over(("error", error))

    reader = threading.Thread(target=produce, name="cpxm-import-reader", daemon=True)
    reader.start()
    try:
        while True:
            kind, payload = results.get()
            if kind == "batch":
                yield payload
            elif kind == "done":
                return
            else:
                raise payload
    finally:
        stop.set()
        reader.join(timeout=10)
