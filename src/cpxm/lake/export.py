"""Write the store's analytic facts to a lake folder as Parquet; on later runs, only what changed.

Layout: ``PATH/<dataset>/bucket=<n>/part-0.parquet`` (hive-style, so Spark, DuckDB, Ibis and
pandas read ``PATH/<dataset>`` as one table with a ``bucket`` column), and ``PATH/_cpxm_lake.json``,
the state of the last run. A bucket holds the rows whose base-table id falls in
``[n * bucket_size, (n + 1) * bucket_size)``; ids only grow, so new rows land in the newest buckets.

Why fingerprints and not only watermarks: the facts change in place without an ``updated_at``
(a resolve moves a provisional record's interactions onto the golden record, an erasure blanks
rows, a case closes, a retention run deletes old rows). Each run therefore reads every bucket,
encodes it, and compares the SHA-256 of the encoding with the one the state recorded: a bucket
is written only when its content differs, removed when its rows are gone, and left alone
otherwise. The id and ``updated_at`` watermarks are kept in the state too and reported, so a run
says how many rows are new since the last. Files are replaced atomically (written beside, then
renamed) and the state is written last, so a run that dies half way leaves a lake that reads
correctly and a next run that repairs it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cpxm.access import audit
from cpxm.access.keys import person_key, pseudonym_secret
from cpxm.access.principal import Principal
from cpxm.access.records import hidden_case_types, shows_identity
from cpxm.cases.models import Case
from cpxm.errors import DomainError
from cpxm.lake.datasets import DATASET_NAMES, DATASETS, ROW, Dataset
from cpxm.lake.mirror import mirror_datasets
from cpxm.stakeholders.models import Stakeholder
from cpxm.timeutil import utc_now

FORMAT_VERSION = 1
STATE_FILE = "_cpxm_lake.json"
BUCKET_SIZE = 100_000
PART_FILE = "part-0.parquet"


class LakeError(DomainError):
    status_code = 400


class LakeRefused(DomainError):
    status_code = 403


@dataclass
class DatasetReport:
    name: str
    rows: int = 0
    buckets: int = 0
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    rows_written: int = 0
    new_rows: int = 0  # rows above the last run's id watermark


@dataclass
class LakeReport:
    target: Path
    identified: bool
    rebuilt: bool  # every bucket was compared against nothing (first run, --full, new view)
    datasets: list[DatasetReport] = field(default_factory=list)

    @property
    def files_written(self) -> int:
        return sum(dataset.written for dataset in self.datasets)


def _view_signature(
    secret: bytes, identified: bool, hidden: Sequence[str], size: int, mirror: bool
) -> str:
    """What the lake's content depends on besides the store: when it changes (a new pseudonym
    secret, an identified export over a pseudonymised one, another role's firewall), every
    bucket is rewritten and nothing of the old view stays behind."""
    view = {
        "format": FORMAT_VERSION,
        "secret": hashlib.sha256(secret).hexdigest(),
        "identified": identified,
        "hidden_case_types": sorted(hidden),
        "bucket_size": size,
        "mirror": mirror,
    }
    return hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()


def _read_state(target: Path, *, full: bool) -> dict[str, Any] | None:
    path = target / STATE_FILE
    if not path.exists():
        if target.exists() and any(target.iterdir()):
            raise LakeError(
                f"{target} holds files but is not a CPXM lake (no {STATE_FILE}); "
                "export to an empty or new folder"
            )
        return None
    if full:
        # A rebuild needs nothing of the old state, only to know the folder is a lake.
        return {"datasets": dict.fromkeys(_all_dataset_names())}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise LakeError(
            f"{path} cannot be read ({error}); re-export with --full to rebuild the lake"
        ) from error
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise LakeError(f"{path} is not a state this CPXM writes; re-export with --full")
    return state


def _all_dataset_names() -> list[str]:
    return [*DATASET_NAMES, *(dataset.name for dataset in mirror_datasets())]


def _restricted(dataset: Dataset, query: Select[Any], principal: Principal) -> Select[Any]:
    hidden = hidden_case_types(principal)
    if dataset.name == "cases" and hidden:
        return query.where(Case.case_type.not_in(hidden))
    return query


def _encode(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    # No statistics on the key columns' words would help; zstd keeps files small and quick.
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _write_atomically(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(payload)
    os.replace(partial, path)


def _bucket_dir(target: Path, dataset: str, bucket: int) -> Path:
    return target / dataset / f"bucket={bucket}"


class _Keys:
    """A person's pseudonymous key, computed once per person per run."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._keys: dict[int, str] = {}

    def __call__(self, stakeholder_id: int | None) -> str | None:
        if stakeholder_id is None:
            return None
        key = self._keys.get(stakeholder_id)
        if key is None:
            key = self._keys[stakeholder_id] = person_key(self._secret, stakeholder_id)
        return key


