"""``cpxm analyze``: analyse the store's pending feedback, or a CSV file without storing it.

``cpxm.cli`` registers it: ``app.command("analyze")(analyze_command)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from cpxm.cli_support import fail as _fail
from cpxm.db import make_engine, session_factory
from cpxm.feedback.files import FileAnalysisError, analyse_csv, count_rows
from cpxm.text import ProductCatalogue, build_catalogue

console = Console()
error_console = Console(stderr=True)


def _progress(description: str) -> Progress:
    return Progress(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=not console.is_terminal,
    )


def analyze_command(
    input_file: Annotated[
        Path | None,
        typer.Option("--input", help="A CSV file to analyse instead of the store's feedback."),
    ] = None,
    text_column: Annotated[
        str | None, typer.Option("--text-column", help="The input's column holding the text.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Where to write the analysed CSV.")
    ] = None,
    product_column: Annotated[
        str | None,
        typer.Option(
            "--product-column",
            help="The input's column naming the medicine each text is about (a review site's "
            "drug, a product survey's product); a row with one is read as about a medicine.",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=20_000, help="Items per committed batch (store mode).")
    ] = 500,
) -> None:
    """Analyse pending feedback in the store (sentiment, themes, PII, safety; cases opened).

    With --input FILE.csv --text-column COL --output OUT.csv, analyse a file and store nothing:
    OUT.csv is the input plus language, sentiment_label, sentiment_score, themes,
    redacted_text, pii, safety (e.g. "ae;pc", empty when none) and safety_context.
    --product-column COL names the medicine each row is about, when the source knows it.
    """
    if input_file is not None or output is not None or text_column is not None:
        if input_file is None or output is None or text_column is None:
            _fail(
                "a file analysis needs all of --input FILE.csv --text-column COL --output OUT.csv"
            )
        assert input_file is not None and output is not None and text_column is not None
        _analyze_file(input_file, text_column, output, product_column)
        return
    if product_column is not None:
        _fail("--product-column goes with --input FILE.csv")
    _analyze_store(batch_size)


def _store_catalogue() -> ProductCatalogue:
    """The store's products when a store is there (read only); else the aliases file alone."""
    try:
        engine = make_engine()
        if not inspect(engine).has_table("products"):
            return build_catalogue([])
        from cpxm.feedback.service import load_catalogue

        with session_factory(engine)() as session:
            return load_catalogue(session)
    except (SQLAlchemyError, ValueError, ModuleNotFoundError):
        return build_catalogue([])


def _analyze_file(
    input_file: Path, text_column: str, output: Path, product_column: str | None
) -> None:
    if not input_file.is_file():
        _fail(f"{input_file} does not exist or is not a file")
    if output.resolve() == input_file.resolve():
        _fail("--output must be a different file from --input")
    total = count_rows(input_file)
    catalogue = _store_catalogue()
    with _progress(f"analysing {input_file.name}") as progress:
        task = progress.add_task("file", total=max(total, 1))
        try:
            report = analyse_csv(
                input_path=input_file,
                output_path=output,
                text_column=text_column,
                product_column=product_column,
                catalogue=catalogue,
                progress=lambda done: progress.update(task, completed=done),
            )
        except FileAnalysisError as error:
            output.unlink(missing_ok=True)
            _fail(str(error))
            return
    console.print(
        f"analysed {report.rows:,} row(s) into {output}; {report.with_safety:,} with a possible "
        "safety event (column 'safety')",
        highlight=False,
        soft_wrap=True,
    )


def _analyze_store(batch_size: int) -> None:
    from cpxm.safety.screening import screen_all_pending

    try:
        engine = make_engine()
    except (SQLAlchemyError, ValueError, ModuleNotFoundError) as error:
        _fail(f"CPXM_DATABASE_URL is not usable: {error}")
        return
    try:
        with _progress("analysing feedback") as progress:
            task = progress.add_task("store", total=None)
            report = screen_all_pending(
                engine,
                batch_size=batch_size,
                progress=lambda done, total: progress.update(
                    task, completed=done, total=max(total, 1)
                ),
            )
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        if "no such table" in reason or "does not exist" in reason:
            reason += "; is the store initialised and upgraded? run `cpxm init`"
        _fail(f"database error: {reason}")
        return
    kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(report.cases_by_kind.items()))
    console.print(
        f"analysed {report.analysed:,} feedback item(s), {report.failed:,} failed; "
        f"{report.cases_opened:,} safety case(s) opened" + (f" ({kinds})" if kinds else ""),
        highlight=False,
        soft_wrap=True,
    )
    if report.failed:
        raise typer.Exit(code=2)
