"""``cpxm cases scan`` and ``cpxm cases sweep``: the case jobs, on demand."""

from __future__ import annotations

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from cpxm.cases import scan, service
from cpxm.cli_support import fail as _fail
from cpxm.db import make_engine, session_factory

console = Console()
error_console = Console(stderr=True)
cases_app = typer.Typer(help="Open cases from new feedback, and sweep SLAs.", no_args_is_help=True)


@cases_app.command("scan")
def scan_command() -> None:
    """Open the cases that new survey answers and analysed feedback call for (idempotent)."""
    try:
        with session_factory(make_engine())() as session:
            report = scan.scan(session)
            session.commit()
    except SQLAlchemyError as error:
        _fail(f"database error: {str(error).splitlines()[0]}; run `cpxm init` first?")
        return
    console.print(
        f"read {report.answers_read} answer(s) and {report.feedback_read} feedback analysis(es); "
        f"opened {len(report.opened)} case(s), {report.already_open} already open"
    )


@cases_app.command("sweep")
def sweep_command() -> None:
    """Send due reminders and escalate cases past their SLA to their Accountable."""
    try:
        with session_factory(make_engine())() as session:
            sweep = service.sweep_slas(session)
            session.commit()
    except SQLAlchemyError as error:
        _fail(f"database error: {str(error).splitlines()[0]}; run `cpxm init` first?")
        return
    console.print(f"reminded {len(sweep.reminded)} case(s); escalated {len(sweep.escalated)}")
