"""Imports handed to a worker: uploads too large to wait for in a request."""

from __future__ import annotations

import shutil
from contextlib import suppress
from pathlib import Path

from sqlalchemy.orm import Session

from cpxm.ingest.models import ImportRun
from cpxm.ingest.raw import ReadError
from cpxm.ingest.row_estimate import estimate_rows, progress_batch_size
from cpxm.ingest.service import import_file, mapping_of_run
from cpxm.jobs import huey, job_engine


@huey.task()
def run_queued_import(run_id: int, path: str) -> None:
    """Carry out the queued run ``run_id`` on the spooled file, then remove the file.

    The run records the outcome (completed, or failed with its reason); the spooled file goes
    either way, since a failed run is repeated by uploading again.
    """
    engine = job_engine()
    spooled = Path(path)
    try:
        with Session(engine) as session:
            run = session.get_one(ImportRun, run_id)
            mapping = mapping_of_run(run)
            # Counted first, so the run's page shows a share of the file from the first batch.
            try:
                expected = estimate_rows(spooled, mapping.file)
            except Exception:  # the import itself then says what is wrong with the file
                expected = None
            run.rows_expected = expected
            session.commit()
        # An unreadable file fails the run, which says why; there is nobody else to tell.
        with suppress(ReadError):
            import_file(
                engine,
                path=spooled,
                mapping=mapping,
                run_id=run_id,
                batch_size=progress_batch_size(expected),
            )
    finally:
        shutil.rmtree(spooled.parent, ignore_errors=True)
