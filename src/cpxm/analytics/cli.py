"""``cpxm analytics ...``: check and rebuild the summaries analytics read.

``cpxm.cli`` registers it: ``app.add_typer(analytics_app, name="analytics")``.
"""

from __future__ import annotations

import typer
from rich.console import Console

from cpxm.analytics.kept import refresh_kept_summaries
from cpxm.analytics.summaries import (
    rebuild_summaries,
    refresh_planner_statistics,
    summary_drift,
)
from cpxm.analytics.touch_summaries import refresh_touch_summaries
from cpxm.cli_support import cli_session

console = Console()
analytics_app = typer.Typer(
    help="Check and rebuild the summaries the analytics pages read.", no_args_is_help=True
)


@analytics_app.command("check")
def check_command() -> None:
    """Compare the interaction summary with a fresh count; exit 1 when they differ."""
    with cli_session() as session:
        check = summary_drift(session)
    console.print(
        f"interactions: {check.interactions:,}; summarised: {check.summarised:,}; "
        f"groups that differ: {check.drifted_groups:,}",
        highlight=False,
    )
    if check.drifted_groups:
        console.print("run `cpxm analytics rebuild` to recount", highlight=False)
        raise typer.Exit(code=1)


@analytics_app.command("rebuild")
def rebuild_command() -> None:
    """Recount the interaction summary from the interactions, recompute what respondents met
    before answering and the coordination and EX-CX pages' summaries, in one transaction, and
    refresh the planner's statistics (SQLite never gathers them by itself)."""
    with cli_session() as session:
        groups = rebuild_summaries(session)
        touches = refresh_touch_summaries(session)
        refresh_planner_statistics(session)
        kept = refresh_kept_summaries(session)
    console.print(f"rebuilt interaction_daily_counts: {groups:,} groups", highlight=False)
    console.print(
        f"rebuilt response_touch_summaries: {touches.responses:,} responses; "
        f"response_exposures: {touches.exposures:,} responses",
        highlight=False,
    )
    for name, rows in kept.items():
        if rows is None:
            console.print(f"{name} summary: not kept (Spark engine, or facts changed meanwhile)")
        else:
            console.print(f"rebuilt the {name} summary: {rows:,} rows", highlight=False)
