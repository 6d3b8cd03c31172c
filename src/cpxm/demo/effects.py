"""The planted effects: the latent model the demo's scores come from, and its manifest.

The generators read these constants; the manifest writes the same numbers with precise
definitions, so an analytics test can recompute each effect from the store and compare.
"""

from __future__ import annotations

from typing import Any

from cpxm.demo.taxonomy import HCP_DRIVER_PROMPTS
from cpxm.demo.teams import TOOLS_CSAT_PER_POINT, WORK_TEAMS, tools_offset
from cpxm.interactions.outcomes import OUTCOME_QUALITY

# (1) Ping-pong: outbound contacts from >= 3 departments in the 7 days before an NPS response.
PING_PONG_DAYS = 7
PING_PONG_MIN_DEPARTMENTS = 3
PING_PONG_NPS_EFFECT = -2.0
PING_PONG_PLANT_SHARE = 0.3  # share of relationship responses that get a planted burst

# (2) Medical inquiries answered late precede disengagement.
LATE_ANSWER_DAYS = 10
LATE_ANSWER_RATE_MULTIPLIER = 0.45  # the HCP's interaction rate in the 90 days after the answer
LATE_ANSWER_WINDOW_DAYS = 90

# (3) PSP onboarding speed drives PSP CSAT.
ONBOARDING_CSAT_SLOPE = -0.08  # CSAT points per day from enrolment to first onboarding contact
ONBOARDING_RATING_SLOPE = -0.12  # the "onboarding" rating, points per day
ONBOARDING_CENTRE_DAYS = 7.0
PSP_CSAT_BASE = 3.9

# (4) Peak-end: the last touchpoint before a relationship response weighs most.
LAST_TOUCH_NPS_WEIGHT = 1.2  # NPS points per unit of quality of the last interaction
PRIOR_TOUCH_NPS_WEIGHT = 0.3  # per unit of the mean quality of the others in the prior 30 days
PRIOR_TOUCH_DAYS = 30
QUALITY_BY_OUTCOME = OUTCOME_QUALITY  # the product's reading of outcomes, planted as it reads
OUTCOMES_BY_QUALITY: dict[int, tuple[str, ...]] = {
    quality: tuple(o for o, q in QUALITY_BY_OUTCOME.items() if q == quality)
    for quality in (-1, 0, 1)
}
QUALITY_PROBABILITIES = (0.12, 0.38, 0.50)  # poor, neutral, good

# (5) Satisfaction drivers of the relationship NPS, NPS points per rating point (1-5 scale).
DRIVER_WEIGHTS: dict[str, float] = dict(
    zip(
        (code for code, _ in HCP_DRIVER_PROMPTS),
        (0.9, 0.7, 0.5, 0.35, 0.2, 0.1),
        strict=True,
    )
)
DRIVER_RATING_MEAN = 3.6
DRIVER_RATING_SD = 0.9
DRIVER_SHARED_LOADING = 0.5  # correlation between two drivers' latent ratings is its square
NPS_BASE = 6.9
NPS_NOISE_SD = 1.0

# (6) Silent detractors: HCPs who stop engaging without telling us.
SILENT_DETRACTOR_SHARE = 0.06
SILENT_DETRACTOR_RATE_MULTIPLIER = 0.12
SILENT_DETRACTOR_MIN_NPS = 7

# Transactional CSAT / CES after one interaction.
TRANSACTIONAL_CSAT_BASE = 3.75
TRANSACTIONAL_CSAT_PER_QUALITY = 0.8
TRANSACTIONAL_CES_BASE = 5.0
TRANSACTIONAL_CES_PER_QUALITY = 1.1
TRANSACTIONAL_LATE_ANSWER_CSAT_PER_DAY = -0.06  # per day an inquiry answer took beyond 5 days


