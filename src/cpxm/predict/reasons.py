"""A person's top reasons in words: the features that raise their risk most, by the model's own
contributions, each said with the person's value."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


def _plural(count: float, one: str, many: str) -> str:
    whole = round(count)
    return f"{whole} {one if whole == 1 else many}"


def _trend(value: float) -> str:
    # contact_trend = log((rate30 + 0.02) / (rate_before + 0.02)): say it as a share.
    share = math.exp(value)
    if share < 1:
        return f"contacts in the last 30 days fell to {share:.0%} of their usual rate"
    return f"contacts in the last 30 days rose to {share:.1f}x their usual rate"


PHRASES: dict[str, Callable[[float], str]] = {
    "contacts_90": lambda v: f"{round(math.expm1(v))} contacts in the last 90 days",
    "contact_trend": _trend,
    "ping_pong_90": lambda v: (
        f"{_plural(v, 'week', 'weeks')} in the last 90 days with contacts from 3 or more "
        "departments (ping-pong)"
    ),
    "late_answers_180": lambda v: (
        f"{_plural(v, 'medical inquiry', 'medical inquiries')} answered more than 10 days late "
        "in the last 180 days"
    ),
    "answer_days_180": lambda v: f"medical inquiries took {v:.0f} days on average to answer",
    "open_requests": lambda v: f"{_plural(v, 'medical inquiry', 'medical inquiries')} unanswered",
    "poor_outcomes_90": lambda v: (
        f"{_plural(v, 'contact', 'contacts')} in the last 90 days ended badly "
        "(unresolved, complaint, rescheduled by us)"
    ),
    "cases_180": lambda v: f"{_plural(v, 'case', 'cases')} opened about them in the last 180 days",
    "open_cases": lambda v: f"{_plural(v, 'case', 'cases')} still open",
    "last_nps": lambda v: f"last NPS answer {v:.0f}",
    "no_nps": lambda v: "has never answered an NPS survey",
    "nps_drop": lambda v: f"NPS fell by {v:.0f} points from their previous answer",
    "negative_feedback_180": lambda v: (
        f"{_plural(v, 'negative comment', 'negative comments')} in the last 180 days"
    ),
    "off_preference_90": lambda v: f"{v:.0%} of our contacts came on channels they did not ask for",
}


def reasons_for(
    features: tuple[str, ...], values: np.ndarray, contributions: np.ndarray, top: int = 3
) -> list[dict[str, Any]]:
    """The ``top`` features that push this person's risk up most (contribution > 0)."""
    order = np.argsort(-contributions, kind="stable")
    found = []
    for index in order[:top].tolist():
        contribution = float(contributions[index])
        if contribution <= 0.05:
            break
        name = features[index]
        found.append(
            {
                "feature": name,
                "text": PHRASES[name](float(values[index])),
                "contribution": round(contribution, 3),
            }
        )
    return found
