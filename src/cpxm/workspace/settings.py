"""Workspace settings kept in the store: read with a default, written by an admin (audited)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.timeutil import utc_now
from cpxm.workspace.models import WorkspaceSetting


def get_setting(session: Session, name: str) -> str | None:
    return session.scalar(select(WorkspaceSetting.value).where(WorkspaceSetting.name == name))


def set_setting(session: Session, *, name: str, value: str, user_id: int | None) -> None:
    """Create or change one setting; the request's audit hook records who changed it."""
    setting = session.get(WorkspaceSetting, name)
    if setting is None:
        session.add(
            WorkspaceSetting(
                name=name, value=value, updated_at=utc_now(), updated_by_user_id=user_id
            )
        )
    else:
        setting.value = value
        setting.updated_at = utc_now()
        setting.updated_by_user_id = user_id
    session.flush()
