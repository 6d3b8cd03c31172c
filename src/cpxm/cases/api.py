"""JSON routes for cases and notifications: thin wrappers over ``cpxm.cases.service``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from cpxm.access import (
    AGGREGATES,
    CX_MANAGEMENT,
    CaseWorker,
    CommercialReader,
    Principal,
    SignedIn,
    casework,
    hidden_case_types,
    hidden_person_types,
    requires,
    shield_cases,
)
from cpxm.cases import notifications, scan, service
from cpxm.cases.models import Case
from cpxm.cases.schemas import (
    CaseAssign,
    CaseClose,
    CaseComment,
    CaseCreate,
    CaseDetailOut,
    CaseEventOut,
    CaseOut,
    CaseReopen,
    NotificationOut,
    NotificationsRead,
    RecoveryOut,
    ScanOut,
)
from cpxm.deps import DbSession
from cpxm.errors import NotFoundError
from cpxm.pagination import Page, Pagination
from cpxm.timeutil import utc_now
from cpxm.workspace.models import User

router = APIRouter(prefix="/cases", tags=["cases"])
notifications_router = APIRouter(prefix="/notifications", tags=["notifications"])


def visible_case(session: DbSession, principal: Principal, case_id: int) -> Case:
    case = service.get_case(session, case_id=case_id)
    if case.case_type in hidden_case_types(principal):
        # 404, not 403: the firewall does not confirm that a medical case exists.
        raise NotFoundError("case", case_id)
    return case


def workable_case(session: DbSession, principal: Principal, case_id: int) -> Case:
    """The case, if ``principal`` may change it (its team, assignee, accountable, or a router)."""
    case = visible_case(session, principal, case_id)
    casework.require_change(session, principal, case)
    return case


def case_detail(session: DbSession, principal: Principal, case: Case) -> CaseDetailOut:
    """The case with its trail, as ``principal`` may see it."""
    detail = CaseDetailOut(
        **CaseOut.model_validate(case).model_dump(),
        events=[
            CaseEventOut.model_validate(e) for e in service.case_events(session, case_id=case.id)
        ],
    )
    return shield_cases(session, principal, [case], [detail])[0]


@router.get("", response_model=Page[CaseOut])
def list_cases(
    session: DbSession,
    principal: CommercialReader,
    page: Pagination,
    status: Literal["open", "in_progress", "closed", "active"] | None = None,
    case_type: str | None = None,
    priority: Literal["low", "normal", "high", "urgent"] | None = None,
    assignee: Annotated[
        str | None, Query(max_length=20, description="me, unassigned, or a user id")
    ] = None,
    team_id: int | None = None,
    mine: bool = False,
    overdue: bool = False,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: Literal["due", "newest", "oldest", "priority", "updated"] = "due",
) -> Page[CaseOut]:
    """Cases, most urgent first by default; ``mine`` keeps yours and your team's; ``active`` =
    not closed; ``q`` finds a case by id, title or its person's name (as the role may see it)."""
    query = case_query(
        session,
        principal,
        status=status,
        case_type=case_type,
        priority=priority,
        assignee=assignee,
        team_id=team_id,
        mine=mine,
        overdue=overdue,
        q=q,
        sort=sort,
    )
    cases, total = cases_for(session, principal, query, limit=page.limit, offset=page.offset)
    return Page(
        items=shield_cases(session, principal, cases, [CaseOut.model_validate(c) for c in cases]),
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


def case_query(
    session: DbSession,
    principal: Principal,
    *,
    status: str | None,
    case_type: str | None,
    priority: str | None,
    assignee: str | None,
    team_id: int | None,
    mine: bool,
    overdue: bool,
    q: str | None,
    sort: str,
) -> service.CaseQuery:
    """A list's filters as the service takes them (shared by the API, the page and its CSV)."""
    return service.CaseQuery(
        status=status,
        case_type=case_type,
        priority=priority,
        assignee=assignee or None,
        team_id=team_id,
        mine_for=session.get(User, principal.user_id) if mine else None,
        overdue_at=utc_now() if overdue else None,
        q=q,
        sort=sort,
    )


def cases_for(
    session: DbSession, principal: Principal, query: service.CaseQuery, *, limit: int, offset: int
) -> tuple[list[Case], int]:
    """The cases ``principal`` may see that match ``query`` (types behind the firewall dropped,
    names the role may not see never searched)."""
    return service.list_cases(
        session,
        query=query,
        me=principal.user_id,
        hidden_types=hidden_case_types(principal),
        unsearchable_types=hidden_person_types(principal),
        limit=limit,
        offset=offset,
    )


@router.get("/recovery", response_model=RecoveryOut, dependencies=[requires(AGGREGATES)])
def recovery(session: DbSession) -> RecoveryOut:
    """Service recovery: of the closed cases re-surveyed, how many answered 7 or more of 10."""
    figures = service.recovery_figures(session)
    return RecoveryOut(
        surveyed=figures.surveyed,
        answered=figures.answered,
        recovered=figures.recovered,
        recovery_rate=figures.recovery_rate,
    )


@router.post("/scan", response_model=ScanOut, dependencies=[requires(CX_MANAGEMENT)])
def scan_now(session: DbSession) -> ScanOut:
    """Open the cases new survey answers and feedback call for (the job does this every 5 min)."""
    report = scan.scan(session)
    return ScanOut(
        answers_read=report.answers_read,
        feedback_read=report.feedback_read,
        opened=report.opened,
        already_open=report.already_open,
    )


@router.post("", response_model=CaseDetailOut, status_code=status.HTTP_201_CREATED)
def open_case(session: DbSession, principal: CaseWorker, data: CaseCreate) -> CaseDetailOut:
    """Open a case by hand; it is routed by the RACI matrix like any other."""
    opened = service.open_case(
        session,
        case_type=data.case_type,
        title=data.title,
        priority=data.priority,
        description=data.description,
        stakeholder_id=data.stakeholder_id,
        department=data.department,
        country=data.country,
        therapeutic_area=data.therapeutic_area,
        actor_user_id=principal.user_id,
    )
    return case_detail(session, principal, opened.case)


@router.get("/{case_id}", response_model=CaseDetailOut)
def get_case(session: DbSession, principal: CommercialReader, case_id: int) -> CaseDetailOut:
    """One case with its whole trail."""
    return case_detail(session, principal, visible_case(session, principal, case_id))


@router.post("/{case_id}/assign", response_model=CaseDetailOut)
def assign(
    session: DbSession, principal: CaseWorker, case_id: int, data: CaseAssign
) -> CaseDetailOut:
    case = workable_case(session, principal, case_id)
    casework.require_assignable(session, case, data.user_id)
    service.assign_case(
        session,
        case=case,
        actor_user_id=principal.user_id,
        user_id=data.user_id,
        team_id=data.team_id,
    )
    return case_detail(session, principal, case)


@router.post("/{case_id}/start", response_model=CaseDetailOut)
def start(session: DbSession, principal: CaseWorker, case_id: int) -> CaseDetailOut:
    case = workable_case(session, principal, case_id)
    service.start_case(session, case=case, actor_user_id=principal.user_id)
    return case_detail(session, principal, case)


@router.post("/{case_id}/comments", response_model=CaseDetailOut)
def comment(
    session: DbSession, principal: CaseWorker, case_id: int, data: CaseComment
) -> CaseDetailOut:
    case = workable_case(session, principal, case_id)
    service.comment_case(session, case=case, actor_user_id=principal.user_id, text=data.text)
    return case_detail(session, principal, case)


@router.post("/{case_id}/close", response_model=CaseDetailOut)
def close(
    session: DbSession, principal: CaseWorker, case_id: int, data: CaseClose
) -> CaseDetailOut:
    case = workable_case(session, principal, case_id)
    service.close_case(
        session,
        case=case,
        actor_user_id=principal.user_id,
        resolution_code=data.resolution_code,
        note=data.note,
    )
    return case_detail(session, principal, case)


@router.post("/{case_id}/reopen", response_model=CaseDetailOut)
def reopen(
    session: DbSession, principal: CaseWorker, case_id: int, data: CaseReopen
) -> CaseDetailOut:
    case = workable_case(session, principal, case_id)
    service.reopen_case(session, case=case, actor_user_id=principal.user_id, reason=data.reason)
    return case_detail(session, principal, case)


@notifications_router.get("", response_model=Page[NotificationOut])
def my_notifications(
    session: DbSession, principal: SignedIn, page: Pagination, unread: bool = False
) -> Page[NotificationOut]:
    """Your own notifications, newest first."""
    rows, total = notifications.list_notifications(
        session,
        user_id=principal.user_id,
        unread_only=unread,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[NotificationOut.model_validate(n) for n in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@notifications_router.post("/read")
def mark_read(session: DbSession, principal: SignedIn, data: NotificationsRead) -> dict[str, int]:
    """Mark your notifications read (others' ids are ignored)."""
    count = notifications.mark_read(session, user_id=principal.user_id, notification_ids=data.ids)
    return {"marked": count}
