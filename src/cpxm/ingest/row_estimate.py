"""About how many rows a file holds, told cheaply before an import reads it, and the batch size
that lets a queued import show its progress.

Imports commit in batches of ``BATCH_SIZE`` (100,000 rows) for speed, and a run's page learns
progress when a batch commits: a file smaller than one batch showed "0 rows read" until it was
done. A queued run counts its file first (line ends in a text file, the row count Parquet and
a workbook keep in their metadata) and cuts it into about twenty batches, so its bar moves.
"""

from __future__ import annotations

import math
from pathlib import Path

from cpxm.ingest import BATCH_SIZE
from cpxm.ingest.mapping import FileOptions
from cpxm.ingest.raw import ReadError
from cpxm.ingest.readers import detect_format

PROGRESS_STEPS = 20  # a queued import's bar moves about this many times
MIN_PROGRESS_BATCH = 1_000  # smaller batches cost more than the progress they show


def estimate_rows(path: Path, options: FileOptions) -> int | None:
    """About how many data rows ``path`` holds (a text file's line ends, less its header: a
    quoted value spanning lines counts twice); None when the format keeps no cheap count."""
    try:
        file_format = detect_format(path, options)
    except ReadError:
        return None
    if file_format in ("csv", "jsonl"):
        lines = 0
        last = b"\n"
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        if last != b"\n":
            lines += 1  # a last line without its line end
        return max(lines - (1 if file_format == "csv" else 0), 0)
    if file_format == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if file_format == "xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = workbook[options.sheet] if options.sheet else workbook.worksheets[0]
            return max((sheet.max_row or 1) - 1, 0)
        except (KeyError, IndexError):
            return None
        finally:
            workbook.close()
    return None


def progress_batch_size(rows_expected: int | None) -> int:
    """The batch size for a queued import of about ``rows_expected`` rows."""
    if not rows_expected:
        return BATCH_SIZE
    wanted = math.ceil(rows_expected / PROGRESS_STEPS)
    return max(MIN_PROGRESS_BATCH, min(BATCH_SIZE, wanted))
