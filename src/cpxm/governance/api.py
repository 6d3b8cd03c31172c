"""JSON routes: read the RACI matrix, ask who is responsible, replace it (CX management)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from cpxm.access import SIGNED_IN, CxManager, requires
from cpxm.auth.pages import client_address
from cpxm.auth.signatures import SignatureIn, SignatureOut, signer_or_refusal
from cpxm.deps import DbSession
from cpxm.governance import service
from cpxm.governance.models import ACTIVITIES

router = APIRouter(prefix="/governance", tags=["governance"])


class MatrixRowOut(BaseModel):
    activity: str
    scope: dict[str, str]
    responsible: list[str]
    accountable: list[str]
    consulted: list[str]
    informed: list[str]


class MatrixOut(BaseModel):
    rows: list[MatrixRowOut]
    yaml: str
    signatures: list[SignatureOut]


class MatrixIn(SignatureIn):
    """The new matrix, under the editor's electronic signature (password, meaning, reason)."""

    yaml: str = Field(max_length=1_000_000, description="The whole matrix, as in the YAML file.")


class LoadOut(BaseModel):
    assignments: int
    teams_created: int
    activities: list[str]


class RaciOut(BaseModel):
    responsible: list[str]
    accountable: list[str]
    consulted: list[str]
    informed: list[str]


def _matrix_out(session: DbSession) -> MatrixOut:
    return MatrixOut(
        rows=[
            MatrixRowOut(activity=row.activity, scope=row.scope, **row.parties)
            for row in service.matrix(session)
        ],
        yaml=service.dump_matrix(session),
        signatures=[
            SignatureOut.of(signature).model_copy(update={"record_unchanged": current})
            for signature, current in service.matrix_signatures(session)
        ],
    )


@router.get("/raci", response_model=MatrixOut, dependencies=[requires(SIGNED_IN)])
def get_matrix(session: DbSession) -> MatrixOut:
    """The whole matrix, grouped by activity and scope, and as YAML."""
    return _matrix_out(session)


@router.put("/raci", response_model=LoadOut)
def replace_matrix(
    request: Request, session: DbSession, principal: CxManager, data: MatrixIn
) -> LoadOut:
    """Replace the matrix, signed; 422 lists every problem with its place, and nothing changes;
    a wrong password is 403 (audited, counted toward the lockout)."""
    signer = signer_or_refusal(
        session, user_id=principal.user_id, signature=data, address=client_address(request)
    )
    report = service.replace_matrix(session, text=data.yaml, signer=signer)
    return LoadOut(
        assignments=report.assignments,
        teams_created=report.teams_created,
        activities=report.activities,
    )


@router.get("/resolve", response_model=RaciOut, dependencies=[requires(SIGNED_IN)])
def resolve(
    session: DbSession,
    activity: Annotated[str, Query(description=", ".join(ACTIVITIES))],
    department: str | None = None,
    country: str | None = None,
    therapeutic_area: str | None = None,
    stakeholder_type: str | None = None,
) -> RaciOut:
    """Who is R, A, C and I for an activity in a scope (the most specific rows win)."""
    raci = service.resolve(
        session,
        activity=activity,
        department=department,
        country=country,
        therapeutic_area=therapeutic_area,
        stakeholder_type=stakeholder_type,
    )
    return RaciOut(
        responsible=[p.label for p in raci.responsible],
        accountable=[p.label for p in raci.accountable],
        consulted=[p.label for p in raci.consulted],
        informed=[p.label for p in raci.informed],
    )
