"""The ``cpxm`` command line: set up the store, generate the demo, serve the app."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
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

from cpxm.cli_lazy import LazyGroup
from cpxm.cli_support import describe_detail
from cpxm.cli_support import fail as _fail
from cpxm.db import make_engine
from cpxm.errors import DomainError
from cpxm.ingest import BATCH_SIZE

app = typer.Typer(
    help="CPXM: Customer & Patient Experience Management for life sciences.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # The domains' command groups (cpxm.cli_lazy.LAZY_COMMANDS) load when invoked.
    cls=LazyGroup,
)
db_app = typer.Typer(help="Manage the operational store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
quarantine_app = typer.Typer(
    help="List, correct and replay rows that imports could not store.", no_args_is_help=True
)
app.add_typer(quarantine_app, name="quarantine")
quality_app = typer.Typer(
    help="List the values imports blanked to keep their rows (data-quality issues).",
    no_args_is_help=True,
)
app.add_typer(quality_app, name="quality")

console = Console()
error_console = Console(stderr=True)


class CommandError(Exception):
    """A failure the user can act on; printed as one line, exit code 1."""


@contextmanager
def _user_errors(engine: Engine | None = None) -> Iterator[None]:
    """Turn the failures a user can fix into one line each, instead of a traceback."""
    try:
        yield
    except CommandError as error:
        _fail(str(error))
    except DomainError as error:
        _fail(describe_detail(error.detail))
    except OperationalError as error:
        where = engine.url.render_as_string(hide_password=True) if engine else "the database"
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        if "no such table" in reason or "no such column" in reason or "does not exist" in reason:
            reason += "; is the store initialised and upgraded? run `cpxm init`"
        _fail(f"cannot use the database at {where}: {reason}")
    except SQLAlchemyError as error:
        _fail(f"database error: {str(error).splitlines()[0]}")


def _engine() -> Engine:
    try:
        return make_engine()
    except (SQLAlchemyError, ValueError, ModuleNotFoundError) as error:
        _fail(f"CPXM_DATABASE_URL is not usable: {error}")
        raise  # unreachable: _fail exits


# Who an import run without CPXM_TOKEN is recorded as: whoever can run commands on the server.
LOCAL_OPERATOR = "local operator (no token)"


def _steward(engine: Engine, *, required: bool, reason: str) -> tuple[int | None, str]:
    """The admin whose API token is in ``CPXM_TOKEN`` (their user id and email), checked now so
    a wrong token stops the command before it changes anything. Without a token: refused when
    ``required``, else the local operator (``cpxm import``: see docs/security.md)."""
    import os

    from cpxm.access.acting import TOKEN_VARIABLE, acting_principal
    from cpxm.access.policy import DATA_STEWARDSHIP
    from cpxm.db import transaction

    if not required and not os.environ.get(TOKEN_VARIABLE, "").strip():
        return None, LOCAL_OPERATOR
    with transaction(engine) as session:
        principal = acting_principal(session, roles=DATA_STEWARDSHIP.allowed_roles, reason=reason)
    return principal.user_id, principal.email


def _audit_run(
    engine: Engine,
    *,
    actor: tuple[int | None, str],
    action: str,
    entity_id: object,
    reason: str,
    details: dict[str, Any],
) -> None:
    """One audit entry for a command whose work commits batch by batch (an import, a replay)."""
    from cpxm.access import audit
    from cpxm.db import transaction

    user_id, name = actor
    with transaction(engine) as session:
        audit.record(
            session,
            user_id=user_id,
            action=action,
            entity_type="import_runs",
            entity_id=entity_id,
            reason=reason,
            details={"actor": name, **details},
        )


@app.command()
def init() -> None:
    """Create the store, or upgrade it to the current schema."""
    from cpxm.migrate import upgrade_database

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
    from cpxm.migrate import current_revision, upgrade_database

    engine = _engine()
    with _user_errors(engine):
        before = current_revision(engine)
        after = upgrade_database(engine, revision)
    console.print(f"schema revision {before or '(empty)'} -> {after}")


@db_app.command("current")
def db_current() -> None:
    """Print the store's schema revision and whether it is the latest."""
    from cpxm.migrate import current_revision, head_revision

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
    drift: Annotated[
        bool,
        typer.Option(
            "--drift/--no-drift",
            help="Also plant HCPs who drift away and why, for `cpxm predict` to find.",
        ),
    ] = False,
) -> None:
    """Generate a realistic demo workspace into the store, then serve it."""
    from cpxm.demo.service import (
        clear_demo,
        existing_demo,
        generate_demo,
        store_has_non_demo_data,
    )
    from cpxm.governance.demo import demo_admin_login
    from cpxm.initiatives.demo import prepare_demo_initiatives
    from cpxm.migrate import upgrade_database

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
                summary = generate_demo(
                    engine, scale=scale, seed=seed, progress=report, drift=drift
                )
            prepare_demo_initiatives(engine, seed=seed)
            _print_counts(summary.counts, summary.seconds)
            if summary.live is not None:
                console.print("the demo's last week, lived on the survey machinery:")
                for line in summary.live.lines():
                    console.print(f"  {line}", highlight=False)
        login = demo_admin_login(engine)
        console.print(
            f"sign in as {login.email} with password {login.password}"
            + ("" if login.from_environment else " (generated; set CPXM_DEMO_ADMIN_PASSWORD)"),
            highlight=False,
        )
    if serve_after:
        _serve(engine, host, port)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV, JSON Lines, .xlsx or Parquet export.")],
    mapping: Annotated[
        str,
        typer.Option(
            "--mapping",
            "-m",
            help="A mapping YAML file, or the name of a shipped template (`cpxm mappings`).",
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and report; store nothing.")
    ] = False,
    allow_quarantine: Annotated[
        bool,
        typer.Option("--allow-quarantine", help="Exit 0 even when some rows were quarantined."),
    ] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Rows per committed batch.")
    ] = BATCH_SIZE,
) -> None:
    """Import FILE through a mapping: every row is stored or quarantined with its reason.

    With CPXM_TOKEN set (an admin's token) the run is audited as that admin's; without it, as
    the local operator (see docs/security.md)."""
    from cpxm.ingest.mapping import MappingError, resolve_mapping
    from cpxm.ingest.raw import ReadError
    from cpxm.ingest.service import import_file

    engine = _engine()
    with _user_errors(engine):
        try:
            parsed = resolve_mapping(mapping)
        except MappingError as error:
            raise CommandError(f"mapping {error}") from None
        _require_current_schema(engine)
        actor = _steward(engine, required=False, reason=f"cpxm import {file.name}")
        with Progress(
            TextColumn(f"importing {file.name}"),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            # Piped or redirected, a transient bar still leaves an empty line in the output.
            disable=not console.is_terminal,
        ) as progress:
            task = progress.add_task("import", total=None)
            try:
                report = import_file(
                    engine,
                    path=file,
                    mapping=parsed,
                    dry_run=dry_run,
                    batch_size=batch_size,
                    progress=lambda done: progress.update(task, completed=done),
                )
            except ReadError as error:
                raise CommandError(f"{file}: {error}") from None
        if not dry_run:
            _audit_run(
                engine,
                actor=actor,
                action="import",
                entity_id=report.run_id,
                reason=f"cpxm import {file.name}",
                details={
                    "file": file.name,
                    "mapping": parsed.name,
                    "read": report.read,
                    "created": report.created,
                    "updated": report.updated,
                    "quarantined": report.quarantined,
                },
            )
    prefix = "dry run, nothing stored: " if dry_run else ""
    console.print(
        f"{prefix}read {report.read:,}  created {report.created:,}  updated {report.updated:,}  "
        f"unchanged {report.unchanged:,}  quarantined {report.quarantined:,}"
        + ("" if dry_run else f"  (import run {report.run_id})"),
        highlight=False,
    )
    if report.blanked:
        # The rows were stored: a blanked optional attribute does not fail the import.
        where = "" if dry_run else f"; see them with `cpxm quality list --run {report.run_id}`"
        console.print(
            f"{report.blanked:,} unreadable value(s) blanked, their rows stored{where}",
            highlight=False,
        )
    if report.quarantined:
        hint = (
            "run without --dry-run to keep them in quarantine"
            if dry_run
            else f"see them with `cpxm quarantine list --run {report.run_id}`"
        )
        console.print(f"{report.quarantined:,} row(s) quarantined; {hint}", highlight=False)
        if not allow_quarantine:
            raise typer.Exit(code=2)


