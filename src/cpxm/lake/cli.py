"""`cpxm lake`: keep a lake folder of the store's analytic facts up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cpxm.access.acting import acting_principal
from cpxm.access.roles import Domain
from cpxm.cli_support import cli_session

lake_app = typer.Typer(
    help="Export the analytic facts to a lake folder (Parquet), incrementally.",
    no_args_is_help=True,
)
console = Console()


@lake_app.callback()
def lake() -> None:
    """Export the analytic facts to a lake folder (Parquet), incrementally."""


@lake_app.command("export")
def export_command(
    to: Annotated[Path, typer.Option("--to", help="The lake folder (made if missing).")],
    identified: Annotated[
        bool,
        typer.Option(
            "--identified",
            help="Add people's golden-record ids and identity beside their keys "
            "(roles that may see identity only).",
        ),
    ] = False,
    store_tables: Annotated[
        bool,
        typer.Option(
            "--store-tables",
            help="Also write the store's analytic tables in the store's shape (under "
            "store/), for CPXM_ANALYTICS_ENGINE=spark; identity, free text and confidential "
            "surveys left out. Needs a role that may see identity.",
        ),
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Rewrite every file, not only what changed.")
    ] = False,
) -> None:
    """Write interactions, responses, answers, feedback analysis, cases and golden records to TO
    as partitioned Parquet, as CPXM_TOKEN's user may see them: people by pseudonymous key, no
    free text, no confidential survey. A second run writes only the buckets that changed."""
    from cpxm.lake.export import LakeError, export_lake

    with cli_session(LakeError) as session:
        principal = acting_principal(session, needs=Domain.COMMERCIAL, reason="lake export")
        report = export_lake(
            session,
            target=to,
            principal=principal,
            identified=identified,
            full=full,
            mirror=store_tables,
        )
    # Said only once the audit entry is committed.
    view = "identified" if report.identified else "pseudonymised"
    how = "rebuilt" if report.rebuilt else "updated"
    console.print(f"lake {how} at {report.target} ({view}):")
    width = max(14, *(len(dataset.name) for dataset in report.datasets))
    console.print(
        f"  {'dataset':<{width}} {'rows':>10} {'new':>9} {'files':>6} {'written':>8} "
        f"{'unchanged':>10} {'removed':>8}"
    )
    for dataset in report.datasets:
        console.print(
            f"  {dataset.name:<{width}} {dataset.rows:>10,} {dataset.new_rows:>9,} "
            f"{dataset.buckets:>6} {dataset.written:>8} {dataset.unchanged:>10} "
            f"{dataset.removed:>8}"
        )
