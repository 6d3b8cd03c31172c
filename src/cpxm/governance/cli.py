"""``cpxm governance load FILE`` and ``cpxm governance show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from cpxm.access import audit
from cpxm.cli_support import fail as _fail
from cpxm.db import make_engine, session_factory
from cpxm.governance import service

console = Console()
error_console = Console(stderr=True)
governance_app = typer.Typer(help="Load and show the RACI governance matrix.", no_args_is_help=True)


@governance_app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="A RACI YAML file (see docs/governance.md).")],
) -> None:
    """Replace the RACI matrix by FILE; nothing changes if any line is wrong."""
    if not file.is_file():
        _fail(f"no such file: {file}")
    try:
        with session_factory(make_engine())() as session:
            report = service.load_matrix(session, text=file.read_text(encoding="utf-8"))
            audit.record(
                session,
                user_id=None,
                action="update",
                entity_type="raci_assignments",
                reason=f"cpxm governance load {file.name}",
                details={"assignments": report.assignments},
            )
            session.commit()
    except service.GovernanceError as error:
        _fail(f"{file} was not loaded:\n  " + "\n  ".join(error.problems))
        return
    except SQLAlchemyError as error:
        _fail(f"database error: {str(error).splitlines()[0]}; run `cpxm init` first?")
        return
    console.print(
        f"loaded {report.assignments} assignment(s) for {len(report.activities)} activit(ies): "
        f"{', '.join(report.activities)}; {report.teams_created} team(s) created"
    )


@governance_app.command("show")
def show() -> None:
    """Print the matrix as YAML (the same format `load` reads)."""
    with session_factory(make_engine())() as session:
        typer.echo(service.dump_matrix(session), nl=False)
