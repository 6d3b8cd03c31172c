"""Who may change a case, and to whom it may be assigned: cases belong to teams.

A route-level policy (``CASE_WORK``) says which roles work cases at all; this module says which
case. A case may be changed (started, commented, assigned, closed, reopened) by:

- the people it belongs to: its assignee, the members of its team (the assignee's team when it
  has none), and its RACI Accountable (the person, or the members of the accountable team);
- the roles that route cases by the governance matrix: admin and cx_lead (the matrix is theirs
  to change, and an unrouted case is theirs to route).

Anyone else with the role gets 403, even if they may read the case. A case may be assigned only
to an active person who may open it and work it (a viewer, an analyst, or a commercial user on a
medical inquiry would hold a case nobody can move), or to a team.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cpxm.access.policy import CASE_WORK, COMMERCIAL_DATA, Forbidden
from cpxm.access.principal import Principal
from cpxm.access.records import MEDICAL_CASE_TYPES
from cpxm.access.roles import ROLE_DOMAINS, Domain, Role
from cpxm.cases.models import Case
from cpxm.errors import FieldError, field_error
from cpxm.workspace.models import User

CASE_ROUTERS = frozenset({Role.ADMIN, Role.CX_LEAD})


def may_open(role: Role, case: Case) -> bool:
    """Whether a role may read the case at all (the medical firewall hides medical inquiries)."""
    if not COMMERCIAL_DATA.allows(role):
        return False
    return case.case_type not in MEDICAL_CASE_TYPES or Domain.MEDICAL in ROLE_DOMAINS[role]


def owners(session: Session, case: Case) -> tuple[set[int], set[int]]:
    """(user ids, team ids) the case belongs to."""
    users = {u for u in (case.assignee_user_id, case.accountable_user_id) if u is not None}
    teams = {t for t in (case.team_id, case.accountable_team_id) if t is not None}
    if case.team_id is None and case.assignee_user_id is not None:
        assignee = session.get(User, case.assignee_user_id)
        if assignee is not None and assignee.team_id is not None:
            teams.add(assignee.team_id)
    return users, teams


def may_change(session: Session, principal: Principal, case: Case) -> bool:
    if not CASE_WORK.allows(principal.role) or not may_open(principal.role, case):
        return False
    if principal.role in CASE_ROUTERS:
        return True
    users, teams = owners(session, case)
    if principal.user_id in users:
        return True
    me = session.get(User, principal.user_id)
    return me is not None and me.team_id is not None and me.team_id in teams


def require_change(session: Session, principal: Principal, case: Case) -> None:
    """Raise 403 unless ``principal`` may change ``case``."""
    if not may_change(session, principal, case):
        raise Forbidden(
            f"case {case.id} belongs to its team, its assignee and its accountable; "
            f"your role '{principal.role}' may change it only as one of them "
            "(admin and cx_lead route any case)"
        )


def require_assignable(session: Session, case: Case, user_id: int | None) -> None:
    """Refuse (422) an assignee who could not open and work the case."""
    if user_id is None:
        return
    user = session.get(User, user_id)
    if user is None:
        return  # the service answers 404 for an unknown user
    role = Role(user.role)
    if not user.is_active or not CASE_WORK.allows(role) or not may_open(role, case):
        raise FieldError(
            [
                field_error(
                    "user_id",
                    f"{user.email} ({user.role}{'' if user.is_active else ', inactive'}) may not "
                    f"open and work case {case.id}; assign it to someone who may, or to a team",
                    user_id,
                )
            ]
        )
