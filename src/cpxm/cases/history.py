"""A case's trail in words people read: names instead of ids, sentences instead of raw details.

The trail showed "User id: 5" and ``{'subtypes': ['adverse_event']}``; each event kind now has a
sentence, users and teams are named, codes are humanised, and anything a new event kind carries
that no sentence knows is still shown, as "label: value" pairs. Words withheld from the role by
the case shield stay withheld (the shield runs before this).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cpxm.web.templating import humanise

# Keys whose values are user or team ids, and how to name them.
_USER_KEYS = frozenset({"user_id", "assignee_user_id", "to_user_id"})
_USER_LIST_KEYS = frozenset({"users", "to_users"})
_TEAM_KEYS = frozenset({"team_id"})
# Keys a sentence already says, not repeated as details.
_SAID: dict[str, frozenset[str]] = {
    "opened": frozenset({"case_type", "priority", "due_at", "source"}),
    "routed": frozenset({"responsible", "accountable", "consulted", "informed"}),
    "assigned": frozenset({"user_id", "assignee_user_id", "team_id"}),
    "comment": frozenset({"text"}),
    "closed": frozenset({"resolution_code", "within_sla", "business_hours", "note"}),
    "reopened": frozenset({"reason"}),
    "escalated": frozenset({"to_users"}),
    "informed": frozenset({"users"}),
    "reminded": frozenset({"business_hours_left"}),
    "unrouted": frozenset({"activity"}),
    "recovery_survey_held": frozenset({"rules", "reasons"}),
    "recovery_survey_created": frozenset({"invitation_id", "channel"}),
    "recovery_answered": frozenset({"score", "recovered", "response_id"}),
}


@dataclass(frozen=True)
class TrailEntry:
    """One event as the case page shows it."""

    occurred_at: datetime
    actor: str | None
    sentence: str
    words: str | None  # a comment's or a reason's own words, shown as said
    details: list[tuple[str, str]]


@dataclass(frozen=True)
class Names:
    users: Mapping[int, str]
    teams: Mapping[int, str]
    # email -> name, for RACI parties written "user:EMAIL" (the routed event keeps the labels)
    emails: Mapping[str, str] = field(default_factory=dict)

    def user(self, user_id: Any) -> str:
        if isinstance(user_id, int) and user_id in self.users:
            return self.users[user_id]
        return "a former user" if user_id is not None else "nobody"

    def team(self, team_id: Any) -> str:
        if isinstance(team_id, int) and team_id in self.teams:
            return f"team {self.teams[team_id]}"
        return "a former team" if team_id is not None else "no team"

    def party(self, label: Any) -> str:
        """A RACI party as people say it: 'team:CX office' -> 'team CX office',
        'user:ann@example.com' -> 'Ann Example' (the email when the user is unknown)."""
        text = str(label)
        kind, _, value = text.partition(":")
        if kind == "team" and value:
            return f"team {value}"
        if kind == "user" and value:
            return self.emails.get(value.lower(), value)
        return text


Sentence = Callable[[Mapping[str, Any], Names], str]


def trail(
    events: Sequence[Any],
    names: Names,
    *,
    sentences: Mapping[str, Sentence] | None = None,
    said: Mapping[str, frozenset[str]] | None = None,
) -> list[TrailEntry]:
    """The trail entries of ``events`` (CaseEventOut or CaseEvent), oldest first.

    ``sentences`` and ``said`` default to the closed-loop case's events; another record kind
    with an event trail (a safety case) passes its own."""
    return [
        _entry(
            event,
            names,
            _SENTENCES if sentences is None else sentences,
            _SAID if said is None else said,
        )
        for event in events
    ]


def _entry(
    event: Any,
    names: Names,
    sentences: Mapping[str, Sentence],
    said_by_kind: Mapping[str, frozenset[str]],
) -> TrailEntry:
    details: dict[str, Any] = dict(event.details or {})
    kind = str(event.event_type)
    describe = sentences.get(kind)
    sentence = describe(details, names) if describe else humanise(kind)
    words = details.get("text") or details.get("reason") or details.get("note")
    said = said_by_kind.get(kind, frozenset())
    shown = [
        (humanise(key), _value(key, value, names))
        for key, value in details.items()
        if key not in said and value not in (None, "", [], {})
    ]
    actor = names.user(event.actor_user_id) if event.actor_user_id is not None else None
    return TrailEntry(
        occurred_at=event.occurred_at,
        actor=actor,
        sentence=sentence,
        words=str(words) if words else None,
        details=shown,
    )


def _value(key: str, value: Any, names: Names) -> str:
    if key in _USER_KEYS:
        return names.user(value)
    if key in _TEAM_KEYS:
        return names.team(value)
    if key in _USER_LIST_KEYS and isinstance(value, list):
        return ", ".join(names.user(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(humanise(str(v)) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(
            f"{humanise(str(k))}: {_value(str(k), v, names)}" for k, v in value.items()
        )
    if isinstance(value, str) and "_" in value and " " not in value:
        return humanise(value)
    return str(value)


def _opened(details: Mapping[str, Any], _names: Names) -> str:
    kind = humanise(str(details.get("case_type") or "case"))
    priority = details.get("priority")
    due = str(details.get("due_at") or "")[:16].replace("T", " ")
    sentence = f"Opened as {kind.lower()}"
    if priority:
        sentence += f", {humanise(str(priority)).lower()} priority"
    if due:
        sentence += f", due {due} UTC"
    return sentence


def _routed(details: Mapping[str, Any], names: Names) -> str:
    def parties(value: Any) -> str:
        listed = value if isinstance(value, list) else [value] if value else []
        return ", ".join(names.party(label) for label in listed)

    sentence = (
        f"Routed by the RACI matrix: responsible {parties(details.get('responsible')) or 'nobody'}"
    )
    accountable = parties(details.get("accountable"))
    if accountable:
        sentence += f"; accountable {accountable}"
    informed = parties(details.get("informed"))
    if informed:
        sentence += f"; informed {informed}"
    return sentence


def _assigned(details: Mapping[str, Any], names: Names) -> str:
    # ``assignee_user_id`` is how the demo's follow-ups (and stores from before) wrote it.
    user_id = details.get("user_id", details.get("assignee_user_id"))
    if user_id is not None:
        return f"Assigned to {names.user(user_id)}"
    if details.get("team_id") is not None:
        return f"Assigned to {names.team(details['team_id'])}"
    return "Unassigned"


def _closed(details: Mapping[str, Any], _names: Names) -> str:
    code = details.get("resolution_code")
    sentence = f"Closed: {humanise(str(code)).lower()}" if code else "Closed"
    hours = details.get("business_hours")
    if details.get("within_sla") is True:
        sentence += " (within its SLA"
    elif details.get("within_sla") is False:
        sentence += " (after its SLA"
    else:
        return sentence
    return sentence + (f", {hours} business hours)" if hours is not None else ")")


def _recovery_answered(details: Mapping[str, Any], _names: Names) -> str:
    score = details.get("score")
    verdict = "recovered" if details.get("recovered") else "not recovered"
    return f"Recovery question answered: {score} of 10 ({verdict})"


def _reminded(details: Mapping[str, Any], _names: Names) -> str:
    left = details.get("business_hours_left")
    return "Reminder sent" + (f" ({left} business hours left)" if left is not None else "")


_SENTENCES: dict[str, Sentence] = {
    "opened": _opened,
    "routed": _routed,
    "assigned": _assigned,
    "comment": lambda _d, _n: "Comment",
    "started": lambda _d, _n: "Work started",
    "closed": _closed,
    "reopened": lambda _d, _n: "Reopened",
    "escalated": lambda d, n: (
        "Escalated past its SLA to "
        + (", ".join(n.user(u) for u in d.get("to_users") or []) or "the CX leads")
    ),
    "informed": lambda d, n: "Informed " + (", ".join(n.user(u) for u in d.get("users") or [])),
    "reminded": _reminded,
    "unrouted": lambda d, _n: (
        "No RACI row names a Responsible for "
        + humanise(str(d.get("activity") or "this activity")).lower()
        + "; the CX leads were told"
    ),
    "recovery_survey_held": lambda d, _n: (
        "Recovery re-survey held back: " + "; ".join(map(str, d.get("reasons") or []))
    ),
    "recovery_survey_created": lambda d, _n: (
        "Recovery re-survey sent"
        + (f" by {humanise(str(d['channel'])).lower()}" if d.get("channel") else "")
    ),
    "recovery_answered": _recovery_answered,
}


__all__ = ["Names", "Sentence", "TrailEntry", "detail_value", "trail"]

detail_value = _value
