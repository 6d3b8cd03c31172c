"""What every ``cpxm`` command shares: one line per failure, and one transaction per command.

A failure a user can act on is printed as ``error: ...`` on stderr with exit code 1, never as a
traceback; the domain commands (identity, surveys, safety, users, cases, ...) all go through here
so they fail alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cpxm.db import make_engine, session_factory
from cpxm.errors import DomainError

error_console = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Print ``message`` as one error line and end the command with exit code 1."""
    error_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def describe_detail(detail: Any) -> str:
    """A DomainError's detail as one line (validation details are lists of dicts)."""
    if isinstance(detail, list):
        return "; ".join(
            (".".join(str(p) for p in item.get("loc", [])) + ": " if item.get("loc") else "")
            + str(item.get("msg", item))
            if isinstance(item, dict)
            else str(item)
            for item in detail
        )
    return str(detail)


def database_error(error: SQLAlchemyError) -> str:
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    if "no such table" in reason or "does not exist" in reason:
        reason += "; is the store initialised and upgraded? run `cpxm init`"
    return f"database error: {reason}"


@contextmanager
def cli_session(*user_errors: type[Exception]) -> Iterator[Session]:
    """One transaction on ``CPXM_DATABASE_URL``: committed when the block ends.

    A DomainError, a database error, or any of ``user_errors`` becomes one line and exit code 1.
    """
    try:
        engine = make_engine()
    except (SQLAlchemyError, ValueError, ModuleNotFoundError) as error:
        fail(f"CPXM_DATABASE_URL is not usable: {error}")
    try:
        with session_factory(engine)() as session:
            yield session
            session.commit()
    except DomainError as error:
        fail(describe_detail(error.detail))
    except SQLAlchemyError as error:
        fail(database_error(error))
    except user_errors as error:
        fail(str(error))
    finally:
        engine.dispose()
