"""`cpxm privacy`: answer a data subject's request from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cpxm.access.acting import acting_principal
from cpxm.access.roles import ADMINS
from cpxm.cli_support import cli_session, fail
from cpxm.privacy.erasure import erase_person
from cpxm.privacy.export import export_person
from cpxm.privacy.objection import record_objection, withdraw_objection
from cpxm.privacy.rectification import rectify

privacy_app = typer.Typer(
    help="Export or erase everything held about one person (GDPR articles 15, 17, 20).",
    no_args_is_help=True,
)
console = Console()


@privacy_app.command("export")
def export_command(
    stakeholder_id: Annotated[int, typer.Argument(help="The person's (golden) stakeholder id.")],
    out: Annotated[Path, typer.Argument(help="Where to write the JSON document.")],
) -> None:
    """Write everything held about the person to OUT as JSON, as CPXM_TOKEN's user (an admin);
    the export is audited as their read."""
    with cli_session() as session:
        principal = acting_principal(session, roles=ADMINS)
        document = export_person(
            session, stakeholder_id=stakeholder_id, actor_user_id=principal.user_id
        )
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    rows = sum(len(rows) for rows in document["held"].values())
    console.print(
        f"exported stakeholder {stakeholder_id}: {len(document['merged_records']) + 1} record(s),"
        f" {rows} related row(s) in {len(document['held'])} table(s) -> {out}"
    )


@privacy_app.command("erase")
def erase_command(
    stakeholder_id: Annotated[int, typer.Argument(help="The person's (golden) stakeholder id.")],
    reason: Annotated[str, typer.Option(help="Why (the request and its date), for the audit.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase the person everywhere except safety cases, as CPXM_TOKEN's user (an admin); this
    cannot be undone."""
    if not yes:
        typer.confirm(f"Erase stakeholder {stakeholder_id} irreversibly?", abort=True)
    with cli_session() as session:
        principal = acting_principal(session, roles=ADMINS, reason=reason)
        erasure = erase_person(
            session, stakeholder_id=stakeholder_id, reason=reason, actor_user_id=principal.user_id
        )
        erasure_id, summary = erasure.id, dict(erasure.summary)
    # Said only once the erasure is committed.
    console.print(f"erased stakeholder {stakeholder_id} (erasure {erasure_id}); rows touched:")
    for table, count in sorted(summary.items()):
        console.print(f"  {table:<36} {count:>8,}")


@privacy_app.command("rectify")
def rectify_command(
    stakeholder_id: Annotated[int, typer.Argument(help="The person's (golden) stakeholder id.")],
    values: Annotated[
        list[str],
        typer.Option("--set", help="FIELD=VALUE, e.g. --set email=ada@example.org (repeatable)."),
    ],
    reason: Annotated[str, typer.Option(help="Why (the request and its date), for the audit.")],
) -> None:
    """Correct golden-record fields (GDPR Art. 16) as CPXM_TOKEN's user (an admin); the
    correction wins over later `cpxm resolve` runs."""
    changes: dict[str, str] = {}
    for item in values:
        field, separator, value = item.partition("=")
        if not separator:
            fail(f"--set '{item}': write FIELD=VALUE, e.g. --set city=Lyon")
        changes[field.strip()] = value
    with cli_session() as session:
        principal = acting_principal(session, roles=ADMINS, reason=reason)
        stakeholder = rectify(
            session,
            stakeholder_id=stakeholder_id,
            changes=changes,
            reason=reason,
            actor=principal,
        )
        shown = {field: getattr(stakeholder, field) for field in sorted(changes)}
    console.print(f"rectified stakeholder {stakeholder_id}: {', '.join(shown)}", highlight=False)


@privacy_app.command("object")
def object_command(
    stakeholder_id: Annotated[int, typer.Argument(help="The person's (golden) stakeholder id.")],
    reason: Annotated[str, typer.Option(help="The request, how it came in and its date.")],
    withdraw: Annotated[
        bool, typer.Option("--withdraw", help="The person withdraws their objection.")
    ] = False,
) -> None:
    """Record that the person objects to processing (GDPR Art. 21), or withdraws it, as
    CPXM_TOKEN's user (an admin): objecting people are left out of profiling lists and surveys."""
    with cli_session() as session:
        principal = acting_principal(session, roles=ADMINS, reason=reason)
        if withdraw:
            withdraw_objection(
                session,
                stakeholder_id=stakeholder_id,
                reason=reason,
                actor_user_id=principal.user_id,
            )
        else:
            record_objection(
                session,
                stakeholder_id=stakeholder_id,
                reason=reason,
                actor_user_id=principal.user_id,
            )
    if withdraw:
        console.print(f"stakeholder {stakeholder_id} no longer objects")
    else:
        console.print(
            f"stakeholder {stakeholder_id} objects: left out of profiling lists and survey "
            "audiences from now on"
        )
