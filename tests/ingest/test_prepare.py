"""Large files are prepared in a second process: the results must be those of one process."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cpxm.ingest.models import QuarantinedRow
from cpxm.ingest.readers import ReadError
from cpxm.ingest.service import import_file
from cpxm.interactions.models import Interaction
from tests.ingest.test_service import (
    CALL_MAPPING,
    HCP_MAPPING,
    HCPS,
    _mapping,
    _seed_taxonomy,
    _write,
)

CALLS = (
    "CALL_ID;ACCOUNT_ID;WHEN;CHANNEL;NOTES\n"
    'C1;A1;03/02/2025 14:30;F2F;"Discussed dosing.\nFollow-up requested."\n'
    "C2;A9;03/02/2025 15:00;Tel;\n"
    "C3;A1;2025-02-04T09:00:00+01:00;tel;\n"
    "C4;A1;31/02/2025 10:00;F2F;\n"
    "C5;A1;04/02/2025 11:00;Fax;\n"
)


def _outcome(engine: Engine, tmp_path: Path, worker: bool) -> tuple[object, ...]:
    import_file(engine, path=_write(tmp_path / "hcps.csv", HCPS), mapping=_mapping(HCP_MAPPING))
    calls = _write(tmp_path / "calls.csv", CALLS)
    first = import_file(engine, path=calls, mapping=_mapping(CALL_MAPPING), worker=worker)
    again = import_file(engine, path=calls, mapping=_mapping(CALL_MAPPING), worker=worker)
    with Session(engine) as session:
        reasons = sorted(session.scalars(select(QuarantinedRow.reason).distinct()))
        stored = sorted(
            (i.occurred_at.isoformat(), i.channel_code, i.notes)
            for i in session.scalars(select(Interaction))
        )
    counts = (first.read, first.created, first.quarantined, again.unchanged, again.quarantined)
    return counts, reasons, stored


def test_a_file_prepared_in_a_second_process_imports_as_in_one(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed_taxonomy(store_engine)
    in_worker = _outcome(store_engine, tmp_path, worker=True)
    assert multiprocessing.active_children() == []  # the reader ended with the import
    assert in_worker[0] == (5, 2, 3, 2, 3)
    assert any("'Fax'" in reason for reason in in_worker[1])  # type: ignore[attr-defined]
    # The same files again in one process find everything already there, unchanged.
    counts, reasons, stored = _outcome(store_engine, tmp_path, worker=False)
    assert counts == (5, 0, 3, 2, 3)
    assert (reasons, stored) == (in_worker[1], in_worker[2])


def test_a_read_error_in_the_second_process_reaches_the_caller(
    store_engine: Engine, tmp_path: Path
) -> None:
    _seed_taxonomy(store_engine)
    calls = _write(tmp_path / "calls.csv", "CALL_ID;ACCOUNT_ID;WHEN\nC1;A1;03/02/2025 14:30\n")
    with pytest.raises(ReadError, match="has no column 'CHANNEL'"):
        import_file(store_engine, path=calls, mapping=_mapping(CALL_MAPPING), worker=True)
    assert multiprocessing.active_children() == []
