"""Every read of a route whose policy audits reads (patient-identifiable data, safety cases and
their exports, imports, quarantined raw rows, the identity review) writes an audit entry naming
who read which path; generated from the app's routes, so a new such route is covered at once.
(Record-level reads through other routes are pinned by ``test_fields.py``.)"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.access import policies_of
from cpxm.app import create_app
from cpxm.workspace.models import AuditLogEntry, User
from tests.access.test_matrix import _concrete, _seed

# Fewer means the walk lost routes: fail here rather than pass on nothing.
MIN_AUDITED_ROUTES = 12


def _audited_get_routes() -> list[str]:
    app = create_app(sessionmaker_=sessionmaker())
    paths = set()
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        if "GET" not in (context.methods or ()):
            continue
        if any(policy.audit_reads for policy in policies_of(context)):
            paths.add(str(context.path))
    return sorted(paths)


AUDITED = _audited_get_routes()


def test_the_walk_finds_the_audited_routes() -> None:
    assert len(AUDITED) >= MIN_AUDITED_ROUTES, AUDITED
    for expected in (
        "/api/v1/safety/cases",
        "/api/v1/safety/cases/export",
        "/api/v1/quarantine",
        "/api/v1/identity/review",
    ):
        assert any(path == expected for path in AUDITED), expected


def test_every_read_of_an_audited_route_is_in_the_log(
    client_as: Callable[[str], TestClient], session: Session
) -> None:
    ids = _seed(session)
    admin = client_as("admin")
    reader = session.scalars(select(User).where(User.email.like("admin-%@test.example"))).one()
    session.commit()
    unaudited = []
    answered = 0
    for path in AUDITED:
        url = _concrete(path, ids)
        answer = admin.get(url, follow_redirects=False)
        if answer.status_code >= 400:
            continue  # nothing was shown (and the refused request's transaction is undone)
        answered += 1
        session.expire_all()
        logged = session.scalars(
            select(AuditLogEntry).where(
                AuditLogEntry.action == "read", AuditLogEntry.user_id == reader.id
            )
        ).all()
        if not any((entry.details or {}).get("path") == url for entry in logged):
            unaudited.append(f"GET {url} ({answer.status_code})")
    assert not unaudited, "reads with no audit entry:\n" + "\n".join(unaudited)
    assert answered >= MIN_AUDITED_ROUTES - 5, answered  # most routes really answered
