"""Route policies: FastAPI dependencies that sign the request in and decide whether it may pass.

Every route names exactly the policy it needs (see the package docstring); the route-coverage test
fails for any route that names none.
"""

# No ``from __future__ import annotations`` here: FastAPI reads ``Policy.__call__``'s annotations
# at run time, and an instance has no module globals to resolve strings against.
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cpxm.access import audit
from cpxm.access.principal import CSRF_FIELD, CSRF_HEADER, Principal, principal_of
from cpxm.access.roles import ADMINS, CX_MANAGERS, ROLE_DOMAINS, Domain, Role
from cpxm.deps import DbSession, request_sessionmaker
from cpxm.errors import DomainError

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NotSignedIn(DomainError):
    """No valid session or token. Pages redirect to the sign-in page; the API answers 401."""

    status_code = 401

    def __init__(self, path: str) -> None:
        super().__init__("sign in first: send 'Authorization: Bearer <token>' or a session cookie")
        self.path = path


class Forbidden(DomainError):
    status_code = 403


class CsrfFailed(DomainError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__(
            "the form's CSRF token is missing or stale; reload the page and submit it again"
        )


@dataclass(frozen=True, eq=False)
class Policy:
    """Who may call a route. ``roles`` None means any signed-in role; ``domain`` demands the
    role's record-level domains include it; ``audit_reads`` logs every call as a read."""

    name: str
    description: str
    roles: frozenset[Role] | None = None
    domain: Domain | None = None
    audit_reads: bool = False
    public: bool = False
    allowed_roles: frozenset[Role] = field(init=False)

    def __post_init__(self) -> None:
        allowed = frozenset(Role) if self.roles is None else self.roles
        if self.domain is not None:
            allowed = frozenset(role for role in allowed if self.domain in ROLE_DOMAINS[role])
        object.__setattr__(self, "allowed_roles", allowed)

    def allows(self, role: Role) -> bool:
        return self.public or role in self.allowed_roles

    async def __call__(self, request: Request, session: DbSession) -> Principal | None:
        if self.public:
            return None
        principal = await signed_in(request, session)
        if principal is None:
            raise NotSignedIn(request.url.path)
        if principal.role not in self.allowed_roles:
            raise Forbidden(
                f"your role '{principal.role}' may not use this ({self.description}); "
                f"roles that may: {', '.join(sorted(self.allowed_roles))}"
            )
        if self.audit_reads and request.method in ("GET", "HEAD"):
            # Writes are in the log already, row by row, from the session's flush hook.
            # In a worker thread: the store may make this wait for its write lock, and the event
            # loop must keep serving the request that holds it meanwhile.
            await run_in_threadpool(
                audit.record,
                session,
                user_id=principal.user_id,
                action="read",
                entity_type="route",
                entity_id=None,
                details={"method": request.method, "path": request.url.path},
            )
        return principal


async def signed_in(request: Request, session: Session) -> Principal | None:
    """Resolve the principal once per request, check CSRF on cookie-signed unsafe requests, and
    bind the principal to the request's session so its changes are audited."""
    cached = request.scope.get("cpxm.principal", _UNRESOLVED)
    if cached is not _UNRESOLVED:
        return cached  # type: ignore[no-any-return]
    # Resolved in a short transaction of its own: touching a token's last use must not hold a
    # write lock through the request (imports commit on other connections meanwhile).
    # In a worker thread, as every store call from an async function must be: waiting on the
    # event loop for SQLite's write lock would stop the request holding it from finishing.
    principal = await run_in_threadpool(_resolve_principal, request)
    if principal is not None:
        if principal.method == "session" and request.method in UNSAFE_METHODS:
            await _check_csrf(request, principal)
        audit.bind_principal(session, principal, reason=request.headers.get(audit.REASON_HEADER))
    request.scope["cpxm.principal"] = principal
    return principal


_UNRESOLVED = object()


def _resolve_principal(request: Request) -> Principal | None:
    with request_sessionmaker(request)() as own_session:
        principal = principal_of(own_session, request)
        own_session.commit()
    return principal


async def _check_csrf(request: Request, principal: Principal) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
        raise CsrfFailed()


def policy(
    name: str,
    description: str,
    *,
    roles: Iterable[Role] | None = None,
    domain: Domain | None = None,
    audit_reads: bool = False,
) -> Policy:
    return Policy(
        name=name,
        description=description,
        roles=None if roles is None else frozenset(roles),
        domain=domain,
        audit_reads=audit_reads,
    )


PUBLIC = Policy(name="public", description="open to anyone, signed in or not", public=True)
SIGNED_IN = policy("signed_in", "any signed-in user: their own profile, inbox and notifications")
AGGREGATES = policy(
    "aggregates", "aggregated figures (scores, counts, charts), never one person's record"
)
COMMERCIAL_DATA = policy(
    "commercial_data",
    "record-level commercial data: stakeholders, interactions, surveys, responses",
    domain=Domain.COMMERCIAL,
)
MEDICAL_DATA = policy(
    "medical_data",
    "medical-inquiry content, behind the medical/commercial firewall",
    domain=Domain.MEDICAL,
)
PATIENT_DATA = policy(
    "patient_data",
    "patient-identifiable data; every read is audited",
    domain=Domain.PATIENT_IDENTIFIABLE,
    audit_reads=True,
)
SAFETY_DATA = policy(
    "safety_data",
    "safety cases (adverse events, product complaints), whole; every read is audited",
    domain=Domain.SAFETY,
    audit_reads=True,
)
CX_MANAGEMENT = policy(
    "cx_management",
    "running the programme: surveys, governance, case routing",
    roles=tuple(sorted(CX_MANAGERS)),
)
DATA_STEWARDSHIP = policy(
    "data_stewardship",
    "imports, quarantine and identity resolution of all source data (raw rows: reads audited)",
    roles=(Role.ADMIN,),
    audit_reads=True,
)
ADMINISTRATION = policy(
    "administration", "users, teams, roles and tokens", roles=tuple(sorted(ADMINS))
)
CASE_WORK = policy(
    "case_work",
    "working cases: open, assign, comment, close (analysts and viewers only read figures)",
    roles=tuple(role for role in Role if role not in (Role.ANALYST, Role.VIEWER)),
    domain=Domain.COMMERCIAL,
)
PEOPLE_TEAM = policy(
    "people_team",
    "the people team: who was invited to a confidential survey and whether they answered "
    "(to send reminders); every read audited",
    roles=(Role.HR_PARTNER,),
    audit_reads=True,
)

TEAM_ACTIONS = policy(
    "team_actions",
    "recording a team's action plan against a low pulse enabler (team leads; not viewers or "
    "analysts, who read figures)",
    roles=tuple(role for role in Role if role not in (Role.ANALYST, Role.VIEWER)),
)

ALL_POLICIES: tuple[Policy, ...] = (
    PUBLIC,
    SIGNED_IN,
    AGGREGATES,
    COMMERCIAL_DATA,
    MEDICAL_DATA,
    PATIENT_DATA,
    SAFETY_DATA,
    CX_MANAGEMENT,
    DATA_STEWARDSHIP,
    ADMINISTRATION,
    CASE_WORK,
    PEOPLE_TEAM,
    TEAM_ACTIONS,
)


def requires(policy_: Policy) -> Any:
    """The dependency for a router's or route's ``dependencies=[...]`` list."""
    return Depends(policy_)


# Annotated aliases for endpoints that need the principal itself.
SignedIn = Annotated[Principal, Depends(SIGNED_IN)]
AggregatesReader = Annotated[Principal, Depends(AGGREGATES)]
CommercialReader = Annotated[Principal, Depends(COMMERCIAL_DATA)]
MedicalReader = Annotated[Principal, Depends(MEDICAL_DATA)]
PatientDataReader = Annotated[Principal, Depends(PATIENT_DATA)]
SafetyReader = Annotated[Principal, Depends(SAFETY_DATA)]
CxManager = Annotated[Principal, Depends(CX_MANAGEMENT)]
DataSteward = Annotated[Principal, Depends(DATA_STEWARDSHIP)]
Administrator = Annotated[Principal, Depends(ADMINISTRATION)]
CaseWorker = Annotated[Principal, Depends(CASE_WORK)]
PeopleTeam = Annotated[Principal, Depends(PEOPLE_TEAM)]
TeamLead = Annotated[Principal, Depends(TEAM_ACTIONS)]


def policies_of(route: Any) -> list[Policy]:
    """The policies a route's dependency tree names (router- and route-level alike)."""
    found: list[Policy] = []
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, Policy):
            found.append(dependant.call)
        stack.extend(dependant.dependencies)
    return found
