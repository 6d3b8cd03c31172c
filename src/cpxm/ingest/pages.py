"""Import pages: upload a file with a template or a pasted mapping, a dry run that shows the
first rows as they would be stored, the import as a background job with its progress, and the
quarantine worked row by row (fix a value and replay, or discard).

Everything here is data stewardship (``DATA_STEWARDSHIP``: admins; raw rows, reads audited). The
pages call the same services as ``cpxm import`` and ``/api/v1/imports``: a dry run through
``import_file(dry_run=True)``, the run through the worker's ``run_queued_import``, replays
through ``replay_quarantined``. Running the same file again is harmless: the ledger finds every
stored row unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.access import DATA_STEWARDSHIP, DataSteward, Principal, requires
from cpxm.deps import DbEngine, DbSession
from cpxm.errors import DomainError
from cpxm.ingest.api import UploadPageRoute
from cpxm.ingest.mapping import template_names
from cpxm.ingest.models import DataQualityIssue, ImportRun, QuarantinedRow
from cpxm.ingest.quarantine import (
    QuarantinedRowNotFound,
    discard_quarantined,
    get_run,
    list_quarantined,
    list_runs,
)
from cpxm.web.templating import templates

# The policy at router level is resolved before the endpoints' other dependencies (the engine).
router = APIRouter(include_in_schema=False, dependencies=[requires(DATA_STEWARDSHIP)])
# Only the upload takes a file: refused while it arrives when it is too large (as the API's).
upload_router = APIRouter(
    include_in_schema=False,
    route_class=UploadPageRoute,
    dependencies=[requires(DATA_STEWARDSHIP)],
)

PAGE_SIZE = 25
PREVIEW_ROWS = 20
MAX_MAPPING_CHARACTERS = 100_000


def _upload_form(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    offset: int = 0,
    error: str | None = None,
    mapping: str = "",
    mapping_yaml: str = "",
    status_code: int = 200,
) -> Response:
    runs, total = list_runs(session, limit=PAGE_SIZE, offset=offset)
    open_rows = dict(
        session.execute(
            select(QuarantinedRow.import_run_id, func.count(QuarantinedRow.id))
            .where(
                QuarantinedRow.status == "open",
                QuarantinedRow.import_run_id.in_([run.id for run in runs]),
            )
            .group_by(QuarantinedRow.import_run_id)
        ).all()
    )
    return templates.TemplateResponse(
        request,
        "imports/list.html",
        {
            "runs": runs,
            "open_rows": open_rows,
            "total": total,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "query": "",
            "templates": template_names(),
            "chosen": mapping,
            "mapping_yaml": mapping_yaml,
            "error": error,
            "csrf_token": principal.csrf_token or "",
            "principal": principal,
            "active_nav": "imports",
        },
        status_code=status_code,
    )


@router.get("/imports", response_class=HTMLResponse)
def imports_page(
    request: Request,
    session: DbSession,
    principal: DataSteward,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The upload form and every import run, newest first."""
    return _upload_form(request, session, principal, offset=offset)


def _mapping_choice(mapping: str, mapping_yaml: str) -> tuple[str | None, str | None]:
    name = mapping.strip() or None
    text = mapping_yaml if mapping_yaml.strip() else None
    if name and text:
        # The pasted mapping is the more deliberate choice; say so rather than guess silently.
        from cpxm.ingest.uploads import BadMapping

        raise BadMapping("choose a template or paste a mapping, not both")
    return name, text


