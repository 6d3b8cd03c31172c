"""``cpxm initiatives ...`` (the backlog) and ``cpxm maturity ...`` (the assessment)."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from cpxm.access.acting import acting_principal
from cpxm.access.roles import CX_MANAGERS
from cpxm.cli_support import cli_session, fail
from cpxm.initiatives import service
from cpxm.initiatives.evidence import initiative_detail
from cpxm.initiatives.maturity import maturity_assessment, send_assessment_wave
from cpxm.initiatives.models import Initiative
from cpxm.initiatives.schemas import InitiativeChange, InitiativeIn
from cpxm.initiatives.scope import latest_day

console = Console()
initiatives_app = typer.Typer(
    help="The initiatives backlog: add, list by RICE, show evidence, ship.", no_args_is_help=True
)
maturity_app = typer.Typer(
    help="The crawl-walk-run maturity assessment: show it, send the questionnaire.",
    no_args_is_help=True,
)


def _json(value: Any) -> str:
    def default(item: Any) -> Any:
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            return dataclasses.asdict(item)
        if isinstance(item, date | datetime):
            return item.isoformat()
        if hasattr(item, "model_dump"):
            return item.model_dump(mode="json")
        raise TypeError(type(item).__name__)

    return json.dumps(value, default=default, indent=2, ensure_ascii=False)


@initiatives_app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="A YAML (or JSON) file of one or more initiatives.")],
) -> None:
    """Add the initiatives in FILE, or change those whose code exists; as CPXM_TOKEN's user
    (admin or cx_lead). Nothing is stored if any of them is wrong."""
    if not file.is_file():
        fail(f"no such file: {file}")
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        fail(f"{file} is not valid YAML: {error}")
    items = document if isinstance(document, list) else [document]
    with cli_session() as session:
        acting_principal(session, roles=CX_MANAGERS, reason=f"initiatives from {file.name}")
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                fail(f"{file}: initiative {number} is not a mapping")
            try:
                data = InitiativeIn.model_validate(item)
            except ValidationError as error:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
                )
                fail(f"{file}: initiative {number}: {problems}")
            existing = session.scalars(
                select(Initiative).where(Initiative.code == data.code)
            ).one_or_none()
            if existing is None:
                service.create_initiative(session, data=data)
                console.print(f"added {data.code}")
            else:
                change = InitiativeChange.model_validate(data.model_dump(exclude={"code"}))
                service.update_initiative(session, initiative=existing, changes=change)
                console.print(f"updated {data.code}")


@initiatives_app.command("list")
def list_command(
    therapeutic_area: Annotated[
        str | None, typer.Option(help="This area's and everyone's.")
    ] = None,
    stakeholder_type: Annotated[
        str | None, typer.Option(help="This type's and everyone's.")
    ] = None,
    status: Annotated[str | None, typer.Option(help="proposed, planned, ..., shipped.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The backlog, highest RICE first."""
    with cli_session() as session:
        rows, _total = service.backlog(
            session, therapeutic_area=therapeutic_area, stakeholder_type=stakeholder_type,
            status=status, limit=10_000,
        )  # fmt: skip
    if as_json:
        typer.echo(_json(rows))
        return
    table = Table("code", "MoSCoW", "status", "reach", "impact", "conf.", "effort", "RICE")
    for row in rows:
        table.add_row(
            row.code, row.moscow, row.status, f"{row.reach:,}", f"{row.impact:g}",
            f"{row.confidence:.0f}%", f"{row.effort:g}", f"{row.rice:.1f}",
        )  # fmt: skip
    console.print(table)


@initiatives_app.command("show")
def show(
    code: Annotated[str, typer.Argument(help="The initiative's code.")],
) -> None:
    """An initiative's evidence, Kano analysis, RICE and before/after, as JSON (verbatims
    only with CPXM_TOKEN set to a user whose role reads feedback)."""
    with cli_session() as session:
        initiative = service.get_initiative(session, code=code)
        principal = (
            acting_principal(session, reason=f"initiative {code}")
            if os.environ.get("CPXM_TOKEN")
            else None
        )
        detail = initiative_detail(session, principal, initiative, as_of=latest_day(session))
        typer.echo(_json(detail))


@initiatives_app.command("ship")
def ship(
    code: Annotated[str, typer.Argument(help="The initiative's code.")],
    on: Annotated[str, typer.Option("--on", help="The day it shipped, YYYY-MM-DD.")],
) -> None:
    """Mark an initiative shipped on a day; its page then compares before and after."""
    try:
        shipped_on = date.fromisoformat(on)
    except ValueError:
        fail(f"--on is {on!r}, expected a date YYYY-MM-DD")
    with cli_session() as session:
        acting_principal(session, roles=CX_MANAGERS, reason=f"ship initiative {code}")
        initiative = service.get_initiative(session, code=code)
        service.update_initiative(
            session, initiative=initiative,
            changes=InitiativeChange(status="shipped", shipped_on=shipped_on),
        )  # fmt: skip
    console.print(f"{code} shipped on {shipped_on}")


@maturity_app.command("show")
def maturity_show(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each capability's stage, from the self-assessment and the evidence, with next steps."""
    with cli_session() as session:
        assessment = maturity_assessment(session)
    if as_json:
        typer.echo(_json(assessment))
        return
    console.print(f"overall: {assessment.overall_stage} (as of {assessment.as_of})")
    table = Table("capability", "stage", "self-assessed", "evidence", "next step")
    for capability in assessment.capabilities:
        table.add_row(
            capability.name, capability.stage, capability.self_stage or "-",
            capability.evidence_stage or "not measured", capability.next_steps[0],
        )  # fmt: skip
    console.print(table)


@maturity_app.command("send")
def maturity_send(
    wave: Annotated[str, typer.Option(help="The wave's name, e.g. 2026-Q4.")],
    channel: Annotated[str, typer.Option(help="The channel to invite on.")] = "email",
) -> None:
    """Send the self-assessment to the CX leads (users with the cx_lead role), through the
    survey path: consent and fatigue rules apply, the outbox emails the invitations."""
    with cli_session() as session:
        acting_principal(session, roles=CX_MANAGERS, reason=f"maturity wave {wave}")
        sent = send_assessment_wave(session, wave=wave, now=datetime.now(UTC), channel=channel)
    console.print(
        f"invited {len(sent.plan.invite)}, held back {len(sent.plan.held)}, "
        f"already invited {sent.plan.already_invited}"
    )
    for stakeholder, holds in sent.plan.held:
        console.print(f"  held: {stakeholder.email}: {'; '.join(h.reason for h in holds)}")
    for email in sent.without_record:
        console.print(f"  no active employee record with the address {email}: import it first")
