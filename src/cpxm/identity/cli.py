"""``cpxm resolve`` and ``cpxm identity ...``: link source records, review pairs, export links.

``cpxm.cli`` registers these: ``app.command("resolve")(resolve_command)`` and
``app.add_typer(identity_app, name="identity")``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from cpxm.access.acting import acting_principal
from cpxm.access.policy import DATA_STEWARDSHIP
from cpxm.access.principal import Principal
from cpxm.cli_support import cli_session as _session
from cpxm.cli_support import fail as _fail
from cpxm.identity import service
from cpxm.identity.models import SourceRecord

console = Console()
error_console = Console(stderr=True)
identity_app = typer.Typer(
    help="Review uncertain pairs, undo merges and export identity links.", no_args_is_help=True
)
T = TypeVar("T")


class Engine(StrEnum):
    """Where ``cpxm resolve`` scores pairs (``service.ENGINES``)."""

    duckdb = "duckdb"
    spark = "spark"


def resolve_command(
    threshold_match: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Link pairs at or above this match probability (default: fitted to the run's"
            f" scores, at most {service.DEFAULT_THRESHOLD_MATCH}).",
        ),
    ] = None,
    threshold_review: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Queue pairs from here up to the match threshold."),
    ] = service.DEFAULT_THRESHOLD_REVIEW,
    engine: Annotated[
        Engine,
        typer.Option(
            help="Score pairs in-process (duckdb) or with Splink's Spark backend (spark: the"
            " spark extra and Java 17; CPXM_SPARK_MASTER, local[*] by default).",
        ),
    ] = Engine.duckdb,
) -> None:
    """Link source records into golden records (Splink); queue uncertain pairs for review."""
    started = time.perf_counter()
    if engine is Engine.spark:
        from cpxm.spark import unavailable_reason

        reason = unavailable_reason()
        if reason is not None:
            _fail(f"--engine spark: {reason}")
    with _session() as session, _progress() as step:
        run = service.resolve(
            session,
            threshold_match=threshold_match,
            threshold_review=threshold_review,
            step=step,
            engine=engine.value,
        )
    console.print(
        f"resolved {run.records:,} source records in {time.perf_counter() - started:.1f} s: "
        f"{run.pairs_scored:,} pairs scored, {run.merges:,} stakeholders merged, "
        f"{run.created:,} golden records created, {run.updated:,} updated, "
        f"{run.review_pairs:,} pairs to review (match threshold {run.threshold_match:.3g}"
        + (", on Spark)" if engine is Engine.spark else ")")
    )


@contextmanager
def _progress() -> Iterator[Callable[[str], None]]:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=None)
        yield lambda label: progress.update(task, description=label)


@identity_app.command("export")
def export_command(
    out: Annotated[Path, typer.Argument(help="CSV file to write.", dir_okay=False)],
) -> None:
    """Write source_system,source_id,stakeholder_id for every source record."""
    if not out.parent.exists():
        _fail(f"directory {out.parent} does not exist")
    with _session() as session:
        count = service.export_links(session, out)
    console.print(f"wrote {count:,} source records to {out}")


@identity_app.command("review")
def review_command(
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List pairs waiting for a decision, most likely matches first."""
    with _session() as session:
        pairs, total = service.list_review(session, limit=limit, offset=offset)
        table = Table("pair", "probability", "record", "record", "type conflict")
        for pair in pairs:
            low = session.get(SourceRecord, pair.record_low_id)
            high = session.get(SourceRecord, pair.record_high_id)
            table.add_row(
                str(pair.id),
                f"{pair.match_probability:.3f}",
                f"{low.source_system}:{low.source_id}" if low else "?",
                f"{high.source_system}:{high.source_id}" if high else "?",
                pair.type_conflict or "",
            )
    console.print(table)
    console.print(f"{total:,} pairs waiting")


def _steward(session: Session, reason: str) -> Principal:
    """CPXM_TOKEN's user, an admin (identity decisions are data stewardship), bound to
    ``session`` so the merge or split is audited as theirs."""
    return acting_principal(session, roles=DATA_STEWARDSHIP.allowed_roles, reason=reason)


@identity_app.command("accept")
def accept_command(pair_id: Annotated[int, typer.Argument()]) -> None:
    """Accept a review pair: merge the two golden records."""
    with _session() as session:
        principal = _steward(session, f"cpxm identity accept {pair_id}")
        service.decide_pair(session, pair_id=pair_id, accept=True, user_id=principal.user_id)
    console.print(f"pair {pair_id} accepted")


@identity_app.command("reject")
def reject_command(pair_id: Annotated[int, typer.Argument()]) -> None:
    """Reject a review pair: keep the two apart on every later run."""
    with _session() as session:
        principal = _steward(session, f"cpxm identity reject {pair_id}")
        service.decide_pair(session, pair_id=pair_id, accept=False, user_id=principal.user_id)
    console.print(f"pair {pair_id} rejected")


@identity_app.command("unmerge")
def unmerge_command(
    stakeholder_id: Annotated[int, typer.Argument(help="A merged stakeholder's id.")],
) -> None:
    """Undo the merge that folded STAKEHOLDER_ID into another; its rows move back."""
    with _session() as session:
        principal = _steward(session, f"cpxm identity unmerge {stakeholder_id}")
        event = service.unmerge_stakeholder(
            session, stakeholder_id=stakeholder_id, user_id=principal.user_id
        )
    console.print(f"stakeholder {event.merged_id} separated from {event.survivor_id}")
