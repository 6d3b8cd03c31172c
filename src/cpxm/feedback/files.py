"""``cpxm analyze --input``: analyse a CSV file's text column into a new CSV, storing nothing."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cpxm import csvout
from cpxm.text import ProductCatalogue, analyse_texts

ADDED_COLUMNS = (
    "language",
    "sentiment_label",
    "sentiment_score",
    "themes",
    "redacted_text",
    "pii",
    "safety",
    "safety_context",
)


# Rows analysed together: the sentence model costs less per text in a batch.
BATCH = 64


class FileAnalysisError(ValueError):
    """The input cannot be analysed as asked; the message says what to change."""


@dataclass(frozen=True)
class FileAnalysisReport:
    rows: int
    with_safety: int


def count_rows(path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


def analyse_csv(
    *,
    input_path: Path,
    output_path: Path,
    text_column: str,
    catalogue: ProductCatalogue | None,
    product_column: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> FileAnalysisReport:
    """Copy ``input_path`` to ``output_path`` with the analysis columns added to every row.

    A row whose ``product_column`` is filled is about that medicine (a review on a drug's
    page), so the detector need not find a treatment named in its text."""
    try:
        handle = input_path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise FileAnalysisError(f"cannot read {input_path}: {error.strerror}") from None
    rows = 0
    with_safety = 0
    with handle, output_path.open("w", encoding="utf-8", newline="") as out:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        for wanted in (text_column, product_column):
            if wanted is not None and wanted not in columns:
                raise FileAnalysisError(
                    f"{input_path} has no column '{wanted}'; its columns are: "
                    + (", ".join(columns) or "(none: is the file empty?)")
                )
        clashes = [column for column in ADDED_COLUMNS if column in columns]
        if clashes:
            raise FileAnalysisError(
                f"{input_path} already has column(s) {', '.join(clashes)}, which the analysis "
                "adds; rename them first"
            )
        writer = csvout.dict_writer(out, [*columns, *ADDED_COLUMNS])
        writer.writeheader()

        def write(batch: list[dict[str, str]]) -> int:
            analyses = analyse_texts(
                [row.get(text_column) or "" for row in batch],
                catalogue=catalogue,
                about_treatment=[
                    bool(product_column and (row.get(product_column) or "").strip())
                    for row in batch
                ],
            )
            found = 0
            for row, analysis in zip(batch, analyses, strict=True):
                kinds = analysis.safety.kinds
                found += bool(kinds)
                writer.writerow(
                    {
                        **row,
                        "language": analysis.language or "",
                        "sentiment_label": analysis.sentiment.label,
                        "sentiment_score": f"{analysis.sentiment.score:.4f}",
                        "themes": ";".join(analysis.themes),
                        "redacted_text": analysis.redacted_text,
                        "pii": ";".join(analysis.pii_kinds),
                        "safety": ";".join(kinds),
                        "safety_context": ";".join(analysis.safety.contexts),
                    }
                )
            return found

        try:
            batch: list[dict[str, str]] = []
            for row in reader:
                batch.append(row)
                if len(batch) == BATCH:
                    with_safety += write(batch)
                    rows += len(batch)
                    batch = []
                    if progress:
                        progress(rows)
            if batch:
                with_safety += write(batch)
                rows += len(batch)
        except UnicodeDecodeError as error:
            raise FileAnalysisError(
                f"{input_path} is not UTF-8 text (byte {error.start} of a row); "
                "save it as UTF-8 CSV"
            ) from None
        except csv.Error as error:
            raise FileAnalysisError(f"{input_path} line {reader.line_num}: {error}") from None
    if progress:
        progress(rows)
    return FileAnalysisReport(rows, with_safety)
