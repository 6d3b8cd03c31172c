"""How a survey is doing: invitations, emails, opens, partial and complete responses, and the
response rate, in all and day by day (the survey pages' list and monitor).

The response rate is complete responses to personal invitations over the personal invitations
made, whether their email has gone yet or not: an invitation is a live link from the moment it
is stored (an SMS or a letter has no email to wait for), so a survey just sent to 350 people
reads "0 of 350" at once rather than "no invitations". How many emails are still waiting, and
why the last ones failed, is counted beside it. Open-link responses have no invitation and are
counted apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from cpxm.surveys.distribution import reminder_due
from cpxm.surveys.models import Invitation, Response, SurveyLink


@dataclass(frozen=True)
class SurveyFigures:
    invitations: int = 0
    waiting: int = 0  # stored, email not sent yet (or not by email)
    emailed: int = 0
    failed: int = 0  # the last email attempt failed; it is retried until the link expires
    last_failure: str | None = None
    opened: int = 0
    expired: int = 0
    partial: int = 0
    complete: int = 0
    complete_from_invitations: int = 0
    open_link_responses: int = 0

    @property
    def response_rate(self) -> float | None:
        """Percent of personal invitations with a complete response; None before any."""
        if not self.invitations:
            return None
        return 100 * self.complete_from_invitations / self.invitations


@dataclass(frozen=True)
class DayFigures:
    day: date
    emailed: int = 0
    opened: int = 0
    started: int = 0
    completed: int = 0  # every complete response, by personal or open link
    completed_from_invitations: int = 0
    # Running totals up to and including the day: the response rate as it stood that evening.
    emailed_so_far: int = 0
    completed_so_far: int = 0

    @property
    def response_rate(self) -> float | None:
        if not self.emailed_so_far:
            return None
        return 100 * self.completed_so_far / self.emailed_so_far


@dataclass
class SurveyMonitor:
    figures: SurveyFigures
    days: list[DayFigures] = field(default_factory=list)
    waves: list[tuple[str, int, int]] = field(default_factory=list)  # wave, invited, complete


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).cast(Integer)


def figures_by_survey(session: Session, survey_ids: Sequence[int]) -> dict[int, SurveyFigures]:
    """Each survey's figures, in three grouped queries whatever the number of surveys."""
    if not survey_ids:
        return {}
    invitation_rows = session.execute(
        select(
            Invitation.survey_id,
            func.count(Invitation.id),
            _count(Invitation.status == "pending"),
            _count(Invitation.sent_at.is_not(None)),
            _count(Invitation.send_error.is_not(None)),
            _count(Invitation.opened_at.is_not(None)),
            _count(Invitation.status == "expired"),
        )
        .where(Invitation.survey_id.in_(survey_ids))
        .group_by(Invitation.survey_id)
    ).all()
    response_rows = session.execute(
        select(
            Response.survey_id,
            _count(Response.status == "partial"),
            _count(Response.status == "complete"),
            _count((Response.status == "complete") & Response.invitation_id.is_not(None)),
            _count(Response.open_link_id.is_not(None)),
        )
        .where(Response.survey_id.in_(survey_ids))
        .group_by(Response.survey_id)
    ).all()
    found: dict[int, dict[str, Any]] = {survey_id: {} for survey_id in survey_ids}
    for survey_id, invited, waiting, emailed, failed, opened, expired in invitation_rows:
        found[survey_id].update(
            invitations=invited,
            waiting=waiting,
            emailed=emailed,
            failed=failed,
            opened=opened,
            expired=expired,
        )
    for survey_id, partial, complete, from_invitations, open_link in response_rows:
        found[survey_id].update(
            partial=partial,
            complete=complete,
            complete_from_invitations=from_invitations,
            open_link_responses=open_link,
        )
    return {survey_id: SurveyFigures(**values) for survey_id, values in found.items()}


