"""Whose action plan a user may write: a team's plan belongs to the team.

A route-level policy (``TEAM_ACTIONS``) says which roles record action plans at all (not the
analyst or the viewer, who read figures); this module says which team's. A team's plan (a new
action, or a change to one: its status, owner, due date, wording) may be written by:

- the team's own people: users whose team (``users.team_id``) is that team, its lead among them;
- the people who run the employee-experience programme for every team: admin and hr_partner.

Anyone else with the role gets 403, even though the page shows them every team's figures: a
field-force lead who could rewrite the call centre's plan would make the plans nobody's.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cpxm.access.policy import TEAM_ACTIONS, Forbidden
from cpxm.access.principal import Principal
from cpxm.access.roles import Role
from cpxm.workspace.models import Team, User

PLAN_STEWARDS = frozenset({Role.ADMIN, Role.HR_PARTNER})


def own_team(session: Session, principal: Principal) -> int | None:
    """The team the signed-in user works in, if any."""
    me = session.get(User, principal.user_id)
    return None if me is None else me.team_id


def may_write_plan(session: Session, principal: Principal, team_id: int) -> bool:
    if not TEAM_ACTIONS.allows(principal.role):
        return False
    if principal.role in PLAN_STEWARDS:
        return True
    return own_team(session, principal) == team_id


def writable_teams(session: Session, principal: Principal) -> frozenset[int] | None:
    """The teams whose plans the user may write: None for every team, else a set (maybe empty)."""
    if not TEAM_ACTIONS.allows(principal.role):
        return frozenset()
    if principal.role in PLAN_STEWARDS:
        return None
    team = own_team(session, principal)
    return frozenset() if team is None else frozenset({team})


def require_plan_writer(session: Session, principal: Principal, team_id: int) -> None:
    """Raise 403 unless ``principal`` may write team ``team_id``'s action plan (an unknown team
    passes: the service answers 422 for it)."""
    if session.get(Team, team_id) is None:
        return
    if not may_write_plan(session, principal, team_id):
        raise Forbidden(
            f"team {team_id}'s action plan belongs to its team: your role '{principal.role}' "
            "may write it only as one of its members (admin and hr_partner write every team's)"
        )
