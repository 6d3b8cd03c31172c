"""The ``cpxm`` command line: set up the store, generate the demo, serve the app."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from cpxm.db import make_engine
from cpxm.migrate import current_revision, head_revision, upgrade_database

app = typer.Typer(
    help="CPXM: Customer & Patient Experience Management for life sciences.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Manage the operational store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console()
error_console = Console(stderr=True)


class CommandError(Exception):
    """A failure the user can act on; printed as one line, exit code 1."""


def _fail(message: str) -> None:
    error_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


@contextmanager
def _user_errors(engine: Engine | None = None) -> Iterator[None]:
    """Turn the failures a user can fix into one line each, instead of a traceback."""
    try:
        yield
    except CommandError as error:
        _fail(str(error))
    except OperationalError as error:
        where = engine.url.render_as_string(hide_password=True) if engine else "the database"
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        _fail(f"cannot use the database at {where}: {reason}")
    except SQLAlchemyError as error:
        _fail(f"database error: {str(error).splitlines()[0]}")


def _engine() -> Engine:
    try:
        return make_engine()
    except (SQLAlchemyError, ValueError, ModuleNotFoundError) as error:
        _fail(f"CPXM_DATABASE_URL is not usable: {error}")
        raise  # unreachable: _fail exits


@app.command()
def init() -> None:
    """Create the store, or upgrade it to the current schema."""
    engine = _engine()
    with _user_errors(engine):
        revision = upgrade_database(engine)
    where = engine.url.render_as_string(hide_password=True)
    console.print(f"store ready at {where} (schema revision {revision})")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the schema migrations up to REVISION (default: the latest)."""
    engine = _engine()
    with _user_errors(engine):
        before = current_revision(engine)
        after = upgrade_database(engine, revision)
    console.print(f"schema revision {before or '(empty)'} -> {after}")


@db_app.command("current")
def db_current() -> None:
    """Print the store's schema revision and whether it is the latest."""
    engine = _engine()
    with _user_errors(engine):
        current = current_revision(engine)
        head = head_revision(engine)
    state = "up to date" if current == head else f"behind (latest is {head}): run `cpxm db upgrade`"
    console.print(f"schema revision {current or '(empty)'}: {state}")


@app.command()
def demo(
    scale: Annotated[
        float, typer.Option(min=0.001, max=100.0, help="1 = 3,000 HCPs, ~250,000 interactions.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Same seed and scale, same workspace.")] = 42,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the web app once the demo is loaded.")
    ] = True,
    host: Annotated[str, typer.Option(help="Interface to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8000,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Regenerate even if this demo is already loaded.")
    ] = False,
) -> None:
    """Generate a realistic demo workspace into the store, then serve it."""
    from cpxm.demo.service import (
        clear_demo,
        existing_demo,
        generate_demo,
        store_has_non_demo_data,
    )

    engine = _engine()
    if serve_after:
        _check_port_free(host, port)
    with _user_errors(engine):
        upgrade_database(engine)
        if store_has_non_demo_data(engine):
            raise CommandError(
                f"the store at {engine.url.render_as_string(hide_password=True)} holds data "
                "that is not a demo; point CPXM_DATABASE_URL at another database"
            )
        previous = existing_demo(engine)
        if previous and previous.seed == seed and previous.scale == scale and not fresh:
            console.print(
                f"demo workspace (seed {seed}, scale {scale:g}) is already loaded; "
                "use --fresh to regenerate it"
            )
        else:
            if previous:
                console.print("removing the previous demo workspace")
                clear_demo(engine)
            with _progress_bar() as report:
                summary = generate_demo(engine, scale=scale, seed=seed, progress=report)
            _print_counts(summary.counts, summary.seconds)
    if serve_after:
        _serve(engine, host, port)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8000,
) -> None:
    """Serve the web app and the JSON API."""
    engine = _engine()
    with _user_errors(engine):
        current = current_revision(engine)
        head = head_revision(engine)
    if current != head:
        _fail(
            f"the store is at schema revision {current or '(empty)'}, the app needs {head}: "
            "run `cpxm init`"
        )
    _check_port_free(host, port)
    _serve(engine, host, port)


def _serve(engine: Engine, host: str, port: int) -> None:
    import uvicorn

    from cpxm.app import create_app

    shown_host = f"[{host}]" if ":" in host else host
    console.print(f"CPXM is running at [bold]http://{shown_host}:{port}[/]  (Ctrl+C to stop)")
    uvicorn.run(create_app(engine), host=host, port=port, log_level="warning")


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            _fail(f"cannot serve on {host}:{port} ({error.strerror}); choose another with --port")


@contextmanager
def _progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar fed by ``(step, done, total)`` reports, one bar per step."""
    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    ) as progress:

        def report(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(step, total=max(total, 1))
            progress.update(tasks[step], completed=done, total=max(total, 1))

        yield report


def _print_counts(counts: dict[str, Any], seconds: float) -> None:
    table = Table(title=f"demo workspace generated in {seconds:.1f} s", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in sorted(counts.items()):
        table.add_row(name, f"{rows:,}")
    console.print(table)
