"""``cpxm safety ...``: the PV officer's queue, decisions, exports and reconciliation.

``cpxm.cli`` registers it: ``app.add_typer(safety_app, name="safety")``. Actions are recorded
against ``CPXM_TOKEN``'s user; decisions carry their electronic signature (password re-entered).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cpxm.access import audit
from cpxm.access.acting import acting_principal, acting_signer
from cpxm.access.roles import Domain
from cpxm.auth import signatures
from cpxm.cli_support import cli_session as _session
from cpxm.cli_support import fail as _fail
from cpxm.safety import service
from cpxm.safety.exports import cases_csv, cases_e2b, export_filter, quality_csv
from cpxm.safety.models import TRIAGE_REASONS
from cpxm.timeutil import utc_now

# `intake` and `triage` are imported by the commands that use them: they load the screening's
# text models (numpy, the learned classifier), a second of start-up `cpxm safety queue` needs not.

console = Console()
error_console = Console(stderr=True)
safety_app = typer.Typer(
    help="Work the PV queue: list, acknowledge, confirm, reject, export, reconcile.",
    no_args_is_help=True,
)


def _date(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{option} is '{text}', expected a date like 2026-01-31") from None


@safety_app.command("queue")
def queue_command(
    status: Annotated[
        str | None, typer.Option(help="open, acknowledged, confirmed, rejected.")
    ] = "open",
    kind: Annotated[str | None, typer.Option(help="ae, pc or srs.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open cases past due.")] = False,
    serious: Annotated[bool, typer.Option("--serious", help="Only serious cases.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """The PV queue: fatal or life-threatening first, then serious, then most escalated and
    soonest due."""
    now = utc_now()
    with _session() as session:
        cases, total = service.list_cases(
            session,
            case_filter=service.CaseFilter(
                status=status if status != "all" else None,
                kind=kind,
                overdue=overdue,
                serious=serious,
            ),
            limit=limit,
            offset=offset,
            now=now,
        )
        shown = f", showing {offset + 1}-{offset + len(cases)}" if cases else ""
        table = Table(title=f"{total:,} safety case(s){shown}", title_justify="left")
        for column in (
            "id",
            "kind",
            "serious",
            "status",
            "due",
            "esc",
            "product",
            "event",
            "context",
            "elements",
        ):
            table.add_column(column, overflow="fold")
        for case in cases:
            late = case.status == "open" and case.due_at < now
            elements = "".join(
                letter if present else "-"
                for letter, present in zip(
                    "PRDE",
                    (case.has_patient, case.has_reporter, case.has_product, case.has_event),
                    strict=True,
                )
            )
            table.add_row(
                str(case.id)
                + (f" (v{case.version} of {case.follow_up_of})" if case.follow_up_of else ""),
                case.kind,
                _SERIOUS_MARK[case.seriousness_level],
                case.status,
                ("[red]" if late else "") + case.due_at.isoformat(sep=" ", timespec="minutes"),
                str(case.escalation_level or ""),
                case.product_code or case.product_written or "?",
                ", ".join(case.event_terms)[:60],
                case.context,
                elements,
            )
    console.print(table)
    console.print(
        "serious: F fatal or life-threatening, S serious; "
        "elements: P patient, R reporter, D drug/product, E event (- missing)"
    )


_SERIOUS_MARK = {0: "", 1: "S", 2: "F"}


@safety_app.command("triage")
def triage_command(
    status: Annotated[
        str, typer.Option(help="pending, dismissed, case_opened or all.")
    ] = "pending",
    reason: Annotated[
        str | None,
        typer.Option(help=", ".join(TRIAGE_REASONS) + "."),
    ] = None,
    kind: Annotated[str | None, typer.Option(help="ae, pc or srs.")] = None,
    product: Annotated[str | None, typer.Option(help="A product code.")] = None,
    source: Annotated[str | None, typer.Option(help="A feedback source kind.")] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="Received on or after (YYYY-MM-DD).")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Received before (YYYY-MM-DD).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Safety mentions that opened no case, newest first, with the sentence and the reason."""
    from cpxm.safety import triage

    with _session() as session:
        entries, total = triage.list_triage(
            session,
            triage_filter=triage.TriageFilter(
                status=None if status == "all" else status,
                reason=reason,
                kind=kind,
                product_code=product,
                source_kind=source,
                received_from=_date(date_from, "--from"),
                received_to=_date(date_to, "--to"),
            ),
            limit=limit,
            offset=offset,
        )
        shown = f", showing {offset + 1}-{offset + len(entries)}" if entries else ""
        console.print(f"{total:,} triage entr(ies){shown}", highlight=False)
        # One entry per two lines: the sentence is the point, and tables squeeze it to nothing.
        for entry in entries:
            console.print(
                f"[bold]#{entry.id}[/] item {entry.feedback_item_id} "
                f"{entry.received_at:%Y-%m-%d} {entry.source_kind} {entry.kind} "
                f"{entry.product_code or entry.product_written or '-'} "
                f"{','.join(entry.reasons)} {entry.status}",
                highlight=False,
            )
            console.print(f'    "{entry.sentence}"', highlight=False, markup=False)


