"""Who may see, decide and close a proposed outreach (next best action): it belongs to one team.

A route-level policy says which roles read actions at all (``COMMERCIAL_DATA``) and which work
them (``CASE_WORK``); this module says which action. An action may be

- **seen** by a role that may see its person in lists that name people (patients and caregivers
  only for roles that see patient-identifiable data) and, when it was drawn from medical-inquiry
  handling, only by a role of the medical domain (the firewall holds for reasons too);
- **decided** (accepted or declined) and its **outcome recorded** by the team the RACI matrix made
  Responsible for it (users whose ``team_id`` is the action's team), and by the roles that route
  work by the governance matrix (admin, cx_lead: an unrouted action is theirs). Once accepted,
  whoever may change its case (``cpxm.access.casework``) may record the outcome too.

Anyone else gets 404 for an action they may not see and 403 for one they may see but not decide:
the point of one owning team is that three departments do not each reach out.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cpxm.access.casework import CASE_ROUTERS, may_change
from cpxm.access.policy import CASE_WORK, Forbidden
from cpxm.access.principal import Principal
from cpxm.access.records import Protected, hidden_person_types, may_see
from cpxm.cases.models import Case
from cpxm.workspace.models import User


def hidden_action_filter(principal: Principal) -> tuple[tuple[str, ...], bool]:
    """(person types hidden from the role, whether it may see actions drawn from medical
    inquiries): what a list of actions filters on in its query."""
    return hidden_person_types(principal), may_see(principal, Protected.MEDICAL)


def may_see_action(principal: Principal, *, person_type: str, medical: bool) -> bool:
    hidden, sees_medical = hidden_action_filter(principal)
    return person_type not in hidden and (sees_medical or not medical)


def may_decide(
    session: Session, principal: Principal, *, team_id: int | None, case_id: int | None = None
) -> bool:
    """Whether ``principal`` may accept, decline or close an action owned by ``team_id``."""
    if not CASE_WORK.allows(principal.role):
        return False
    if principal.role in CASE_ROUTERS:
        return True
    if team_id is not None:
        me = session.get(User, principal.user_id)
        if me is not None and me.team_id == team_id:
            return True
    if case_id is not None:
        case = session.get(Case, case_id)
        return case is not None and may_change(session, principal, case)
    return False


def require_decider(
    session: Session,
    principal: Principal,
    *,
    action_id: int,
    team_id: int | None,
    case_id: int | None = None,
) -> None:
    """Raise 403 unless ``principal`` may decide the action (see the module's rules)."""
    if not may_decide(session, principal, team_id=team_id, case_id=case_id):
        raise Forbidden(
            f"outreach action {action_id} belongs to the team the RACI matrix made responsible: "
            f"your role '{principal.role}' may decide it only as a member of that team "
            "(admin and cx_lead decide every action)"
        )