@app.command()
def mappings() -> None:
    """List the mapping templates that ship for typical exports."""
    from cpxm.ingest.mapping import TEMPLATES_DIRECTORY, load_mapping, template_names

    table = Table(title="mapping templates (use with `cpxm import FILE -m NAME`)")
    for column in ("name", "source system", "target", "columns read"):
        table.add_column(column, overflow="fold")
    for name in template_names():
        template = load_mapping(TEMPLATES_DIRECTORY / f"{name}.yaml")
        table.add_row(
            name,
            template.source_system,
            template.target,
            ", ".join(sorted(template.columns_used())),
        )
    console.print(table)


@quarantine_app.command("list")
def quarantine_list(
    run: Annotated[int | None, typer.Option(help="Only rows of this import run.")] = None,
    status: Annotated[str, typer.Option(help="open, replayed, discarded or all.")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """Show quarantined rows with their reasons."""
    from cpxm.db import transaction
    from cpxm.ingest.quarantine import list_quarantined

    engine = _engine()
    with _user_errors(engine), transaction(engine) as session:
        rows, total = list_quarantined(
            session, run_id=run, status=None if status == "all" else status, limit=limit
        )
        table = Table(title=f"{total:,} quarantined row(s)", title_justify="left")
        for column in ("id", "run", "status", "reason", "values"):
            table.add_column(column, overflow="fold")
        for row in rows:
            values = ", ".join(f"{key}={value}" for key, value in row.raw.items())
            table.add_row(str(row.id), str(row.import_run_id), row.status, row.reason, values)
    console.print(table)


@quality_app.command("list")
def quality_list(
    run: Annotated[int | None, typer.Option(help="Only issues of this import run.")] = None,
    status: Annotated[str, typer.Option(help="open, superseded, resolved or all.")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """Show values imports blanked (on_invalid: blank), with the rows they were stored with."""
    from cpxm.db import transaction
    from cpxm.ingest.quality import list_quality_issues

    engine = _engine()
    with _user_errors(engine), transaction(engine) as session:
        issues, total = list_quality_issues(
            session, run_id=run, status=None if status == "all" else status, limit=limit
        )
        table = Table(title=f"{total:,} data-quality issue(s)", title_justify="left")
        for column in ("id", "run", "source id", "status", "field", "value", "reason"):
            table.add_column(column, overflow="fold")
        for issue in issues:
            table.add_row(
                str(issue.id),
                str(issue.import_run_id),
                issue.source_key,
                issue.status,
                issue.field,
                issue.value or "",
                issue.reason,
            )
    console.print(table)


@quarantine_app.command("replay")
def quarantine_replay(
    row_ids: Annotated[list[int], typer.Argument(help="Quarantined row ids (one import run).")],
    set_values: Annotated[
        list[str] | None,
        typer.Option("--set", help="COLUMN=VALUE correction applied before replaying."),
    ] = None,
) -> None:
    """Correct quarantined rows and import them again, as CPXM_TOKEN's user (an admin)."""
    from cpxm.ingest.service import QuarantineError, replay_quarantined

    corrections: dict[str, str | None] = {}
    for assignment in set_values or []:
        column, separator, value = assignment.partition("=")
        if not separator or not column.strip():
            _fail(f"--set takes COLUMN=VALUE, got '{assignment}'")
        corrections[column.strip()] = value.strip() or None
    engine = _engine()
    with _user_errors(engine):
        reason = "cpxm quarantine replay " + " ".join(map(str, row_ids))
        actor = _steward(engine, required=True, reason=reason)
        try:
            report = replay_quarantined(engine, row_ids=row_ids, corrections=corrections)
        except QuarantineError as error:
            raise CommandError(str(error)) from None
        _audit_run(
            engine,
            actor=actor,
            action="quarantine_replay",
            entity_id=report.run_id,
            reason=reason,
            details={
                "rows": row_ids,
                # Which columns were corrected; the values are the person's data, kept in the rows.
                "corrected": sorted(corrections),
                "created": report.created,
                "updated": report.updated,
                "quarantined": report.quarantined,
            },
        )
    console.print(
        f"replayed {report.read:,}: created {report.created:,}  updated {report.updated:,}  "
        f"unchanged {report.unchanged:,}  quarantined again {report.quarantined:,}",
        highlight=False,
    )
    if report.quarantined:
        raise typer.Exit(code=2)


@quarantine_app.command("discard")
def quarantine_discard(row_id: Annotated[int, typer.Argument(help="Quarantined row id.")]) -> None:
    """Mark a quarantined row as deliberately not imported, as CPXM_TOKEN's user (an admin)."""
    from cpxm.access.acting import acting_principal
    from cpxm.access.policy import DATA_STEWARDSHIP
    from cpxm.db import transaction
    from cpxm.ingest.quarantine import QuarantineError, discard_quarantined

    engine = _engine()
    with _user_errors(engine):
        try:
            with transaction(engine) as session:
                acting_principal(
                    session,
                    roles=DATA_STEWARDSHIP.allowed_roles,
                    reason=f"cpxm quarantine discard {row_id}",
                )
                discard_quarantined(session, row_id=row_id)
        except QuarantineError as error:
            raise CommandError(str(error)) from None
    console.print(f"quarantined row {row_id} discarded")


@app.command()
def backup(
    out: Annotated[Path, typer.Argument(help="The backup file to write.", dir_okay=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
) -> None:
    """Copy the SQLite store to OUT while it runs (PostgreSQL: use pg_dump)."""
    from cpxm.backup import BackupError, backup_store

    engine = _engine()
    with _user_errors(engine):
        try:
            report = backup_store(engine, out=out, force=force)
        except BackupError as error:
            raise CommandError(str(error)) from None
    snapshot = report.snapshot
    console.print(
        f"backed up {engine.url.render_as_string(hide_password=True)} to {report.path}: "
        f"{snapshot.rows:,} rows in {len(snapshot.counts)} tables, schema revision "
        f"{snapshot.revision}, {report.size_bytes / 1_000_000:.1f} MB, integrity checked, "
        f"in {report.seconds:.1f} s",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def restore(
    source: Annotated[
        Path, typer.Argument(metavar="IN", help="A file written by `cpxm backup`.", dir_okay=False)
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the store even if it holds data.")
    ] = False,
) -> None:
    """Restore a backup into the SQLite store, which must be empty unless --force."""
    from cpxm.backup import BackupError, restore_store

    engine = _engine()
    with _user_errors(engine):
        try:
            report = restore_store(engine, source=source, force=force)
        except BackupError as error:
            raise CommandError(str(error)) from None
    snapshot = report.snapshot
    upgraded = f", upgraded to {report.revision}" if report.revision != snapshot.revision else ""
    console.print(
        f"restored {report.source} into {engine.url.render_as_string(hide_password=True)}: "
        f"{snapshot.rows:,} rows in {len(snapshot.counts)} tables, schema revision "
        f"{snapshot.revision}{upgraded}, integrity checked, in {report.seconds:.1f} s",
        highlight=False,
        soft_wrap=True,
    )


def _require_current_schema(engine: Engine) -> None:
    from cpxm.migrate import current_revision, head_revision

    current = current_revision(engine)
    head = head_revision(engine)
    if current != head:
        raise CommandError(
            f"the store is at schema revision {current or '(empty)'}, this version needs "
            f"{head}: run `cpxm init`"
        )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8000,
) -> None:
    """Serve the web app and the JSON API."""
    engine = _engine()
    with _user_errors(engine):
        _require_current_schema(engine)
    _check_port_free(host, port)
    _serve(engine, host, port)


@app.command()
def worker(
    workers: Annotated[int, typer.Option(min=1, help="Tasks run side by side.")] = 2,
) -> None:
    """Run background and scheduled jobs (reminders, triggers, analysis, SLA escalation).

    The app and its workers share the queue named by CPXM_JOBS_URL (redis://HOST:PORT/DB in
    production). With the embedded default, `cpxm serve` already runs a worker itself.
    """
    from cpxm.jobs import huey, load_task_modules

    if huey.immediate:
        _fail(
            "CPXM_JOBS_URL is 'immediate': jobs run inside the caller and a worker has no queue "
            "to read; set CPXM_JOBS_URL=redis://127.0.0.1:6379/0 for the app and the worker"
        )
    load_task_modules()
    console.print(f"CPXM worker: {len(huey._registry._registry)} tasks, {workers} workers")
    huey.create_consumer(workers=workers, worker_type="thread", periodic=True).run()


def _serve(engine: Engine, host: str, port: int) -> None:
    import uvicorn

    from cpxm.app import create_app
    from cpxm.jobs import runs_embedded_worker, start_worker

    shown_host = f"[{host}]" if ":" in host else host
    # The embedded queue has no separate worker process: this one runs jobs and schedules.
    worker = start_worker() if runs_embedded_worker() else None
    console.print(f"CPXM is running at [bold]http://{shown_host}:{port}[/]  (Ctrl+C to stop)")
    try:
        uvicorn.run(create_app(engine), host=host, port=port, log_level="warning")
    finally:
        if worker is not None:
            worker.stop(graceful=True)


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
