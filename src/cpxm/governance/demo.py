"""The demo's governance and sign-in: its RACI matrix, its open cases, and the admin's password.

``cpxm.demo.service`` calls :func:`prepare_demo_governance` after generating the workspace, and
``cpxm demo`` calls :func:`demo_admin_login` and prints what it returns. The password comes from
``CPXM_DEMO_ADMIN_PASSWORD`` or is generated on each run; it is never stored in plain text.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cpxm.auth.service import hash_password
from cpxm.cases import scan
from cpxm.governance.service import load_matrix
from cpxm.surveys.models import Response
from cpxm.workspace.models import User

DEMO_ADMIN_EMAIL = "admin@meridel.example"
# Cases are opened for the demo's last weeks only: older feedback is history, not a to-do list.
DEMO_CASE_WINDOW = timedelta(days=30)


def demo_matrix_text() -> str:
    return resources.files("cpxm.governance").joinpath("demo_raci.yaml").read_text("utf-8")


@dataclass(frozen=True)
class DemoGovernance:
    assignments: int
    cases_opened: int


def prepare_demo_governance(engine: Engine) -> DemoGovernance:
    """Load the demo RACI matrix and open the cases its most recent feedback calls for."""
    with Session(engine) as session:
        report = load_matrix(session, text=demo_matrix_text())
        latest = session.scalar(
            select(Response.submitted_at).order_by(Response.submitted_at.desc()).limit(1)
        )
        since = (latest - DEMO_CASE_WINDOW) if latest else None
        opened = scan.scan(session, since=since)
        session.commit()
    return DemoGovernance(assignments=report.assignments, cases_opened=len(opened.opened))


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    from_environment: bool


def demo_admin_login(engine: Engine) -> DemoLogin:
    """Give the demo admin a password (``CPXM_DEMO_ADMIN_PASSWORD``, or a fresh random one)."""
    configured = os.environ.get("CPXM_DEMO_ADMIN_PASSWORD", "")
    password = configured or secrets.token_urlsafe(12)
    with Session(engine) as session:
        admin = session.scalar(select(User).where(User.email == DEMO_ADMIN_EMAIL))
        if admin is None:
            raise LookupError(f"the demo has no {DEMO_ADMIN_EMAIL}; regenerate it with --fresh")
        admin.password_hash = hash_password(password)
        admin.failed_sign_ins = 0
        admin.locked_until = None
        session.commit()
    return DemoLogin(email=DEMO_ADMIN_EMAIL, password=password, from_environment=bool(configured))