@safety_app.command("dismiss")
def dismiss_command(
    triage_id: Annotated[int, typer.Argument(help="A triage entry's id.")],
    reason: Annotated[str, typer.Option(help="Why no case is needed (required).")],
) -> None:
    """Dismiss a triage entry, saying why. Acts as CPXM_TOKEN's user."""
    from cpxm.safety import triage

    with _session() as session:
        principal = acting_principal(session, needs=Domain.SAFETY, reason=reason)
        triage.dismiss(session, triage_id=triage_id, user_id=principal.user_id, reason=reason)
    console.print(f"triage entry {triage_id} dismissed")


@safety_app.command("open-case")
def open_case_command(
    reason: Annotated[str, typer.Option(help="Why a case is needed (required).")],
    triage_id: Annotated[
        int | None, typer.Option("--triage", help="Open the case a triage entry stands for.")
    ] = None,
    feedback_id: Annotated[
        int | None, typer.Option("--feedback", help="Or: any feedback item's id.")
    ] = None,
    kind: Annotated[str, typer.Option(help="With --feedback: ae, pc or srs.")] = "ae",
) -> None:
    """Open a case by hand, from a triage entry or any feedback item. Acts as CPXM_TOKEN's user."""
    from cpxm.safety import intake

    if (triage_id is None) == (feedback_id is None):
        _fail("give either --triage ID or --feedback ID")
    with _session() as session:
        principal = acting_principal(session, needs=Domain.SAFETY, reason=reason)
        if triage_id is not None:
            case = intake.open_case_from_triage(
                session, triage_id=triage_id, user_id=principal.user_id, reason=reason
            )
        else:
            assert feedback_id is not None
            case = intake.open_case_by_hand(
                session,
                feedback_item_id=feedback_id,
                kind=kind,
                user_id=principal.user_id,
                reason=reason,
            )
        case_id, due = case.id, case.due_at
    console.print(f"case {case_id} opened (due {due:%Y-%m-%d %H:%M} UTC)")


@safety_app.command("show")
def show_command(case_id: Annotated[int, typer.Argument()]) -> None:
    """One case: verbatim text, detections, the four elements, the clock and its trail; read as
    CPXM_TOKEN's user (PV), and audited as their read."""
    from cpxm.safety import intake

    with _session() as session:
        reader = acting_principal(session, needs=Domain.SAFETY)
        case = service.get_case(session, case_id)
        audit.record_read(
            session,
            reader,
            entity_type="safety_cases",
            entity_ids=[case.id],
            purpose="cpxm safety show",
        )
        events = service.case_events(session, case_id)
        console.print(f"[bold]safety case {case.id}[/] ({case.kind}: {', '.join(case.subtypes)})")
        console.print(
            f"status {case.status}; aware {case.aware_at}; due {case.due_at}; "
            f"escalation {case.escalation_level}"
        )
        console.print(
            f"product {case.product_code or '-'} (written '{case.product_written or '-'}'); "
            f"event {', '.join(case.event_terms)}; context {case.context}"
        )
        console.print(
            f"patient {'present' if case.has_patient else 'missing'}, reporter "
            f"{'present' if case.has_reporter else 'missing'}, product "
            f"{'present' if case.has_product else 'missing'}, event "
            f"{'present' if case.has_event else 'missing'}; contact permission "
            f"{'not asked' if case.contact_permission is None else case.contact_permission}"
        )
        console.print(
            f"seriousness {', '.join(case.seriousness) or 'not serious'} "
            f"(by {case.seriousness_by}); hand-off due "
            f"{case.handoff_due_at or '- (Quality)'}; handed off "
            f"{case.handed_off_at or '-'} {case.safety_db_reference or ''}",
            highlight=False,
        )
        if case.follow_up_of:
            console.print(f"follow-up: version {case.version} of case {case.follow_up_of}")
        later = intake.follow_ups(session, case.id)
        if later:
            console.print("follow-ups: " + ", ".join(f"case {f.id} (v{f.version})" for f in later))
        console.print(f"verbatim: {case.verbatim}", highlight=False)
        for event in events:
            console.print(
                f"  {event.occurred_at}  {event.event_type}  {event.details or ''}", highlight=False
            )
        current = signatures.record_state(case)
        for signature in signatures.signatures_of(
            session, record_kind="safety_cases", record_id=case.id
        ):
            unchanged = "unchanged" if signatures.still_matches(signature, current) else "CHANGED"
            console.print(
                f"  signed {signature.signed_at} UTC by {signature.signer_name} "
                f"<{signature.signer_email}>: {signature.action}, meaning '{signature.meaning}', "
                f"reason '{signature.reason}' (case {unchanged} since)",
                highlight=False,
            )


