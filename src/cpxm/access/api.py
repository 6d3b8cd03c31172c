"""JSON routes for the workspace's privacy settings: the minimum cell size of aggregates."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cpxm.access import cells
from cpxm.access.policy import Administrator, SignedIn
from cpxm.deps import DbSession

router = APIRouter(prefix="/privacy", tags=["privacy"])


class PrivacySettings(BaseModel):
    min_cell_size: int = Field(
        ge=1,
        le=cells.MAX_MIN_CELL_SIZE,
        description="The fewest answers or people any aggregate may describe; requests may "
        "raise it, never lower it.",
    )


@router.get("/settings")
def get_settings(session: DbSession, principal: SignedIn) -> PrivacySettings:
    """The settings every figure is computed with (any signed-in user may know them)."""
    return PrivacySettings(min_cell_size=cells.min_cell_size(session))


@router.put("/settings")
def put_settings(
    session: DbSession, principal: Administrator, settings: PrivacySettings
) -> PrivacySettings:
    """Change the settings (admin); the change is in the audit log with who and why."""
    value = cells.set_min_cell_size(
        session, value=settings.min_cell_size, user_id=principal.user_id
    )
    return PrivacySettings(min_cell_size=value)
