"""The admin page for people, signed in by session (so its forms need the CSRF token)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.auth import service
from cpxm.auth.models import UserSession
from cpxm.workspace.models import User

PASSWORD = "an admin's long password"


def _sign_in(client: TestClient, email: str) -> str:
    page = client.get("/auth/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    client.post(
        "/auth/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": token[1]}
    )
    return token[1]


def test_admins_add_people_and_change_roles(anonymous_client: TestClient, session: Session) -> None:
    admin = service.create_user(session, email="root@example.org", role="admin", password=PASSWORD)
    session.commit()
    _sign_in(anonymous_client, "root@example.org")
    csrf = session.scalars(
        select(UserSession.csrf_token).where(UserSession.user_id == admin.id)
    ).one()
    added = anonymous_client.post(
        "/admin/users",
        data={"email": "new@example.org", "role": "analyst", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert added.status_code == 303 and "added" in added.headers["location"]
    new = session.scalars(select(User).where(User.email == "new@example.org")).one()
    anonymous_client.post(f"/admin/users/{new.id}", data={"role": "medical", "csrf_token": csrf})
    session.refresh(new)
    assert new.role == "medical"
    refused = anonymous_client.post(
        f"/admin/users/{admin.id}",
        data={"active": "no", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert "cannot" in refused.headers["location"]
    bad = anonymous_client.post(
        "/admin/users",
        data={"email": "x@example.org", "role": "boss", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert "unknown%20role" in bad.headers["location"]
    page = anonymous_client.get("/admin/users")
    assert "new@example.org" in page.text and "medical" in page.text


def test_only_admins_reach_the_page(anonymous_client: TestClient, session: Session) -> None:
    service.create_user(session, email="lead@example.org", role="cx_lead", password=PASSWORD)
    session.commit()
    _sign_in(anonymous_client, "lead@example.org")
    assert anonymous_client.get("/admin/users").status_code == 403
