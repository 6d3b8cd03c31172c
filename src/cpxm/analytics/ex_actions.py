"""Team action plans: detractor follow-up for a confidential pulse happens here, as a group.

A team lead records an action against one of the team's enablers (tools, training,
coordination, workload), with an owner and a due date. The enabler's mean in the latest pulse
wave where the team's figure is shown is kept as the baseline; the next wave's shown figure says
whether it moved. Both figures come from :func:`cpxm.analytics.ex.ex_report`, so an action never
shows a figure the page would hide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.analytics.ex import ExQuery, ExReport, ex_report
from cpxm.analytics.models import ENABLERS, TeamAction
from cpxm.errors import FieldError, NotFoundError, field_error
from cpxm.workspace.models import Team

MAX_ACTION_LENGTH = 2000
MAX_OWNER_LENGTH = 200
STATUSES = ("open", "done")


@dataclass(frozen=True)
class ActionView:
    id: int
    team_id: int
    team: str
    enabler: str
    action: str
    owner: str
    due_date: date
    status: str
    baseline_wave: str | None
    baseline_mean: float | None
    next_wave: str | None  # the first later wave where the team's figure is shown
    next_mean: float | None
    moved: float | None  # next_mean - baseline_mean


def _latest_shown(report: ExReport, team_id: int, enabler: str) -> tuple[str | None, float | None]:
    for row in report.trend:
        if row.team_id != team_id:
            continue
        for summary in reversed(report.waves):
            cell = row.enablers.get(summary.wave, {}).get(enabler)
            if cell is not None and cell.value is not None:
                return summary.wave, cell.value
    return None, None


def record_action(
    session: Session,
    *,
    team_id: int,
    enabler: str,
    action: str,
    owner: str,
    due_date: date,
    user_id: int | None,
    survey: str | None = None,
    report: ExReport | None = None,
) -> TeamAction:
    """Store a team's action against an enabler, with the enabler's latest shown mean (from
    ``report`` when the caller has the pulse's report at hand)."""
    errors = []
    team = session.get(Team, team_id)
    if team is None:
        errors.append(field_error("team_id", f"no team {team_id}", team_id, kind="not_found"))
    if enabler not in ENABLERS:
        errors.append(
            field_error("enabler", f"enabler is '{enabler}', expected one of {', '.join(ENABLERS)}",
                        enabler)
        )  # fmt: skip
    errors += _wording_errors(action=action, owner=owner)
    if errors:
        raise FieldError(errors)
    if report is None:
        report = ex_report(session, ExQuery(survey=survey))
    wave, mean = _latest_shown(report, team_id, enabler)
    recorded = TeamAction(
        team_id=team_id,
        enabler=enabler,
        action=action.strip(),
        owner=owner.strip(),
        due_date=due_date,
        status="open",
        baseline_wave=wave,
        baseline_mean=mean,
        created_by=user_id,
    )
    session.add(recorded)
    session.flush()
    return recorded


def _wording_errors(*, action: str | None, owner: str | None) -> list[dict[str, Any]]:
    errors = []
    if action is not None and (not action.strip() or len(action) > MAX_ACTION_LENGTH):
        errors.append(
            field_error("action", f"describe the action in 1 to {MAX_ACTION_LENGTH} characters",
                        len(action))
        )  # fmt: skip
    if owner is not None and (not owner.strip() or len(owner) > MAX_OWNER_LENGTH):
        errors.append(
            field_error("owner", f"name the action's owner (1 to {MAX_OWNER_LENGTH} characters)",
                        owner)
        )  # fmt: skip
    return errors


def get_action(session: Session, *, action_id: int) -> TeamAction:
    found = session.get(TeamAction, action_id)
    if found is None:
        raise NotFoundError("team action", action_id)
    return found


def update_action(
    session: Session,
    *,
    action: TeamAction,
    status: str | None = None,
    owner: str | None = None,
    due_date: date | None = None,
    wording: str | None = None,
) -> TeamAction:
    """Change an action's status, owner, due date or wording (what is None stays); its team and
    enabler, and so its baseline, stay as planned. Every change is audited by the store."""
    errors = _wording_errors(action=wording, owner=owner)
    if status is not None and status not in STATUSES:
        errors.append(
            field_error("status", f"status is '{status}', expected one of {', '.join(STATUSES)}",
                        status)
        )  # fmt: skip
    if errors:
        raise FieldError(errors)
    if status is not None:
        action.status = status
    if owner is not None:
        action.owner = owner.strip()
    if due_date is not None:
        action.due_date = due_date
    if wording is not None:
        action.action = wording.strip()
    session.flush()
    return action


def action_views(session: Session, report: ExReport) -> list[ActionView]:
    """Every action, newest first, with the enabler's move since its baseline wave."""
    names = {team_id: name for team_id, name in session.execute(select(Team.id, Team.name))}
    trend = {row.team_id: row for row in report.trend}
    order = [summary.wave for summary in report.waves]
    views = []
    for action in session.scalars(select(TeamAction).order_by(TeamAction.id.desc())):
        next_wave: str | None = None
        next_mean: float | None = None
        row = trend.get(action.team_id)
        if row is not None and action.baseline_wave in order:
            for wave in order[order.index(action.baseline_wave) + 1 :]:
                cell = row.enablers.get(wave, {}).get(action.enabler)
                if cell is not None and cell.value is not None:
                    next_wave, next_mean = wave, cell.value
                    break
        moved = (
            next_mean - action.baseline_mean
            if next_mean is not None and action.baseline_mean is not None
            else None
        )
        views.append(
            ActionView(
                id=action.id,
                team_id=action.team_id,
                team=names.get(action.team_id, str(action.team_id)),
                enabler=action.enabler,
                action=action.action,
                owner=action.owner,
                due_date=action.due_date,
                status=action.status,
                baseline_wave=action.baseline_wave,
                baseline_mean=action.baseline_mean,
                next_wave=next_wave,
                next_mean=next_mean,
                moved=moved,
            )
        )
    return views