@safety_app.command("ack")
def acknowledge_command(
    case_ids: Annotated[list[int], typer.Argument(help="Case ids.")],
) -> None:
    """Acknowledge cases: PV has seen them (stops the escalation clock); as CPXM_TOKEN's user."""
    with _session() as session:
        user_id = acting_principal(session, needs=Domain.SAFETY).user_id
        for case_id in case_ids:
            case = service.acknowledge(session, case_id=case_id, user_id=user_id)
            on_time = (
                "on time"
                if case.acknowledged_at and case.acknowledged_at <= case.due_at
                else "LATE"
            )
            console.print(f"case {case_id} acknowledged ({on_time})")


MeaningOption = Annotated[
    str,
    typer.Option("--meaning", help='What your signature means, e.g. "confirmed as adverse event".'),
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept with the signature).")]
PasswordStdinOption = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read your password (to sign) from standard input's first line."
    ),
]


def _signed_decision(case_id: int, decision: str, meaning: str, reason: str, stdin: bool) -> None:
    with _session() as session:
        principal = acting_principal(session, needs=Domain.SAFETY, reason=reason)
        signer = acting_signer(
            session, principal, meaning=meaning, reason=reason, password_stdin=stdin
        )
        service.decide(session, case_id=case_id, decision=decision, signer=signer)


