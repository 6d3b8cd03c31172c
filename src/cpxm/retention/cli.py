"""`cpxm retention`: show and set how long each category is kept, and run it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cpxm.access.acting import acting_principal
from cpxm.access.roles import ADMINS
from cpxm.cli_support import cli_session, fail
from cpxm.retention.service import CATEGORIES, apply_retention, retention_policy, set_retention

retention_app = typer.Typer(
    help="How long each category of data is kept; delete or anonymise what is older.",
    no_args_is_help=True,
)
console = Console()


@retention_app.command("show")
def show_command() -> None:
    """Print the retention period of every data category."""
    with cli_session() as session:
        policy = retention_policy(session)
    table = Table("category", "kept", "then", "what it covers")
    for name, category in CATEGORIES.items():
        days = policy[name]
        kept = "until decided" if days is None else f"{days:,} days"
        table.add_row(name, kept, category.what_happens, category.description)
    console.print(table)


@retention_app.command("set")
def set_command(
    category: Annotated[str, typer.Argument(help=f"One of: {', '.join(CATEGORIES)}.")],
    days: Annotated[str, typer.Argument(help="Days to keep, or 'off' for no period.")],
) -> None:
    """Keep CATEGORY for DAYS days (or 'off'), as CPXM_TOKEN's user (an admin)."""
    if days != "off" and not days.isdigit():
        fail(f"days must be a whole number or 'off', not '{days}'")
    with cli_session() as session:
        principal = acting_principal(session, roles=ADMINS)
        set_retention(
            session,
            category=category,
            days=None if days == "off" else int(days),
            actor_user_id=principal.user_id,
        )
    console.print(f"{category}: " + ("no period" if days == "off" else f"kept {int(days):,} days"))


@retention_app.command("run")
def run_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would go; change nothing.")
    ] = False,
) -> None:
    """Delete or anonymise everything past its period now (the worker does this daily), as
    CPXM_TOKEN's user (an admin); a dry run changes nothing and needs no token."""
    with cli_session() as session:
        actor = None if dry_run else acting_principal(session, roles=ADMINS)
        report = apply_retention(
            session, dry_run=dry_run, actor_user_id=actor.user_id if actor else None
        )
    if not report.results:
        console.print("no retention period is set: nothing to do (see `cpxm retention set`)")
        return
    verb = "would change" if dry_run else "changed"
    table = Table("category", "older than", "table", f"rows {verb}")
    for result in report.results:
        for table_name, rows in result.rows.items():
            table.add_row(result.category, f"{result.cutoff:%Y-%m-%d}", table_name, f"{rows:,}")
    console.print(table)
    console.print(f"{report.total:,} row(s) {verb}" + (" (dry run)" if dry_run else ""))
