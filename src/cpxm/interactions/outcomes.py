"""How an interaction's recorded outcome reads as experience: good (1), neutral (0), poor (-1).

One map for the product (journeys' peak-end and drivers' touchpoints read it) and for the
demo, which plants its peak-end effect with the same reading so the pages can recover it.
"""

from __future__ import annotations

OUTCOME_QUALITY: dict[str, int] = {
    "resolved": 1,
    "positive_feedback": 1,
    "follow_up_agreed": 1,
    "completed": 0,
    "information_provided": 0,
    "no_decision": 0,
    "unresolved": -1,
    "complaint_raised": -1,
    "rescheduled_by_company": -1,
}
