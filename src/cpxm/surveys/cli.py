"""``cpxm survey ...``: create surveys from definitions, send them, export their responses.

Registered in ``cpxm.cli`` with ``app.add_typer(survey_app, name="survey")``.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cpxm.access.acting import acting_principal
from cpxm.access.audit import record_read
from cpxm.access.records import shield_export_rows
from cpxm.access.roles import CX_MANAGERS, Domain
from cpxm.cli_support import cli_session
from cpxm.cli_support import fail as _fail
from cpxm.surveys.definition import load_definition_file
from cpxm.surveys.distribution import (
    DEFAULT_EXPIRES_DAYS,
    create_invitations,
    create_open_link,
    plan_wave,
)
from cpxm.surveys.export import FORMATS, export_responses, write_export
from cpxm.surveys.fatigue import active_rules
from cpxm.surveys.mail import MailConfigError
from cpxm.surveys.service import export_definition, find_survey, save_definition
from cpxm.timeutil import utc_now

survey_app = typer.Typer(
    help="Define surveys, send them with fatigue and consent rules, export responses.",
    no_args_is_help=True,
)
console = Console()
error_console = Console(stderr=True)


@survey_app.command("create")
def create_command(
    file: Annotated[Path, typer.Argument(help="A survey definition, JSON or YAML.")],
) -> None:
    """Create a survey from a definition, or publish its next version if it changed."""
    with cli_session(MailConfigError) as session:
        saved = save_definition(session, document=load_definition_file(file))
        survey = saved.survey
        if saved.created:
            what = "created"
        elif saved.changed:
            what = "published version"
        else:
            what = "unchanged at version"
        console.print(
            f"survey {survey.code} (id {survey.id}) {what} {survey.version}, status {survey.status}"
            if what != "created"
            else f"survey {survey.code} (id {survey.id}) created at version 1, "
            f"status {survey.status}",
            highlight=False,
        )


@survey_app.command("definition")
def definition_command(
    survey: Annotated[str, typer.Argument(help="Survey code or id.")],
    version: Annotated[
        int | None, typer.Option(help="A version; default: the current one.")
    ] = None,
) -> None:
    """Print a survey's definition as JSON (import it elsewhere with `cpxm survey create`)."""
    with cli_session(MailConfigError) as session:
        found = find_survey(session, reference=survey)
        document = export_definition(session, survey_id=found.id, version=version)
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


@survey_app.command("send")
def send_command(
    survey: Annotated[str, typer.Argument(help="Survey code or id.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show who would be invited and who is held back.")
    ] = False,
    wave: Annotated[
        str | None, typer.Option(help="Name of this send (default: this month, e.g. 2026-11).")
    ] = None,
    channel: Annotated[str, typer.Option(help="email or sms")] = "email",
    expires_days: Annotated[int, typer.Option(help="Days the links stay valid.")] = (
        DEFAULT_EXPIRES_DAYS
    ),
    show: Annotated[int, typer.Option(help="Rows to list of each group in a dry run.")] = 20,
) -> None:
    """Invite the survey's audience, honouring consent and the contact-fatigue rules, as
    CPXM_TOKEN's user (an admin or CX lead); the invitations are audited as theirs."""
    now = utc_now()
    wave = wave or f"{now:%Y-%m}"
    with cli_session(MailConfigError) as session:
        acting_principal(session, roles=CX_MANAGERS, reason=f"cpxm survey send (wave {wave})")
        found = find_survey(session, reference=survey)
        plan = plan_wave(session, survey=found, wave=wave, channel=channel, now=now)
        by_rule = Counter(hold.rule for _s, holds in plan.held for hold in holds)
        console.print(
            f"survey {found.code} wave {wave} on {channel}: {len(plan.invite)} to invite, "
            f"{len(plan.held)} held back, {plan.already_invited} already invited in this wave",
            highlight=False,
        )
        if by_rule:
            rules = Table("rule", "held back", title="Held back by rule")
            for rule, count in by_rule.most_common():
                rules.add_row(rule, str(count))
            console.print(rules)
        if dry_run:
            _print_plan(plan.invite, plan.held, show)
            console.print("dry run: nothing was sent", highlight=False)
            return
        invitations = create_invitations(session, plan=plan, now=now, expires_days=expires_days)
        session.commit()
        emails = sum(invitation.channel_code == "email" for invitation in invitations)
    if not emails:
        console.print(f"{len(invitations)} invitation(s) created", highlight=False)
        return
    from cpxm.jobs import enqueue_after_commit
    from cpxm.surveys.jobs import send_due_invitation_emails

    # The invitations are stored, so this command has done its part whatever the queue says:
    # a worker sends due emails every minute even if this nudge does not reach it.
    nudged = enqueue_after_commit(send_due_invitation_emails)
    console.print(
        f"{len(invitations)} invitation(s) created; emails queued"
        if nudged
        else f"{len(invitations)} invitation(s) created; the job queue is unreachable: they "
        "are stored, and a worker emails them at its next run once the queue is back",
        highlight=False,
    )