def _table(
    dataset: Dataset, rows: Sequence[Sequence[Any]], keys: _Keys, identified: bool
) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    arrays: list[pa.Array] = []
    for position, column in enumerate(dataset.columns, start=1):
        values = columns[position]
        if column.role == "key":
            arrays.append(pa.array([keys(value) for value in values], type=pa.string()))
            if identified:
                arrays.append(pa.array(values, type=pa.int64()))
        elif column.role == "identity":
            if identified:
                arrays.append(pa.array(values, type=column.type))
        else:
            arrays.append(pa.array(values, type=column.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(dataset.arrow_fields(identified)))


def export_lake(
    session: Session,
    *,
    target: Path,
    principal: Principal,
    identified: bool = False,
    full: bool = False,
    mirror: bool = False,
    bucket_size: int = BUCKET_SIZE,
) -> LakeReport:
    """Bring the lake at ``target`` up to date with the store, as ``principal`` may see it.

    With ``mirror``, also the store's analytic tables in the store's shape
    (:mod:`cpxm.lake.mirror`), which analytics on Spark read. Flushes its audit entry, never
    commits; the files are written as it goes (a lake is not transactional with the store, and
    a rerun repairs any half-written state)."""
    if bucket_size < 1:
        raise LakeError("the bucket size must be at least 1")
    if identified and not shows_identity(principal):
        raise LakeRefused(
            f"{principal.email} is {principal.role.value}, whose role may not see people's "
            "identity; export without --identified (people by their pseudonymous key)"
        )
    if mirror and not shows_identity(principal):
        raise LakeRefused(
            f"{principal.email} is {principal.role.value}, whose role may not see people's "
            "identity; the store's tables carry its internal ids, so --store-tables needs a "
            "role that may (admin)"
        )
    if target.exists() and not target.is_dir():
        raise LakeError(f"{target} is a file; give a folder for the lake")
    state = _read_state(target, full=full)
    secret = pseudonym_secret(session)
    signature = _view_signature(
        secret, identified, hidden_case_types(principal), bucket_size, mirror
    )
    rebuilt = full or state is None or state.get("view") != signature
    previous: dict[str, Any] = {} if rebuilt or state is None else state["datasets"]
    if rebuilt and state is not None:
        # Nothing of another view may outlive this run: clear the old buckets first.
        for name in state.get("datasets", {}):
            shutil.rmtree(target / name, ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True)

    keys = _Keys(secret)
    report = LakeReport(target=target, identified=identified, rebuilt=rebuilt)
    datasets_state: dict[str, Any] = {}
    for dataset in (*DATASETS, *(mirror_datasets() if mirror else ())):
        dataset_report, dataset_state = _export_dataset(
            session,
            dataset,
            target=target,
            principal=principal,
            keys=keys,
            identified=identified,
            bucket_size=bucket_size,
            previous=previous.get(dataset.name, {}),
        )
        report.datasets.append(dataset_report)
        datasets_state[dataset.name] = dataset_state

    stakeholders_changed = session.scalar(
        select(func.max(Stakeholder.updated_at)).where(Stakeholder.status != "merged")
    )
    new_state = {
        "format": FORMAT_VERSION,
        "view": signature,
        "identified": identified,
        "mirror": mirror,
        "bucket_size": bucket_size,
        "exported_at": utc_now().isoformat(timespec="seconds"),
        "watermarks": {
            "stakeholders_updated_at": _iso(stakeholders_changed),
            **{name: state_["max_id"] for name, state_ in datasets_state.items()},
        },
        "datasets": datasets_state,
    }
    _write_atomically(
        target / STATE_FILE, (json.dumps(new_state, indent=2, sort_keys=True) + "\n").encode()
    )
    audit.record(
        session,
        user_id=principal.user_id,
        action="lake_export",
        entity_type="lake",
        details={
            "target": str(target),
            "identified": identified,
            "mirror": mirror,
            "rebuilt": rebuilt,
            "rows": {d.name: d.rows for d in report.datasets},
            "files_written": report.files_written,
        },
    )
    session.flush()
    return report


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _export_dataset(
    session: Session,
    dataset: Dataset,
    *,
    target: Path,
    principal: Principal,
    keys: _Keys,
    identified: bool,
    bucket_size: int,
    previous: dict[str, Any],
) -> tuple[DatasetReport, dict[str, Any]]:
    report = DatasetReport(dataset.name)
    query = _restricted(dataset, dataset.query(), principal)
    numbered = query.subquery()
    bucket_of = numbered.c[ROW] // bucket_size
    buckets = sorted(
        int(bucket)
        for bucket in session.scalars(select(bucket_of).distinct().select_from(numbered))
    )
    old_buckets: dict[str, Any] = previous.get("buckets", {})
    watermark = int(previous.get("max_id") or 0)
    row_column = query.selected_columns[0]
    new_buckets: dict[str, Any] = {}
    max_id = 0
    for bucket in buckets:
        low, high = bucket * bucket_size, (bucket + 1) * bucket_size
        rows = session.execute(
            query.where(row_column >= low, row_column < high).order_by(row_column)
        ).all()
        if not rows:
            continue
        max_id = max(max_id, int(rows[-1][0]))
        report.new_rows += sum(1 for row in rows if row[0] > watermark)
        payload = _encode(_table(dataset, rows, keys, identified))
        digest = hashlib.sha256(payload).hexdigest()
        path = _bucket_dir(target, dataset.name, bucket) / PART_FILE
        if old_buckets.get(str(bucket), {}).get("sha256") == digest and path.exists():
            report.unchanged += 1
        else:
            _write_atomically(path, payload)
            report.written += 1
            report.rows_written += len(rows)
        new_buckets[str(bucket)] = {"rows": len(rows), "sha256": digest}
        report.rows += len(rows)
    for stale in sorted(set(old_buckets) - set(new_buckets), key=int):
        shutil.rmtree(_bucket_dir(target, dataset.name, int(stale)), ignore_errors=True)
        report.removed += 1
    report.buckets = len(new_buckets)
    return report, {"buckets": new_buckets, "rows": report.rows, "max_id": max_id}