@upload_router.post("/imports/upload", response_class=HTMLResponse)
def upload(
    request: Request,
    session: DbSession,
    engine: DbEngine,
    principal: DataSteward,
    file: UploadFile,
    action: Annotated[Literal["dry_run", "import"], Form()] = "dry_run",
    mapping: Annotated[str, Form(max_length=120)] = "",
    mapping_yaml: Annotated[str, Form(max_length=MAX_MAPPING_CHARACTERS)] = "",
) -> Response:
    """A dry run (nothing stored; the first rows shown as they would be stored) or the import
    itself, handed to a worker; a bad file or mapping is answered on the form."""
    from cpxm.ingest.raw import ReadError
    from cpxm.ingest.service import import_file
    from cpxm.ingest.uploads import (
        mapping_for_upload,
        queue_spooled,
        spool_token,
        spool_upload,
    )

    def refuse(message: str, status_code: int = 422) -> Response:
        return _upload_form(
            request,
            session,
            principal,
            error=message,
            mapping=mapping,
            mapping_yaml=mapping_yaml,
            status_code=status_code,
        )

    if not file.filename:
        return refuse("choose a file to import")
    try:
        name, text = _mapping_choice(mapping, mapping_yaml)
        import_mapping = mapping_for_upload(name=name, text=text)
        path = spool_upload(
            stream=file.file,
            file_name=file.filename,
            content_type=file.content_type,
            mapping=import_mapping,
        )
    except DomainError as error:
        return refuse(str(error.detail), error.status_code)
    if path.stat().st_size == 0:
        path.unlink(missing_ok=True)
        return refuse(f"'{file.filename}' is empty: there is nothing to import")
    if action == "import":
        try:
            run = queue_spooled(engine, path=path, mapping=import_mapping)
        except DomainError as error:
            return refuse(str(error.detail), error.status_code)
        return RedirectResponse(f"/imports/{run.id}", status_code=303)
    preview: list[Any] = []
    try:
        report = import_file(
            engine,
            path=path,
            mapping=import_mapping,
            dry_run=True,
            preview=preview,
            preview_limit=PREVIEW_ROWS,
        )
    except (ReadError, DomainError) as error:
        path.unlink(missing_ok=True)
        detail = error.detail if isinstance(error, DomainError) else str(error)
        return refuse(f"'{file.filename}' cannot be imported: {detail}")
    fields = sorted({field for row in preview for field in row.values})
    return templates.TemplateResponse(
        request,
        "imports/dry_run.html",
        {
            "report": report,
            "preview": preview,
            "fields": fields,
            "file_name": path.name,
            "mapping_label": name or import_mapping.name,
            "mapping": import_mapping,
            "chosen": name or "",
            "mapping_yaml": text or "",
            "token": spool_token(path),
            "csrf_token": principal.csrf_token or "",
            "principal": principal,
            "active_nav": "imports",
        },
    )


router.include_router(upload_router)


@router.post("/imports/run", response_class=HTMLResponse)
def run_spooled(
    request: Request,
    session: DbSession,
    engine: DbEngine,
    principal: DataSteward,
    token: Annotated[str, Form(max_length=260)],
    mapping: Annotated[str, Form(max_length=120)] = "",
    mapping_yaml: Annotated[str, Form(max_length=MAX_MAPPING_CHARACTERS)] = "",
) -> Response:
    """Import the file a dry run checked, in a worker."""
    from cpxm.ingest.uploads import mapping_for_upload, queue_spooled, spooled_file

    try:
        name, text = _mapping_choice(mapping, mapping_yaml)
        import_mapping = mapping_for_upload(name=name, text=text)
        run = queue_spooled(engine, path=spooled_file(token), mapping=import_mapping)
    except DomainError as error:
        return _upload_form(
            request,
            session,
            principal,
            error=str(error.detail),
            mapping=mapping,
            mapping_yaml=mapping_yaml,
            status_code=error.status_code,
        )
    return RedirectResponse(f"/imports/{run.id}", status_code=303)


@router.get("/imports/templates/{name}", response_class=HTMLResponse)
def template_page(request: Request, principal: DataSteward, name: str) -> Response:
    """A shipped mapping template's YAML, to read or to paste and adapt."""
    from cpxm.ingest.mapping import TEMPLATES_DIRECTORY

    if name not in template_names():  # only a shipped name ever becomes a path
        raise TemplateNotFound(
            f"no mapping template '{name}'; templates: {', '.join(template_names())}"
        )
    return templates.TemplateResponse(
        request,
        "imports/template.html",
        {
            "name": name,
            "text": (TEMPLATES_DIRECTORY / f"{name}.yaml").read_text(encoding="utf-8"),
            "principal": principal,
            "active_nav": "imports",
        },
    )


class TemplateNotFound(DomainError):
    status_code = 404


