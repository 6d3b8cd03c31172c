"""``cpxm governance load FILE`` (signed, as CPXM_TOKEN's user) and ``cpxm governance show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cpxm.access.acting import acting_principal, acting_signer
from cpxm.access.roles import CX_MANAGERS
from cpxm.cli_support import cli_session
from cpxm.cli_support import fail as _fail
from cpxm.db import make_engine, session_factory
from cpxm.governance import service

console = Console()
error_console = Console(stderr=True)
governance_app = typer.Typer(help="Load and show the RACI governance matrix.", no_args_is_help=True)


@governance_app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="A RACI YAML file (see docs/governance.md).")],
    meaning: Annotated[
        str, typer.Option("--meaning", help='What your signature means, e.g. "approved".')
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why the matrix changes.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read your password from standard input.")
    ] = False,
) -> None:
    """Replace the RACI matrix by FILE, signed by CPXM_TOKEN's user (admin or cx_lead); nothing
    changes if any line is wrong or the password is."""
    if not file.is_file():
        _fail(f"no such file: {file}")
    text = file.read_text(encoding="utf-8")
    with cli_session() as session:
        principal = acting_principal(session, roles=CX_MANAGERS, reason=reason)
        signer = acting_signer(
            session, principal, meaning=meaning, reason=reason, password_stdin=password_stdin
        )
        try:
            report = service.replace_matrix(session, text=text, signer=signer)
        except service.GovernanceError as error:
            _fail(f"{file} was not loaded:\n  " + "\n  ".join(error.problems))
    console.print(
        f"loaded {report.assignments} assignment(s) for {len(report.activities)} activit(ies): "
        f"{', '.join(report.activities)}; {report.teams_created} team(s) created (signed by "
        f"{signer.email})"
    )


@governance_app.command("show")
def show() -> None:
    """Print the matrix as YAML (the same format `load` reads)."""
    with session_factory(make_engine())() as session:
        typer.echo(service.dump_matrix(session), nl=False)
