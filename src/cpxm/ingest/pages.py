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

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
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
    QUARANTINE_SORTS,
    QUARANTINE_STATUSES,
    QuarantinedRowNotFound,
    discard_quarantined,
    get_run,
    list_quarantined,
    list_runs,
    quarantine_source_systems,
)
from cpxm.web.lists import (
    CSV_LIMIT,
    Column,
    ListParams,
    csv_of,
    list_params,
    minutes,
    page_context,
    query_string,
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

PAGE_SIZE = 50
RUN_PAGE_SIZE = 25  # a run's page shows its outcome above the rows
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
            "open_total": session.scalar(
                select(func.count(QuarantinedRow.id)).where(QuarantinedRow.status == "open")
            )
            or 0,
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


@dataclass(frozen=True)
class QuarantineFilters:
    """The quarantine list's query string, checked: the page and its CSV read the same one."""

    status: str
    source: str | None
    run: int | None
    listing: ListParams

    def query(self, *, with_run: bool = True) -> str:
        return query_string(
            {
                "status": self.status,
                "source": self.source,
                "run": self.run if with_run else None,
                "q": self.listing.q,
                "sort": self.listing.sort,
            }
        )

    def rows(self, session: Session, *, limit: int, offset: int) -> tuple[list[Any], int]:
        return list_quarantined(
            session,
            run_id=self.run,
            status=None if self.status == "all" else self.status,
            q=self.listing.q,
            source_system=self.source,
            sort=self.listing.sort,
            limit=limit,
            offset=offset,
        )


QuarantineStatusFilter = Literal["open", "replayed", "discarded", "superseded", "resolved", "all"]


def quarantine_filters(
    listing: Annotated[ListParams, list_params(QUARANTINE_SORTS, default="oldest")],
    status: Annotated[QuarantineStatusFilter, Query()] = "open",
    source: Annotated[str | None, Query(max_length=60)] = None,
    run: Annotated[int | None, Query(ge=1)] = None,
) -> QuarantineFilters:
    return QuarantineFilters(status=status, source=source or None, run=run, listing=listing)


Quarantine = Annotated[QuarantineFilters, Depends(quarantine_filters)]


def _quarantine_context(
    session: Session, filters: QuarantineFilters, *, page_size: int, with_run: bool
) -> dict[str, Any]:
    listing = dataclasses.replace(filters.listing, page_size=page_size)
    rows, total = filters.rows(session, limit=page_size, offset=listing.offset)
    runs = {
        run.id: run
        for run in session.scalars(
            select(ImportRun).where(ImportRun.id.in_({row.import_run_id for row in rows}))
        )
    }
    return {
        **page_context(
            listing, total=total, query=filters.query(with_run=with_run), sorts=QUARANTINE_SORTS
        ),
        "rows": rows,
        "row_runs": runs,
        "filters": filters,
        "statuses": (*QUARANTINE_STATUSES, "all"),
        "sources": quarantine_source_systems(session),
        "csv_query": filters.query(),
    }


@router.get("/imports/quarantine", response_class=HTMLResponse)
def quarantine_page(
    request: Request, session: DbSession, principal: DataSteward, filters: Quarantine
) -> Response:
    """Every run's quarantined rows in one working list: search, filter, sort, page, CSV;
    each row fixed and replayed, or discarded, in place."""
    return templates.TemplateResponse(
        request,
        "imports/quarantine.html",
        {
            **_quarantine_context(session, filters, page_size=PAGE_SIZE, with_run=True),
            "note": request.query_params.get("note"),
            "error": request.query_params.get("error"),
            "csrf_token": principal.csrf_token or "",
            "principal": principal,
            "active_nav": "imports",
        },
    )


@router.get("/imports/quarantine/export.csv")
def quarantine_csv(session: DbSession, principal: DataSteward, filters: Quarantine) -> Response:
    """Exactly the quarantined rows these filters select (every page): reason and raw values."""
    rows, _total = filters.rows(session, limit=CSV_LIMIT, offset=0)
    columns: list[Column[QuarantinedRow]] = [
        Column("id", lambda r: r.id),
        Column("import_run", lambda r: r.import_run_id),
        Column("row_number", lambda r: r.row_number),
        Column("source_id", lambda r: r.source_key),
        Column("status", lambda r: r.status),
        Column("reason", lambda r: r.reason),
        Column("quarantined_at", lambda r: minutes(r.created_at)),
        Column("resolved_at", lambda r: minutes(r.resolved_at)),
        Column(
            "values",
            lambda r: "; ".join(
                f"{key}={value if value is not None else ''}" for key, value in r.raw.items()
            ),
        ),
    ]
    return csv_of("quarantine.csv", columns, rows)


@router.get("/imports/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request,
    session: DbSession,
    principal: DataSteward,
    run_id: int,
    listing: Annotated[ListParams, list_params(QUARANTINE_SORTS, default="oldest")],
    status: Annotated[QuarantineStatusFilter, Query()] = "open",
) -> Response:
    """A run's progress (the page refreshes itself while it runs), its outcome, and its
    quarantined rows to fix and replay, or discard (the quarantine list, kept to this run)."""
    run = get_run(session, run_id=run_id)
    filters = QuarantineFilters(status=status, source=None, run=run_id, listing=listing)
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
            **_quarantine_context(session, filters, page_size=RUN_PAGE_SIZE, with_run=False),
            "run": run,
            "running": run.status in ("queued", "running"),
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
    row: QuarantinedRow | None, run_id: int, *, note: str = "", error: str = "", back: str = ""
) -> Response:
    """To the run's page, or to the quarantine list the form was sent from (``back``: its
    query string, so the list keeps its filters and page)."""
    target = row.import_run_id if row is not None else run_id
    key, text = ("error", error) if error else ("note", note)
    message = f"{key}={quote(text)}"
    if back.startswith("?"):
        # Only a query string is taken from the form: the list's own path is fixed here.
        return RedirectResponse(
            f"/imports/quarantine{back}{'&' if len(back) > 1 else ''}{message}", status_code=303
        )
    return RedirectResponse(f"/imports/{target}?{message}", status_code=303)


