"""Shared set-up for case tests: a taxonomy, people in teams, and a RACI matrix."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from cpxm.auth.service import create_team, create_user
from cpxm.governance.service import load_matrix
from cpxm.workspace.models import Team, User
from tests.factories import make_taxonomy

MATRIX = """
raci:
  - activity: detractor_followup
    responsible: team:Service DE
    accountable: user:lead@example.org
    informed: [user:watcher@example.org]
  - activity: complaint
    responsible: user:agent@example.org
    accountable: user:lead@example.org
"""


@dataclass(frozen=True)
class Org:
    team: Team
    agent: User
    teammate: User
    lead: User
    watcher: User


def make_org(session: Session) -> Org:
    make_taxonomy(session)
    team = create_team(session, name="Service DE", country_code="DE")
    agent = create_user(session, email="agent@example.org", role="cx_lead", team_id=team.id)
    teammate = create_user(session, email="mate@example.org", role="commercial", team_id=team.id)
    lead = create_user(session, email="lead@example.org", role="cx_lead")
    watcher = create_user(session, email="watcher@example.org", role="viewer")
    load_matrix(session, text=MATRIX)
    return Org(team=team, agent=agent, teammate=teammate, lead=lead, watcher=watcher)
