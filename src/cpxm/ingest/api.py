"""JSON routes for imports, pushed events, quarantine and data-quality issues: thin wrappers
over the ingest services.

File imports and replays commit batch by batch on the app's engine (a large file is not one
transaction); pushed events are one request, one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.types import Message, Receive

from cpxm.access import DATA_STEWARDSHIP, requires
from cpxm.config import get_settings
from cpxm.deps import DbEngine, DbSession
from cpxm.ingest import events as events_service
from cpxm.ingest import service
from cpxm.ingest.quality import list_quality_issues
from cpxm.ingest.schemas import (
    EventBatchIn,
    EventBatchOut,
    ImportReportOut,
    ImportRunOut,
    QualityIssueOut,
    QualityStatus,
    QuarantinedRowOut,
    QuarantineStatus,
    ReplayIn,
    quality_issue_out,
    quarantined_out,
    report_out,
    run_out,
)
from cpxm.ingest.uploads import import_upload, mapping_for_upload, queue_upload
from cpxm.pagination import Page, Pagination


class _UploadRoute(APIRoute):
    """Refuse uploads that are not forms, or larger than ``CPXM_MAX_UPLOAD_MB``, while they
    arrive: a declared length is refused before a byte is read, and a body without one is
    counted as it streams, so a huge upload never reaches the disk in full."""

    # The API says how to send a file before anything else; a page's form is multipart anyway,
    # and a request that is not gets FastAPI's own answer after the access policy's.
    require_multipart = True

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            if request.method != "POST":
                return await handler(request)
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if self.require_multipart and media_type != "multipart/form-data":
                raise HTTPException(
                    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                    f"send the file as multipart/form-data (got '{media_type or 'nothing'}'), "
                    "e.g. curl -F file=@calls.csv -F mapping=crm-calls",
                )
            limit = get_settings().max_upload_bytes
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(limit)
            return await handler(Request(request.scope, _counted(request.receive, limit)))

        return limited


class UploadPageRoute(_UploadRoute):
    """An upload page's route: the size limit as the API's, checked while the body arrives."""

    require_multipart = False


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"the upload is larger than {limit / 1024 / 1024:.3g} MB (CPXM_MAX_UPLOAD_MB); split the "
        "file, or import it with `cpxm import` on the server",
    )


def _counted(receive: Receive, limit: int) -> Receive:
    received = 0

    async def counting() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            # An HTTPException passes through FastAPI's body parsing with its status intact.
            raise _too_large(limit)
        return message

    return counting


_STEWARDS_ONLY = [requires(DATA_STEWARDSHIP)]
imports_router = APIRouter(
    prefix="/imports", tags=["imports"], route_class=_UploadRoute, dependencies=_STEWARDS_ONLY
)
events_router = APIRouter(prefix="/events", tags=["imports"], dependencies=_STEWARDS_ONLY)
quarantine_router = APIRouter(prefix="/quarantine", tags=["imports"], dependencies=_STEWARDS_ONLY)


@imports_router.post(
    "",
    response_model=ImportReportOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        status.HTTP_202_ACCEPTED: {
            "model": ImportRunOut,
            "description": "Queued (background=true): follow the run at GET /imports/{id}.",
        }
    },
)
def upload_import(
    engine: DbEngine,
    file: UploadFile,
    mapping: Annotated[
        str | None, Form(description="A shipped template's name, e.g. crm-calls.")
    ] = None,
    mapping_yaml: Annotated[str | None, Form(description="A mapping's YAML text.")] = None,
    dry_run: Annotated[bool, Form(description="Check and count every row; store nothing.")] = False,
    background: Annotated[
        bool, Form(description="Answer at once (202) and import in a worker.")
    ] = False,
) -> ImportReportOut | JSONResponse:
    """Import an export file: every row is stored or quarantined with its reason.

    A large file need not hold the request open: with ``background`` the answer is the queued
    run, which ``GET /imports/{id}`` follows to completed (or failed, with the reason).
    """
    import_mapping = mapping_for_upload(name=mapping, text=mapping_yaml)
    if background:
        if dry_run:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "a dry run answers in the request; send dry_run without background",
            )
        run = queue_upload(
            engine,
            stream=file.file,
            file_name=file.filename,
            content_type=file.content_type,
            mapping=import_mapping,
        )
        with Session(engine) as session:
            queued = run_out(service.get_run(session, run_id=run.id))
        return JSONResponse(
            queued.model_dump(mode="json"),
            status_code=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/imports/{run.id}"},
        )
    report = import_upload(
        engine,
        stream=file.file,
        file_name=file.filename,
        content_type=file.content_type,
        mapping=import_mapping,
        dry_run=dry_run,
    )
    return report_out(report)


@imports_router.get("", response_model=Page[ImportRunOut])
def list_imports(session: DbSession, page: Pagination) -> Page[ImportRunOut]:
    """Import runs, newest first."""
    runs, total = service.list_runs(session, limit=page.limit, offset=page.offset)
    return Page(items=[run_out(r) for r in runs], total=total, limit=page.limit, offset=page.offset)


# Declared before /{run_id}, which would otherwise take the path and refuse it as no run id.
@imports_router.get("/quality-issues", response_model=Page[QualityIssueOut])
def list_import_quality_issues(
    session: DbSession,
    page: Pagination,
    run_id: int | None = None,
    status: QualityStatus = "open",
) -> Page[QualityIssueOut]:
    """Values imports blanked to store their rows (``on_invalid: blank``), oldest first."""
    issues, total = list_quality_issues(
        session,
        run_id=run_id,
        status=None if status == "all" else status,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[quality_issue_out(issue) for issue in issues],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@imports_router.get("/{run_id}", response_model=ImportRunOut)
def get_import(session: DbSession, run_id: int) -> ImportRunOut:
    return run_out(service.get_run(session, run_id=run_id))


@events_router.post("", response_model=EventBatchOut)
def push_events(session: DbSession, batch: EventBatchIn) -> EventBatchOut:
    """Store a batch of interactions; each is created, updated, unchanged or rejected.

    Idempotent per (source_system, source_id): pushing the same batch again changes nothing.
    Rejected events are quarantined with their reason and can be corrected and replayed.
    """
    return events_service.record_events(session, events=batch.events)


@quarantine_router.get("", response_model=Page[QuarantinedRowOut])
def list_quarantine(
    session: DbSession,
    page: Pagination,
    run_id: int | None = None,
    status: QuarantineStatus = "open",
) -> Page[QuarantinedRowOut]:
    """Rows imports could not store, oldest first."""
    rows, total = service.list_quarantined(
        session,
        run_id=run_id,
        status=None if status == "all" else status,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[quarantined_out(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@quarantine_router.post("/{row_id}/replay", response_model=ImportReportOut)
def replay_quarantined_row(engine: DbEngine, row_id: int, data: ReplayIn) -> ImportReportOut:
    """Import the row again with ``corrections`` applied; if it fails again it is quarantined
    afresh with the new reason (see ``quarantined`` in the answer)."""
    report = service.replay_quarantined(engine, row_ids=[row_id], corrections=data.corrections)
    return report_out(report)


@quarantine_router.post("/{row_id}/discard", response_model=QuarantinedRowOut)
def discard_quarantined_row(session: DbSession, row_id: int) -> QuarantinedRowOut:
    """Mark the row as deliberately not imported; it stays for the audit trail."""
    return quarantined_out(service.discard_quarantined(session, row_id=row_id))