def manifest_effects(silent_detractors: dict[int, str]) -> dict[str, Any]:
    """The planted effects, each with its size and a definition a query can follow."""
    return {
        "ping_pong": {
            "survey": "hcp_relationship_nps",
            "question": "nps",
            "definition": (
                "A relationship NPS response is exposed when the respondent had outbound "
                f"interactions from >= {PING_PONG_MIN_DEPARTMENTS} distinct department_code in "
                f"[responses.started_at - {PING_PONG_DAYS} days, responses.started_at)."
            ),
            "window_days": PING_PONG_DAYS,
            "min_departments": PING_PONG_MIN_DEPARTMENTS,
            "nps_effect": PING_PONG_NPS_EFFECT,
            "note": "added to the latent 0-10 score before rounding and clipping",
        },
        "late_medical_inquiry_disengagement": {
            "definition": (
                "A medical inquiry is an inbound interaction with interaction_type "
                "'medical_inquiry'; its answer is the next outbound interaction of type "
                "'medical_inquiry_response' of the same stakeholder. It is late when the answer "
                f"comes more than {LATE_ANSWER_DAYS} days after the inquiry. After a late answer "
                f"the HCP's rate of all interactions in the following {LATE_ANSWER_WINDOW_DAYS} "
                f"days is multiplied by {LATE_ANSWER_RATE_MULTIPLIER}."
            ),
            "late_after_days": LATE_ANSWER_DAYS,
            "window_days": LATE_ANSWER_WINDOW_DAYS,
            "rate_multiplier": LATE_ANSWER_RATE_MULTIPLIER,
            "rate_drop_percent": round(100 * (1 - LATE_ANSWER_RATE_MULTIPLIER)),
            "comparison": (
                "interactions (other than the inquiry's own answer) in the 90 days after the "
                "answer, late vs on-time answers, for answers at least 90 days before the "
                "reference date"
            ),
        },
        "onboarding_speed_psp_csat": {
            "survey": "psp_experience",
            "definition": (
                "onboarding_days = days from the patient's 'psp_enrolment' interaction to their "
                "first 'psp_onboarding_call' interaction. Latent CSAT = "
                f"{PSP_CSAT_BASE} + slope * (onboarding_days - {ONBOARDING_CENTRE_DAYS}) "
                "+ noise(sd 0.55), rounded and clipped to 1-5."
            ),
            "csat_slope_per_day": ONBOARDING_CSAT_SLOPE,
            "onboarding_rating_slope_per_day": ONBOARDING_RATING_SLOPE,
        },
        "peak_end": {
            "survey": "hcp_relationship_nps",
            "definition": (
                "quality(interaction) = quality_by_outcome[interactions.outcome] in {-1, 0, 1}. "
                "The last interaction strictly before responses.started_at adds "
                "last_touch_weight * its quality to the latent NPS; the mean quality of the "
                f"respondent's other interactions in the {PRIOR_TOUCH_DAYS} days before adds "
                "prior_touch_weight * that mean."
            ),
            "last_touch_weight": LAST_TOUCH_NPS_WEIGHT,
            "prior_touch_weight": PRIOR_TOUCH_NPS_WEIGHT,
            "prior_window_days": PRIOR_TOUCH_DAYS,
            "quality_by_outcome": QUALITY_BY_OUTCOME,
        },
        "nps_drivers": {
            "survey": "hcp_relationship_nps",
            "definition": (
                "Latent NPS = base + sum(weight * (rating - rating_mean)) + ping-pong + peak-end "
                "+ noise(sd nps_noise_sd), rounded and clipped to 0-10. Ratings are 1-5, drawn "
                "from a shared general impression plus a driver-specific part."
            ),
            "weights": DRIVER_WEIGHTS,
            "ranking": list(DRIVER_WEIGHTS),
            "base": NPS_BASE,
            "rating_mean": DRIVER_RATING_MEAN,
            "nps_noise_sd": NPS_NOISE_SD,
        },
        "silent_detractors": {
            "definition": (
                "HCPs whose interaction rate is multiplied by "
                f"{SILENT_DETRACTOR_RATE_MULTIPLIER} from a change date between 12 and 4 months "
                "before the reference date, who never answer the relationship survey after it "
                f"and whose earlier NPS answers are all >= {SILENT_DETRACTOR_MIN_NPS} with no "
                "negative comment."
            ),
            "rate_multiplier": SILENT_DETRACTOR_RATE_MULTIPLIER,
            "count": len(silent_detractors),
            "stakeholder_ids": sorted(silent_detractors),
            "change_dates": {str(key): value for key, value in sorted(silent_detractors.items())},
        },
        "transactional_csat": {
            "survey": "post_interaction",
            "definition": (
                "Latent CSAT = base + per_quality * quality(trigger interaction) + "
                "late_answer_per_day * max(0, answer_delay_days - 5) for inquiry answers."
            ),
            "base": TRANSACTIONAL_CSAT_BASE,
            "per_quality": TRANSACTIONAL_CSAT_PER_QUALITY,
            "late_answer_per_day": TRANSACTIONAL_LATE_ANSWER_CSAT_PER_DAY,
            "team_tools_per_point": TOOLS_CSAT_PER_POINT,
        },
        "team_tools_csat": {
            "survey": "post_interaction",
            "pulse": "employee_pulse",
            "enabler": "tools",
            "definition": (
                "Each work team (stakeholders.team_id of the employee on the trigger interaction) "
                "has a tools offset; its employees' pulse 'tools' ratings centre on the pulse "
                "mean plus the offset, and the latent CSAT after a contact by the team gains "
                f"{TOOLS_CSAT_PER_POINT} * offset. Across teams, the team's mean CSAT rises by "
                "about that much per point of the team's mean 'tools' rating (less where "
                "rounding and clipping to the 1-5 scales flatten it)."
            ),
            "csat_per_tools_point": TOOLS_CSAT_PER_POINT,
            "team_offsets": {name: tools_offset(name) for name, _, _ in WORK_TEAMS},
        },
    }
