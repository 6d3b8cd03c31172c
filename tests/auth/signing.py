"""Users who can sign (they have a password), and the signature fields a request carries."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from cpxm.auth.service import create_api_token, create_user
from cpxm.auth.signatures import Signer, authenticate_signer
from cpxm.workspace.models import User

PASSWORD = "orbit-Lantern-57-quiet"


def signing_user(session: Session, role: str, *, email: str | None = None) -> User:
    return create_user(
        session,
        email=email or f"{role}-{uuid.uuid4().hex[:10]}@sign.example",
        role=role,
        password=PASSWORD,
        display_name=f"Dr {role.replace('_', ' ').title()}",
    )


def signing_headers(maker: sessionmaker[Session], role: str) -> tuple[dict[str, str], int]:
    """Bearer headers of a new user of ``role`` who has a password (``PASSWORD``), and its id."""
    with maker() as session:
        user = signing_user(session, role)
        token = create_api_token(session, user=user, name="tests").token
        session.commit()
        return {"Authorization": f"Bearer {token}"}, user.id


def signature(
    meaning: str = "confirmed as adverse event",
    reason: str = "four elements present; reviewed the verbatim",
    password: str = PASSWORD,
    **extra: Any,
) -> dict[str, Any]:
    return {"meaning": meaning, "reason": reason, "password": password, **extra}


def signer(session: Session, user: User, **fields: str) -> Signer:
    values = signature(**fields)
    return authenticate_signer(
        session,
        user_id=user.id,
        password=values["password"],
        meaning=values["meaning"],
        reason=values["reason"],
    )
