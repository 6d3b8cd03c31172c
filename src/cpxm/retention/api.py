"""JSON routes for the retention policy (admins)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cpxm.access import ADMINISTRATION, Administrator, requires
from cpxm.deps import DbSession
from cpxm.retention.service import CATEGORIES, apply_retention, retention_policy, set_retention
from cpxm.timeutil import UtcDateTime

router = APIRouter(prefix="/retention", tags=["retention"], dependencies=[requires(ADMINISTRATION)])


class CategoryOut(BaseModel):
    category: str
    days: int | None
    description: str
    what_happens: str
    minimum_days: int


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int | None = Field(ge=1, le=36_500, description="Days kept; null for no period.")


class CategoryResultOut(BaseModel):
    category: str
    days: int
    cutoff: UtcDateTime
    rows: dict[str, int]


class RetentionRunOut(BaseModel):
    ran_at: UtcDateTime
    dry_run: bool
    total: int
    results: list[CategoryResultOut]


def _policy(session: DbSession) -> list[CategoryOut]:
    policy = retention_policy(session)
    return [
        CategoryOut(
            category=name,
            days=policy[name],
            description=category.description,
            what_happens=category.what_happens,
            minimum_days=category.minimum_days,
        )
        for name, category in CATEGORIES.items()
    ]


@router.get("")
def get_policy(session: DbSession) -> list[CategoryOut]:
    return _policy(session)


@router.put("/{category}")
def put_policy(
    session: DbSession, category: str, data: RetentionIn, principal: Administrator
) -> list[CategoryOut]:
    set_retention(session, category=category, days=data.days, actor_user_id=principal.user_id)
    return _policy(session)


@router.post("/run")
def run_retention(
    session: DbSession, principal: Administrator, dry_run: bool = True
) -> RetentionRunOut:
    """Apply the policy now; a dry run (the default) only counts."""
    report = apply_retention(session, dry_run=dry_run, actor_user_id=principal.user_id)
    return RetentionRunOut(
        ran_at=report.ran_at,
        dry_run=report.dry_run,
        total=report.total,
        results=[
            CategoryResultOut(
                category=result.category, days=result.days, cutoff=result.cutoff, rows=result.rows
            )
            for result in report.results
        ],
    )
