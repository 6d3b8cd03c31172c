"""A safety case's trail in words: "Opened as adverse event", "Confirmed by Ingrid Larsen",
instead of ``opened {'subtypes': ['adverse_event']}``.

The sentences are the safety case's own; naming people, humanising codes and showing what no
sentence says as "label: value" pairs is the closed-loop case's trail (``cpxm.cases.history``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cpxm.cases.history import Names, Sentence, TrailEntry, trail
from cpxm.web.templating import humanise

KIND_NAMES = {"ae": "adverse event", "pc": "product complaint", "srs": "special situation"}


def _kinds(value: Any) -> str:
    listed = value if isinstance(value, list) else [value] if value else []
    return ", ".join(humanise(str(item)).lower() for item in listed)


def _opened(details: Mapping[str, Any], _names: Names) -> str:
    subtypes = _kinds(details.get("subtypes"))
    how = "by hand from triage" if details.get("by_hand") else "by screening"
    return f"Opened {how}" + (f" as {subtypes}" if subtypes else "")


def _on_time(details: Mapping[str, Any], met: str, missed: str) -> str:
    if details.get("on_time") is True:
        return met
    if details.get("on_time") is False:
        return missed
    return ""


def _escalated(details: Mapping[str, Any], names: Names) -> str:
    level = details.get("level")
    keys = ("notified_accountable", "notified_informed")
    told = [names.user(user) for key in keys for user in details.get(key) or []]
    sentence = "Escalated: not acknowledged in time"
    if isinstance(level, int):
        sentence += f", {level} business day{'s' if level != 1 else ''} late"
    return sentence + (f"; told {', '.join(told)}" if told else "")


def _reclassified(details: Mapping[str, Any], _names: Names) -> str:
    before = KIND_NAMES.get(str(details.get("from")), str(details.get("from") or "?"))
    after = KIND_NAMES.get(str(details.get("to")), str(details.get("to") or "?"))
    return f"Reclassified from {before} to {after} (signed)"


def _seriousness(details: Mapping[str, Any], _names: Names) -> str:
    chosen = _kinds(details.get("criteria"))
    return "Seriousness set: " + (chosen or "not serious")


def _contact(details: Mapping[str, Any], _names: Names) -> str:
    if details.get("allowed"):
        given = " and left contact details" if details.get("contact_details_given") else ""
        return f"The reporter agreed to be contacted by the safety team{given}"
    return "The reporter declined contact by the safety team"


SENTENCES: dict[str, Sentence] = {
    "opened": _opened,
    "acknowledged": lambda d, _n: (
        "Acknowledged"
        + _on_time(d, " within one business day", " after its one-business-day clock")
    ),
    "confirmed": lambda _d, _n: "Confirmed as a valid case (signed)",
    "rejected": lambda _d, _n: "Rejected as a false alarm (signed)",
    "reclassified": _reclassified,
    "escalated": _escalated,
    "exported": lambda d, _n: (
        "Exported" + (f" as {str(d['format']).upper()}" if d.get("format") else "")
    ),
    "contact_permission": _contact,
    "seriousness_set": _seriousness,
    "handed_off": lambda d, _n: (
        "Handed off to the safety database"
        + (f" as {d['reference']}" if d.get("reference") else "")
        + _on_time(d, ", on time", ", late")
    ),
    "linked_as_follow_up": lambda d, _n: (
        f"Linked as version {d.get('version')} of case #{d.get('of_case')}"
        + (" (found automatically)" if d.get("automatic") else "")
    ),
    "follow_up_linked": lambda d, _n: (
        f"Case #{d.get('case')} linked as its follow-up (version {d.get('version')})"
        + (" (found automatically)" if d.get("automatic") else "")
    ),
    "unlinked_from": lambda d, _n: f"Unlinked from case #{d.get('of_case')}: a case of its own",
    "follow_up_unlinked": lambda d, _n: f"Follow-up case #{d.get('case')} unlinked",
}

# What each sentence already says, so it is not repeated as details.
SAID: dict[str, frozenset[str]] = {
    "opened": frozenset({"subtypes", "by_hand"}),
    "acknowledged": frozenset({"on_time"}),
    "confirmed": frozenset({"note", "signature_id"}),
    "rejected": frozenset({"note", "signature_id"}),
    "reclassified": frozenset({"from", "to", "note", "signature_id"}),
    "escalated": frozenset({"level", "notified_accountable", "notified_informed"}),
    "exported": frozenset({"format"}),
    "contact_permission": frozenset({"allowed", "contact_details_given"}),
    "seriousness_set": frozenset({"criteria", "reason"}),
    "handed_off": frozenset({"reference", "on_time"}),
    "linked_as_follow_up": frozenset({"of_case", "version", "automatic"}),
    "follow_up_linked": frozenset({"case", "version", "automatic"}),
    "unlinked_from": frozenset({"of_case", "reason"}),
    "follow_up_unlinked": frozenset({"case", "reason"}),
}


def safety_trail(events: Sequence[Any], names: Names) -> list[TrailEntry]:
    """A safety case's events (oldest first) as the case page shows them."""
    return trail(events, names, sentences=SENTENCES, said=SAID)