@safety_app.command("confirm")
def confirm_command(
    case_id: Annotated[int, typer.Argument()],
    meaning: MeaningOption,
    reason: ReasonOption,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Confirm a case as valid for the safety database, signed by CPXM_TOKEN's user."""
    _signed_decision(case_id, "confirmed", meaning, reason, password_stdin)
    console.print(f"case {case_id} confirmed (signed)")


@safety_app.command("reject")
def reject_command(
    case_id: Annotated[int, typer.Argument()],
    meaning: MeaningOption,
    reason: ReasonOption,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Reject a case (a false alarm), saying why, signed by CPXM_TOKEN's user."""
    _signed_decision(case_id, "rejected", meaning, reason, password_stdin)
    console.print(f"case {case_id} rejected (signed)")


@safety_app.command("reclassify")
def reclassify_command(
    case_id: Annotated[int, typer.Argument()],
    kind: Annotated[str, typer.Option("--kind", help="ae, pc or srs.")],
    meaning: MeaningOption,
    reason: ReasonOption,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Change a case's kind (adverse event, product complaint, special situation), signed."""
    with _session() as session:
        principal = acting_principal(session, needs=Domain.SAFETY, reason=reason)
        signer = acting_signer(
            session, principal, meaning=meaning, reason=reason, password_stdin=password_stdin
        )
        service.reclassify(session, case_id=case_id, kind=kind, signer=signer)
    console.print(f"case {case_id} reclassified as {kind} (signed)")


@safety_app.command("seriousness")
def seriousness_command(
    case_id: Annotated[int, typer.Argument()],
    reason: Annotated[str, typer.Option(help="Why (required).")],
    criteria: Annotated[
        list[str] | None,
        typer.Option(
            "--criterion",
            help="death, life_threatening, hospitalisation, disability, congenital_anomaly, "
            "medically_important; repeat for several, none for not serious.",
        ),
    ] = None,
) -> None:
    """Confirm or correct a case's ICH E2A seriousness. Acts as CPXM_TOKEN's user."""
    with _session() as session:
        principal = acting_principal(session, needs=Domain.SAFETY, reason=reason)
        case = service.set_seriousness(
            session,
            case_id=case_id,
            criteria=criteria or [],
            user_id=principal.user_id,
            reason=reason,
        )
        chosen, due = ", ".join(case.seriousness) or "not serious", case.handoff_due_at
    when = f"{due:%Y-%m-%d %H:%M} UTC" if due else "none (a product complaint goes to Quality)"
    console.print(f"case {case_id}: {chosen}; hand-off due {when}")


@safety_app.command("handoff")
def handoff_command(
    case_id: Annotated[int, typer.Argument()],
    reference: Annotated[str, typer.Option(help="The case's id in the safety database.")],
) -> None:
    """Record that a confirmed case is in the safety database. Acts as CPXM_TOKEN's user."""
    with _session() as session:
        principal = acting_principal(session, needs=Domain.SAFETY)
        case = service.record_handoff(
            session, case_id=case_id, reference=reference, user_id=principal.user_id
        )
        on_time = case.handoff_due_at is None or (
            case.handed_off_at is not None and case.handed_off_at <= case.handoff_due_at
        )
    console.print(f"case {case_id} handed off as {reference} ({'on time' if on_time else 'LATE'})")


@safety_app.command("link")
def link_command(
    case_id: Annotated[int, typer.Argument(help="The later report's case.")],
    to: Annotated[int, typer.Option("--to", help="The case it follows up.")],
    reason: Annotated[str, typer.Option(help="Why (required).")],
) -> None:
    """Link a case to another as its follow-up (a new version). Acts as CPXM_TOKEN's user."""
    from cpxm.safety import intake

    with _session() as session:
        principal = acting_principal(session, needs=Domain.SAFETY, reason=reason)
        case = intake.link_follow_up(
            session,
            case_id=case_id,
            master_case_id=to,
            user_id=principal.user_id,
            reason=reason,
        )
        master, version = case.follow_up_of, case.version
    console.print(f"case {case_id} is version {version} of case {master}")


@safety_app.command("unlink")
def unlink_command(
    case_id: Annotated[int, typer.Argument()],
    reason: Annotated[str, typer.Option(help="Why (required).")],
) -> None:
    """Make a follow-up a case of its own again. Acts as CPXM_TOKEN's user."""
    from cpxm.safety import intake

    with _session() as session:
        principal = acting_principal(session, needs=Domain.SAFETY, reason=reason)
        intake.unlink_follow_up(session, case_id=case_id, user_id=principal.user_id, reason=reason)
    console.print(f"case {case_id} is a case of its own again")


@safety_app.command("export")
def export_command(
    output: Annotated[Path, typer.Argument(help="File to write (.csv or .json).")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="csv, e2b (the JSON intake file shaped after E2B(R2)) or quality (product "
            "complaints, CSV).",
        ),
    ] = "csv",
    status: Annotated[
        str | None, typer.Option(help="Default confirmed; open, acknowledged, rejected or all.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="ae or srs (default both); pc for quality.")
    ] = None,
    serious: Annotated[bool, typer.Option("--serious", help="Only serious cases.")] = False,
    survey: Annotated[int | None, typer.Option(help="A survey id.")] = None,
    study: Annotated[str | None, typer.Option(help="A study, by its product code.")] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="Aware on or after (YYYY-MM-DD).")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Aware before (YYYY-MM-DD).")] = None,
) -> None:
    """Export cases for the safety database, or complaints for Quality; records when and by whom
    (CPXM_TOKEN's user)."""
    with _session() as session:
        case_filter = export_filter(
            fmt,
            status=status,
            kind=kind,
            serious=serious,
            survey_id=survey,
            study_code=study,
            received_from=_date(date_from, "--from"),
            received_to=_date(date_to, "--to"),
        )
        principal = acting_principal(session, needs=Domain.SAFETY)
        cases = service.all_cases(session, case_filter=case_filter)
        if fmt == "e2b":
            output.write_text(
                json.dumps(cases_e2b(session, cases), indent=2, ensure_ascii=False),
                encoding="utf-8",
            )
        else:
            text = quality_csv(cases) if fmt == "quality" else cases_csv(cases)
            output.write_text(text, encoding="utf-8")
        service.mark_exported(session, cases=cases, user_id=principal.user_id, fmt=fmt)
    console.print(f"exported {len(cases):,} case(s) to {output}")


@safety_app.command("reconcile")
def reconcile_command(
    output: Annotated[Path, typer.Argument(help="File to write (.pdf or .csv).")],
    survey: Annotated[int | None, typer.Option(help="A survey id.")] = None,
    study: Annotated[str | None, typer.Option(help="A study, by its product code.")] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="Received on or after (YYYY-MM-DD).")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Received before (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Reconciliation report per survey, study or period, as PDF or CSV (by OUTPUT's suffix)."""
    # The PDF writer and its fonts take 0.3 s to load; only this command needs them.
    from cpxm.safety.reconciliation import reconcile, reconciliation_csv, reconciliation_pdf

    suffix = output.suffix.lower()
    if suffix not in (".pdf", ".csv"):
        _fail(f"{output}: write the report to a .pdf or .csv file")
    with _session() as session:
        report = reconcile(
            session,
            survey_id=survey,
            study_code=study,
            period_from=_date(date_from, "--from"),
            period_to=_date(date_to, "--to"),
        )
        if suffix == ".pdf":
            output.write_bytes(reconciliation_pdf(report))
        else:
            output.write_text(reconciliation_csv(report), encoding="utf-8")
    console.print(f"{report.scope}: {report.statement}", highlight=False)
    console.print(f"written to {output}")


@safety_app.command("escalate")
def escalate_command() -> None:
    """Escalate overdue open cases now (the worker also does this every 15 minutes)."""
    with _session() as session:
        escalated = service.escalate_overdue(session)
    console.print(f"{len(escalated)} case(s) escalated")
