"""JSON routes: the review queue, decisions on pairs, and undoing merges."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from cpxm.access import DATA_STEWARDSHIP, DataSteward, requires
from cpxm.deps import DbSession
from cpxm.identity import service
from cpxm.identity.merges import golden_record_provenance
from cpxm.pagination import Page, Pagination

router = APIRouter(prefix="/identity", tags=["identity"], dependencies=[requires(DATA_STEWARDSHIP)])


class MatchPairOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    record_low_id: int
    record_high_id: int
    match_probability: float
    status: str
    # "patient vs hcp" when the records declare types linked only by a person's decision.
    type_conflict: str | None = None


class MergeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    survivor_id: int
    merged_id: int
    reason: str


class ProvenanceOut(BaseModel):
    attribute: str
    rule: str
    reason: str  # "agreement 3 of 4", "most trusted source" ...
    source_record_id: int
    source_system: str


class GoldenRecordProvenanceOut(BaseModel):
    """One golden record's provenance: at most one row per attribute, so not paginated. No
    value of the record is in it, so reading it is no read of patient data to audit."""

    attributes: list[ProvenanceOut]


@router.get("/stakeholders/{stakeholder_id}/provenance")
def provenance(stakeholder_id: int, session: DbSession) -> GoldenRecordProvenanceOut:
    """Why each golden attribute holds its value: the source record, the rule and its reason."""
    rows = golden_record_provenance(session, stakeholder_id=stakeholder_id)
    return GoldenRecordProvenanceOut(attributes=[ProvenanceOut(**row) for row in rows])


@router.get("/review")
def list_review(session: DbSession, page: Pagination) -> Page[MatchPairOut]:
    pairs, total = service.list_review(session, limit=page.limit, offset=page.offset)
    return Page(
        items=[MatchPairOut.model_validate(p) for p in pairs],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/review/{pair_id}/accept")
def accept_pair(pair_id: int, session: DbSession, principal: DataSteward) -> MatchPairOut:
    return MatchPairOut.model_validate(
        service.decide_pair(session, pair_id=pair_id, accept=True, user_id=principal.user_id)
    )


@router.post("/review/{pair_id}/reject")
def reject_pair(pair_id: int, session: DbSession, principal: DataSteward) -> MatchPairOut:
    return MatchPairOut.model_validate(
        service.decide_pair(session, pair_id=pair_id, accept=False, user_id=principal.user_id)
    )


@router.post("/merges/{merge_id}/undo")
def undo_merge(merge_id: int, session: DbSession, principal: DataSteward) -> MergeOut:
    return MergeOut.model_validate(
        service.undo_merge(session, merge_id=merge_id, user_id=principal.user_id)
    )


@router.post("/stakeholders/{stakeholder_id}/unmerge")
def unmerge(stakeholder_id: int, session: DbSession, principal: DataSteward) -> MergeOut:
    return MergeOut.model_validate(
        service.unmerge_stakeholder(
            session, stakeholder_id=stakeholder_id, user_id=principal.user_id
        )
    )