@router.get("/imports/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request,
    session: DbSession,
    principal: DataSteward,
    run_id: int,
    status: Annotated[Literal["open", "all"], Query()] = "open",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """A run's progress (the page refreshes itself while it runs), its outcome, and its
    quarantined rows to fix and replay, or discard."""
    run = get_run(session, run_id=run_id)
    rows, total = list_quarantined(
        session,
        run_id=run_id,
        status=None if status == "all" else "open",
        limit=PAGE_SIZE,
        offset=offset,
    )
    issues = (
        session.scalar(
            select(func.count(DataQualityIssue.id)).where(DataQualityIssue.import_run_id == run_id)
        )
        or 0
    )
    replays = session.scalars(
        select(ImportRun)
        .where(ImportRun.file_name == f"replay of import run {run_id}")
        .order_by(ImportRun.id.desc())
        .limit(20)
    ).all()
    return templates.TemplateResponse(
        request,
        "imports/run.html",
        {
            "run": run,
            "running": run.status in ("queued", "running"),
            "rows": rows,
            "total": total,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "query": urlencode({"status": status}),
            "status": status,
            "issues": issues,
            "replays": replays,
            "note": request.query_params.get("note"),
            "error": request.query_params.get("error"),
            "csrf_token": principal.csrf_token or "",
            "principal": principal,
            "active_nav": "imports",
        },
    )


def _back_to_run(
    row: QuarantinedRow | None, run_id: int, *, note: str = "", error: str = ""
) -> Response:
    target = row.import_run_id if row is not None else run_id
    key, text = ("error", error) if error else ("note", note)
    return RedirectResponse(f"/imports/{target}?{key}={quote(text)}", status_code=303)


@router.post("/imports/quarantine/{row_id}/replay")
async def replay_row(
    request: Request, session: DbSession, engine: DbEngine, principal: DataSteward, row_id: int
) -> Response:
    """Import the row again with the values as corrected in the form."""
    from starlette.concurrency import run_in_threadpool

    from cpxm.ingest.service import replay_quarantined

    form = await request.form()
    row = await run_in_threadpool(session.get, QuarantinedRow, row_id)
    if row is None:
        raise QuarantinedRowNotFound(f"no quarantined row with id {row_id}")
    run_id = row.import_run_id
    raw = dict(row.raw)
    corrections: dict[str, str | None] = {}
    for index, column in enumerate(raw):
        sent = form.get(f"value_{index}")
        if isinstance(sent, str) and sent != (raw[column] or ""):
            corrections[column] = sent if sent != "" else None
    # The replay commits on connections of its own: this request's read must not hold SQLite.
    await run_in_threadpool(session.rollback)
    try:
        report = await run_in_threadpool(
            replay_quarantined, engine, row_ids=[row_id], corrections=corrections
        )
    except DomainError as error:
        return _back_to_run(None, run_id, error=str(error.detail))
    changed = ", ".join(f"{column} → '{value or ''}'" for column, value in corrections.items())
    fixed = f" with {changed}" if changed else " unchanged"
    if report.quarantined:
        again = await run_in_threadpool(_newest_reason, engine, report.run_id)
        return _back_to_run(
            None, run_id, error=f"Row replayed{fixed} and quarantined again: {again}"
        )
    return _back_to_run(None, run_id, note=f"Row replayed{fixed} and stored")


def _newest_reason(engine: Any, run_id: int | None) -> str:
    with Session(engine) as session:
        reason = session.scalar(
            select(QuarantinedRow.reason)
            .where(QuarantinedRow.import_run_id == run_id)
            .order_by(QuarantinedRow.id.desc())
            .limit(1)
        )
    return reason or "see the replay's run"


@router.post("/imports/quarantine/{row_id}/discard")
def discard_row(session: DbSession, principal: DataSteward, row_id: int) -> Response:
    """Mark the row as deliberately not imported; it stays for the audit trail."""
    row = session.get(QuarantinedRow, row_id)
    run_id = row.import_run_id if row is not None else 0
    try:
        discard_quarantined(session, row_id=row_id)
    except DomainError as error:
        session.rollback()
        if row is None:
            raise
        return _back_to_run(None, run_id, error=str(error.detail))
    return _back_to_run(None, run_id, note=f"Row {row.row_number if row else ''} discarded")
