"""``cpxm cases scan`` and ``cpxm cases sweep``: the case jobs, on demand, as a person.

The worker runs both as scheduled jobs; run by hand they act as the user of ``CPXM_TOKEN`` (an
admin or CX lead, who may run them through the API too), so the cases they open and the
escalations they make are audited as that person's.
"""

from __future__ import annotations

import typer
from rich.console import Console

from cpxm.access.acting import acting_principal
from cpxm.access.roles import CX_MANAGERS
from cpxm.cases import scan, service
from cpxm.cli_support import cli_session

console = Console()
error_console = Console(stderr=True)
cases_app = typer.Typer(help="Open cases from new feedback, and sweep SLAs.", no_args_is_help=True)


@cases_app.command("scan")
def scan_command() -> None:
    """Open the cases that new survey answers and analysed feedback call for (idempotent)."""
    with cli_session() as session:
        acting_principal(session, roles=CX_MANAGERS, reason="cpxm cases scan")
        report = scan.scan(session)
    console.print(
        f"read {report.answers_read} answer(s) and {report.feedback_read} feedback analysis(es); "
        f"opened {len(report.opened)} case(s), {report.already_open} already open"
    )


@cases_app.command("sweep")
def sweep_command() -> None:
    """Send due reminders and escalate cases past their SLA to their Accountable."""
    with cli_session() as session:
        acting_principal(session, roles=CX_MANAGERS, reason="cpxm cases sweep")
        sweep = service.sweep_slas(session)
    console.print(f"reminded {len(sweep.reminded)} case(s); escalated {len(sweep.escalated)}")
