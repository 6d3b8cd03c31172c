"""Closed-loop cases for relationship detractors, with the trail a team leaves on each."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from cpxm.demo.activity import to_datetime
from cpxm.demo.context import Context, Row
from cpxm.demo.taxonomy import HISTORY_DAYS, TEAMS, USERS

TEAM_IDS = {name: index for index, (name, *_rest) in enumerate(TEAMS, start=1)}
USER_BY_TEAM = {team: index for index, (_, _, _, team) in reversed(list(enumerate(USERS, 1)))}
CX_LEAD_USER = next(index for index, user in enumerate(USERS, 1) if user[2] == "cx_lead")
RESOLUTIONS = ("called_back", "issue_resolved", "contact_plan_changed", "no_response")
FOLLOW_UP_NOTES = (
    "Called the HCP; agreed on fewer visits and email updates instead.",
    "Escalated the portal problem to the digital team; HCP informed.",
    "Medical information answer re-sent with the requested references.",
    "Left a voicemail, will try again next week.",
)


def detractor_cases(
    ctx: Context,
    rng: np.random.Generator,
    detractors: list[tuple[int, int, float, float, int | None]],
) -> tuple[list[Row], list[Row]]:
    """About half the detractors get a follow-up case; older cases are closed."""
    cases: list[Row] = []
    events: list[Row] = []
    for response_id, stakeholder_id, score, day, feedback_id in detractors:
        if rng.random() >= 0.5:
            continue
        person = ctx.by_id[stakeholder_id]
        team = "Field sales US" if person.country_code == "US" else "Field sales Europe"
        assignee = USER_BY_TEAM[team]
        case_id = ctx.take_ids("cases", 1)
        opened = to_datetime(day + 0.01)
        closes = day + 14 < HISTORY_DAYS
        closed = opened + timedelta(days=float(rng.uniform(1, 12))) if closes else None
        status = "closed" if closes else ("in_progress" if rng.random() < 0.5 else "open")
        cases.append(
            (
                case_id,
                "detractor",
                status,
                "high" if score <= 2 else "normal",
                f"Detractor follow-up: {person.display_name} (NPS {int(score)})",
                "Relationship survey score of 4 or below.",
                stakeholder_id,
                response_id,
                feedback_id,
                TEAM_IDS[team],
                assignee,
                opened,
                opened + timedelta(days=7),
                closed,
                RESOLUTIONS[int(rng.integers(0, len(RESOLUTIONS)))] if closed else None,
                # The case scanner's key for a response: it never opens this one again.
                f"response:{response_id}",
                "detractor_followup",
                "field_sales",
                person.country_code,
                None,
                CX_LEAD_USER,
                None,
                None,
                0,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,  # recovery_invitation_id
                None,  # recovery_held_reason
            )
        )
        trail: list[tuple[timedelta, int | None, str, dict[str, object]]] = [
            (timedelta(0), None, "opened", {"rule": "relationship NPS <= 4"}),
            (timedelta(hours=2), CX_LEAD_USER, "assigned", {"assignee_user_id": assignee}),
        ]
        if status != "open":
            note = FOLLOW_UP_NOTES[int(rng.integers(0, len(FOLLOW_UP_NOTES)))]
            trail.append((timedelta(days=1), assignee, "comment", {"text": note}))
        if closed is not None:
            trail.append((closed - opened, assignee, "closed", {}))
        for offset, actor, event_type, details in trail:
            event_id = ctx.take_ids("case_events", 1)
            events.append((event_id, case_id, opened + offset, actor, event_type, details))
    return cases, events
