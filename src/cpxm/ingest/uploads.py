"""Files uploaded to ``POST /api/v1/imports``: which mapping, which format, and the import.

An API caller may name a shipped template or send a mapping's text, never a path: a mapping
name must not become a way to read files on the server.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import yaml
from sqlalchemy import Engine

from cpxm.db import session_factory
from cpxm.errors import DomainError
from cpxm.ingest.mapping import (
    TEMPLATES_DIRECTORY,
    ImportMapping,
    MappingError,
    load_mapping,
    parse_mapping,
    template_names,
)
from cpxm.ingest.models import ImportRun
from cpxm.ingest.raw import ReadError
from cpxm.ingest.service import ImportReport, file_sha256, import_file, new_run
from cpxm.timeutil import utc_now

_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".xlsx", ".parquet", ".pq")
# For uploads whose file name says nothing (a client that posts "data" or "blob").
_SUFFIX_BY_CONTENT_TYPE = {
    "text/csv": ".csv",
    "application/csv": ".csv",
    "text/tab-separated-values": ".tsv",
    "application/x-ndjson": ".jsonl",
    "application/jsonl": ".jsonl",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.apache.parquet": ".parquet",
    "application/x-parquet": ".parquet",
}
_COPY_CHUNK = 1 << 20


class BadMapping(DomainError):
    status_code = 422


class UnsupportedFormat(DomainError):
    status_code = 415


class UnreadableFile(DomainError):
    status_code = 422


class QueueUnavailable(DomainError):
    """The job queue cannot take a background import: refused, with the run marked failed."""

    status_code = 503


def mapping_for_upload(*, name: str | None, text: str | None) -> ImportMapping:
    """The mapping an upload names (a shipped template) or sends (YAML text), validated."""
    if (name is None) == (text is None):
        raise BadMapping(
            "give exactly one of 'mapping' (a template name) or 'mapping_yaml' (a mapping's text)"
        )
    try:
        if name is not None:
            if name not in template_names():
                raise MappingError(
                    f"'{name}' is not a mapping template; templates: {', '.join(template_names())}"
                )
            return load_mapping(TEMPLATES_DIRECTORY / f"{name}.yaml")
        try:
            document = yaml.safe_load(text or "")
        except yaml.YAMLError as error:
            raise MappingError(f"mapping_yaml is not valid YAML: {error}") from None
        return parse_mapping(document, default_name="uploaded mapping")
    except MappingError as error:
        raise BadMapping(str(error)) from None


def import_upload(
    engine: Engine,
    *,
    stream: BinaryIO,
    file_name: str | None,
    content_type: str | None,
    mapping: ImportMapping,
    dry_run: bool,
) -> ImportReport:
    """Copy the upload to a temporary file named like the original and import it from there.

    The readers sniff encodings and delimiters and open workbooks by path, and the run keeps
    the uploaded file's name; the copy goes chunk by chunk, so memory stays flat.
    """
    name = _file_name(file_name, content_type, mapping)
    with tempfile.TemporaryDirectory(prefix="cpxm-upload-") as directory:
        path = Path(directory) / name
        with path.open("wb") as target:
            shutil.copyfileobj(stream, target, _COPY_CHUNK)
        try:
            return import_file(engine, path=path, mapping=mapping, dry_run=dry_run)
        except ReadError as error:
            raise UnreadableFile(str(error)) from None


def spool_directory() -> Path:
    """Where uploads wait for a worker (``CPXM_SPOOL_DIR``; default: the system's temp folder).

    With several machines, workers must see the same folder (a shared volume).
    """
    configured = os.environ.get("CPXM_SPOOL_DIR", "").strip()
    directory = Path(configured) if configured else Path(tempfile.gettempdir()) / "cpxm-spool"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def spool_upload(
    *,
    stream: BinaryIO,
    file_name: str | None,
    content_type: str | None,
    mapping: ImportMapping,
) -> Path:
    """Keep an upload in a folder of its own in the spool folder; its path.

    Folders older than ``SPOOL_KEEP`` (a dry run whose import was never started) are removed
    on the way."""
    name = _file_name(file_name, content_type, mapping)
    spool = spool_directory()
    _remove_stale(spool)
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=spool))
    path = folder / name
    with path.open("wb") as target:
        shutil.copyfileobj(stream, target, _COPY_CHUNK)
    return path


SPOOL_KEEP = timedelta(days=2)
_SPOOL_TOKEN = re.compile(r"^upload-[A-Za-z0-9_]{1,40}/[\w.\- ]{1,200}$")


class SpooledFileGone(DomainError):
    status_code = 410


def spool_token(path: Path) -> str:
    """How a page names a spooled upload: its folder and file name, nothing above them."""
    return f"{path.parent.name}/{path.name}"


def spooled_file(token: str) -> Path:
    """The spooled upload ``token`` names, checked to lie inside the spool folder."""
    if not _SPOOL_TOKEN.match(token):
        raise SpooledFileGone("that upload is not known here; upload the file again")
    spool = spool_directory().resolve()
    path = (spool / token).resolve()
    if path.parent.parent != spool or not path.is_file():
        raise SpooledFileGone(
            "the uploaded file is no longer kept (imported already, or older than "
            f"{SPOOL_KEEP.days} days); upload it again"
        )
    return path


def _remove_stale(spool: Path) -> None:
    cutoff = time.time() - SPOOL_KEEP.total_seconds()
    for folder in spool.glob("upload-*"):
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def queue_upload(
    engine: Engine,
    *,
    stream: BinaryIO,
    file_name: str | None,
    content_type: str | None,
    mapping: ImportMapping,
) -> ImportRun:
    """Keep the upload in the spool folder, record a queued run, and hand it to a worker."""
    path = spool_upload(
        stream=stream, file_name=file_name, content_type=content_type, mapping=mapping
    )
    return queue_spooled(engine, path=path, mapping=mapping)


def queue_spooled(engine: Engine, *, path: Path, mapping: ImportMapping) -> ImportRun:
    """Record a queued run for a spooled upload and hand it to a worker.

    The run is committed before the job is enqueued, so the worker always finds it; the caller
    follows it at ``GET /api/v1/imports/{id}`` (queued, running, completed or failed).
    """
    from cpxm.ingest.jobs import run_queued_import

    folder = path.parent
    with session_factory(engine)() as session:
        run = new_run(mapping, file_name=path.name, file_sha256=file_sha256(path))
        run.status = "queued"
        session.add(run)
        session.commit()
    try:
        run_queued_import(run.id, str(path))
    except Exception as error:
        # A queued import has no sweep to find it later (its file waits in a spool folder), so
        # a queue that cannot take it is a clear refusal, never a run left queued forever.
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        refusal = (
            f"the job queue is unreachable ({type(error).__name__}{': ' if reason else ''}"
            f"{reason}); nothing was imported: import without background, or again later"
        )
        with session_factory(engine)() as session:
            failed = session.get(ImportRun, run.id)
            if failed is not None:
                failed.status = "failed"
                failed.error = refusal
                failed.finished_at = utc_now()
            session.commit()
        shutil.rmtree(folder, ignore_errors=True)
        raise QueueUnavailable(refusal) from None
    return run


def _file_name(file_name: str | None, content_type: str | None, mapping: ImportMapping) -> str:
    # Only the last path component, in plain characters: the name is used on this disk.
    name = re.sub(r"[^\w.\- ]", "_", Path(file_name or "upload").name).strip(". ") or "upload"
    if mapping.file.format or Path(name).suffix.lower() in _SUFFIXES:
        return name[-200:]
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in _SUFFIX_BY_CONTENT_TYPE:
        return name[-190:] + _SUFFIX_BY_CONTENT_TYPE[media_type]
    raise UnsupportedFormat(
        f"cannot import '{file_name}' ({media_type or 'no content type'}): upload a .csv, .tsv, "
        ".txt, .jsonl, .xlsx or .parquet file, or set file.format in the mapping"
    )