def _print_plan(invite: list[Any], held: list[Any], show: int) -> None:
    table = Table("stakeholder", "name", "type", "country", "would be")
    for stakeholder in invite[:show]:
        table.add_row(
            str(stakeholder.id),
            stakeholder.display_name,
            stakeholder.type,
            stakeholder.country_code or "",
            "invited",
        )
    for stakeholder, holds in held[:show]:
        table.add_row(
            str(stakeholder.id),
            stakeholder.display_name,
            stakeholder.type,
            stakeholder.country_code or "",
            "held: " + "; ".join(f"{h.rule} ({h.reason})" for h in holds),
        )
    console.print(table)
    hidden = max(0, len(invite) - show) + max(0, len(held) - show)
    if hidden:
        console.print(f"... and {hidden} more (use --show N)", highlight=False)


@survey_app.command("export")
def export_command(
    survey: Annotated[str, typer.Argument(help="Survey code or id.")],
    format: Annotated[str, typer.Option("--format", help="csv, json or parquet")] = "csv",
    out: Annotated[Path | None, typer.Option(help="File to write; default: standard output.")] = (
        None
    ),
) -> None:
    """Export a survey's responses, one row per response and a column per question, as
    CPXM_TOKEN's user sees them (patients by key, text withheld where their role may not read
    it); the export is audited as their read."""
    if format not in FORMATS:
        _fail(f"--format is '{format}', expected one of {', '.join(FORMATS)}")
    if format == "parquet" and out is None:
        _fail("parquet is binary: name a file with --out")
    with cli_session(MailConfigError) as session:
        principal = acting_principal(session, needs=Domain.COMMERCIAL)
        found = find_survey(session, reference=survey)
        if found.confidential:
            _fail(
                f"survey '{found.code}' is confidential: no export of its answers, one row per "
                "person; its figures over groups are at GET /api/v1/analytics/ex"
            )

        def shield(rows: list[dict[str, Any]], text_columns: list[str]) -> list[dict[str, Any]]:
            record_read(
                session,
                principal,
                entity_type="responses",
                entity_ids=[row["response_id"] for row in rows],
                purpose="cpxm survey export",
            )
            return shield_export_rows(
                session, principal, rows, text_columns=text_columns, via="cpxm survey export"
            )

        data = export_responses(session, survey=found, format=format, shield=shield)
    write_export(data, out)
    if out is not None:
        console.print(f"wrote {out} ({len(data):,} bytes)", highlight=False)


@survey_app.command("link")
def link_command(
    survey: Annotated[str, typer.Argument(help="Survey code or id.")],
    label: Annotated[str, typer.Option(help="Where the link is shown.")] = "open link",
    channel: Annotated[str | None, typer.Option(help="The channel it is shown on.")] = None,
    expires: Annotated[
        datetime | None, typer.Option(help="When the link stops taking answers (UTC).")
    ] = None,
) -> None:
    """Create an anonymous open link to the survey."""
    with cli_session(MailConfigError) as session:
        found = find_survey(session, reference=survey)
        link = create_open_link(
            session, survey=found, label=label, channel=channel, expires_at=expires
        )
        token = link.token
    console.print(f"/s/{token}", highlight=False)


@survey_app.command("rules")
def rules_command() -> None:
    """List the contact-fatigue rules in force."""
    with cli_session(MailConfigError) as session:
        table = Table("code", "kind", "parameters", "description")
        for rule in active_rules(session):
            table.add_row(rule.code, rule.kind, json.dumps(rule.parameters), rule.description)
    console.print(table)
