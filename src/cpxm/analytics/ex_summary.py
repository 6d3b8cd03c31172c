"""The EX-CX page's kept summary: per pulse wave and team, the customers the team served.

The pulse itself is small (one answer per employee and wave); what costs a cold page is the
customer side: every customer NPS answer since the first wave walked back to its last employee
contact, every after-contact CSAT and CES answer to the team of the contact that triggered it,
and the wave's contacts and ping-pong weeks (2.6 s of CPU at demo scale 10 on PostgreSQL). The
summary keeps those per (survey, wave, team): a few hundred rows.

**One writer**: :func:`cpxm.analytics.kept.refresh_ex_summary`, with the page's own functions
(:mod:`cpxm.analytics.ex`), for every confidential survey with waves.

**Freshness rule**: the coordination summary's: stamped with the data fingerprint read before
and after the build, used only while the store's is the same, and only for the surveys and the
attribution days it was built for; otherwise the page computes from the facts. The pulse's own
cells (eNPS, enablers, response rates, verbatims) are always computed from the store: they are
small, and their suppression depends on the workspace's minimum cell size at the time of
viewing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.analytics import stats
from cpxm.analytics.models import ExTeamContacts, ExTeamScores, SummaryStamp
from cpxm.analytics.query import analytics_connection
from cpxm.analytics.service import data_fingerprint
from cpxm.surveys.models import Survey

SUMMARY_NAME = "ex"
KEPT_ATTRIBUTION_DAYS = 30  # ExQuery's default

Waves = Sequence[tuple[str, datetime, int]]


@dataclass(frozen=True)
class CustomerSide:
    """What the page shows beside each team's pulse, from the facts or the summary."""

    contacts: dict[str, dict[int | None, tuple[int, int]]]  # wave -> team -> contacts, customers
    ping_pong: dict[str, dict[int | None, int]]  # wave -> team -> episodes
    after_contact: dict[tuple[str, int | None, str], stats.Moments]  # (wave, team, csat/ces)
    last_touch: dict[tuple[str, int | None], stats.Moments]  # (wave, team) -> NPS


def built_from(session: Session, surveys: list[int]) -> str:
    return json.dumps(
        {
            "fingerprint": list(data_fingerprint(session)),
            "surveys": surveys,
            "attribution_days": KEPT_ATTRIBUTION_DAYS,
        },
        sort_keys=True,
    )


def confidential_surveys(session: Session) -> list[int]:
    return list(
        session.scalars(select(Survey.id).where(Survey.confidential.is_(True)).order_by(Survey.id))
    )


def kept_customer_side(
    session: Session, survey_id: int, attribution_days: int
) -> CustomerSide | None:
    """The customer side of every wave of ``survey_id`` from the summary, or ``None`` when it
    does not describe the store as it is (or another attribution window is asked for)."""
    if attribution_days != KEPT_ATTRIBUTION_DAYS:
        return None
    with analytics_connection(session) as connection:
        stamp = connection.execute(
            select(SummaryStamp.built_from).where(SummaryStamp.name == SUMMARY_NAME)
        ).scalar()
        if stamp is None:
            return None
        surveys = json.loads(stamp)["surveys"]
        if survey_id not in surveys or stamp != built_from(session, surveys):
            return None
        contact_rows = connection.execute(
            select(
                ExTeamContacts.wave,
                ExTeamContacts.team_id,
                ExTeamContacts.contacts,
                ExTeamContacts.customers,
                ExTeamContacts.ping_pong_episodes,
            ).where(ExTeamContacts.survey_id == survey_id)
        ).all()
        score_rows = connection.execute(
            select(
                ExTeamScores.wave,
                ExTeamScores.team_id,
                ExTeamScores.measure,
                ExTeamScores.n,
                ExTeamScores.total,
                ExTeamScores.total_squares,
                ExTeamScores.promoters,
                ExTeamScores.detractors,
            ).where(ExTeamScores.survey_id == survey_id)
        ).all()
    side = CustomerSide({}, {}, {}, {})
    for wave, team, contacts, customers, episodes in contact_rows:
        if contacts:
            side.contacts.setdefault(wave, {})[team] = (int(contacts), int(customers))
        if episodes:
            side.ping_pong.setdefault(wave, {})[team] = int(episodes)
    for wave, team, measure, n, total, squares, promoters, detractors in score_rows:
        moments = stats.Moments(
            n=int(n),
            total=float(total),
            total_squares=float(squares),
            promoters=int(promoters),
            detractors=int(detractors),
        )
        if measure == "nps":
            side.last_touch[(wave, team)] = moments
        else:
            side.after_contact[(wave, team, measure)] = moments
    return side