@router.post("/imports/quarantine/{row_id}/replay")
async def replay_row(
    request: Request, session: DbSession, engine: DbEngine, principal: DataSteward, row_id: int
) -> Response:
    """Import the row again with the values as corrected in the form."""
    from starlette.concurrency import run_in_threadpool

    from cpxm.ingest.service import replay_quarantined

    form = await request.form()
    sent_back = form.get("back")
    back = sent_back if isinstance(sent_back, str) else ""
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
        return _back_to_run(None, run_id, error=str(error.detail), back=back)
    changed = ", ".join(f"{column} → '{value or ''}'" for column, value in corrections.items())
    fixed = f" with {changed}" if changed else " unchanged"
    if report.quarantined:
        again = await run_in_threadpool(_newest_reason, engine, report.run_id)
        return _back_to_run(
            None, run_id, error=f"Row replayed{fixed} and quarantined again: {again}", back=back
        )
    return _back_to_run(None, run_id, note=f"Row replayed{fixed} and stored", back=back)


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
def discard_row(
    session: DbSession,
    principal: DataSteward,
    row_id: int,
    back: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Mark the row as deliberately not imported; it stays for the audit trail."""
    row = session.get(QuarantinedRow, row_id)
    run_id = row.import_run_id if row is not None else 0
    try:
        discard_quarantined(session, row_id=row_id)
    except DomainError as error:
        session.rollback()
        if row is None:
            raise
        return _back_to_run(None, run_id, error=str(error.detail), back=back)
    return _back_to_run(
        None, run_id, note=f"Row {row.row_number if row else ''} discarded", back=back
    )
