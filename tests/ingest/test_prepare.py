"""Large files may be prepared by a second thread or process: the results must be the same."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cpxm.ingest.models import QuarantinedRow
from cpxm.ingest.prepare import reader_for
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


def _outcome(engine: Engine, tmp_path: Path, reader: str) -> tuple[object, ...]:
    import_file(engine, path=_write(tmp_path / "hcps.csv", HCPS), mapping=_mapping(HCP_MAPPING))
    calls = _write(tmp_path / "calls.csv", CALLS)
    first = import_file(engine, path=calls, mapping=_mapping(CALL_MAPPING), reader=reader)
    again = import_file(engine, path=calls, mapping=_mapping(CALL_MAPPING), reader=reader)
    with Session(engine) as session:
        reasons = sorted(session.scalars(select(QuarantinedRow.reason).distinct()))
        stored = sorted(
            (i.occurred_at.isoformat(), i.channel_code, i.notes)
            for i in session.scalars(select(Interaction))
        )
    counts = (first.read, first.created, first.quarantined, again.unchanged, again.quarantined)
    return counts, reasons, stored


@pytest.mark.parametrize("reader", ["thread", "process"])
def test_a_file_prepared_by_a_helper_imports_as_inline(
    store_engine: Engine, tmp_path: Path, reader: str
) -> None:
    _seed_taxonomy(store_engine)
    in_worker = _outcome(store_engine, tmp_path, reader)
    # The reader ended with the import.
    assert multiprocessing.active_children() == []
    assert not any(t.name == "cpxm-import-reader" for t in threading.enumerate())
    assert in_worker[0] == (5, 2, 3, 2, 3)
    assert any("'Fax'" in reason for reason in in_worker[1])  # type: ignore[attr-defined]
    # The same files again in one process find everything already there, unchanged.
    counts, reasons, stored = _outcome(store_engine, tmp_path, "inline")
    assert counts == (5, 0, 3, 2, 3)
    assert (reasons, stored) == (in_worker[1], in_worker[2])


@pytest.mark.parametrize("reader", ["thread", "process"])
def test_a_read_error_in_the_helper_reaches_the_caller(
    store_engine: Engine, tmp_path: Path, reader: str
) -> None:
    _seed_taxonomy(store_engine)
    calls = _write(tmp_path / "calls.csv", "CALL_ID;ACCOUNT_ID;WHEN\nC1;A1;03/02/2025 14:30\n")
    with pytest.raises(ReadError, match="has no column 'CHANNEL'"):
        import_file(store_engine, path=calls, mapping=_mapping(CALL_MAPPING), reader=reader)
    assert multiprocessing.active_children() == []


def test_an_unknown_reader_setting_is_refused_with_the_choices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPXM_IMPORT_READER", "threads")
    with pytest.raises(ValueError, match="expected one of inline, thread, process"):
        reader_for(_write(tmp_path / "calls.csv", CALLS))