def survey_monitor(session: Session, *, survey_id: int, days: int = 90) -> SurveyMonitor:
    """The survey's figures, the last ``days`` days with any activity, and its waves."""
    figures = figures_by_survey(session, [survey_id])[survey_id]
    if figures.failed:
        last_failure = session.scalar(
            select(Invitation.send_error)
            .where(Invitation.survey_id == survey_id, Invitation.send_error.is_not(None))
            .order_by(Invitation.id.desc())
            .limit(1)
        )
        figures = SurveyFigures(**{**figures.__dict__, "last_failure": last_failure})
    per_day: dict[date, dict[str, int]] = {}

    def add(column: Any, name: str, *conditions: ColumnElement[bool], model: Any) -> None:
        day = func.date(column)
        rows = session.execute(
            select(day, func.count())
            .select_from(model)
            .where(model.survey_id == survey_id, column.is_not(None), *conditions)
            .group_by(day)
        ).all()
        for value, count in rows:
            moment = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
            per_day.setdefault(moment, {})[name] = int(count)

    add(Invitation.sent_at, "emailed", model=Invitation)
    add(Invitation.opened_at, "opened", model=Invitation)
    add(Response.started_at, "started", model=Response)
    add(Response.submitted_at, "completed", Response.status == "complete", model=Response)
    add(
        Response.submitted_at,
        "completed_from_invitations",
        Response.status == "complete",
        Response.invitation_id.is_not(None),
        model=Response,
    )
    series: list[DayFigures] = []
    emailed_so_far = completed_so_far = 0
    for day in sorted(per_day):
        counts = per_day[day]
        emailed_so_far += counts.get("emailed", 0)
        completed_so_far += counts.get("completed_from_invitations", 0)
        series.append(
            DayFigures(
                day=day,
                emailed=counts.get("emailed", 0),
                opened=counts.get("opened", 0),
                started=counts.get("started", 0),
                completed=counts.get("completed", 0),
                completed_from_invitations=counts.get("completed_from_invitations", 0),
                emailed_so_far=emailed_so_far,
                completed_so_far=completed_so_far,
            )
        )
    if series:
        since = series[-1].day - timedelta(days=days)
        series = [row for row in series if row.day > since]
    complete = (Response.status == "complete").cast(Integer)
    waves = session.execute(
        select(Invitation.wave, func.count(Invitation.id), func.coalesce(func.sum(complete), 0))
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .where(Invitation.survey_id == survey_id)
        .group_by(Invitation.wave)
        .order_by(Invitation.wave)
    ).all()
    return SurveyMonitor(
        figures=figures,
        days=series,
        # Invitations without a wave were made by the survey's trigger, contact by contact.
        waves=[(wave or "triggered", int(invited), int(done)) for wave, invited, done in waves],
    )


def reminders_due(
    session: Session, *, survey_id: int, now: datetime, after_days: int, max_reminders: int
) -> int:
    """How many of the survey's invitations a reminder would go to now under this rule."""
    condition = reminder_due(now, after_days=after_days, max_reminders=max_reminders)
    return int(
        session.scalar(
            select(func.count(Invitation.id)).where(Invitation.survey_id == survey_id, condition)
        )
        or 0
    )


def open_links(session: Session, *, survey_id: int) -> list[tuple[SurveyLink, int]]:
    """The survey's open links, newest first, with the responses each brought."""
    answered = (
        select(Response.open_link_id, func.count(Response.id).label("responses"))
        .where(Response.survey_id == survey_id, Response.open_link_id.is_not(None))
        .group_by(Response.open_link_id)
        .subquery()
    )
    rows = session.execute(
        select(SurveyLink, func.coalesce(answered.c.responses, 0))
        .outerjoin(answered, answered.c.open_link_id == SurveyLink.id)
        .where(SurveyLink.survey_id == survey_id)
        .order_by(SurveyLink.id.desc())
    ).all()
    return [(link, int(count)) for link, count in rows]
