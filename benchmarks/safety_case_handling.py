"""How PV's case handling meets the demo: triage list, follow-ups, seriousness (issue 18).

Run on a store the demo filled (``cpxm demo --no-serve``, full scale), e.g.

    CPXM_DATABASE_URL=sqlite:///demo.db uv run python benchmarks/safety_case_handling.py

It prints: feedback items with a safety mention but no case, and how many of them are on the
triage list; the later reports of the same reporter, kind, product and event (exact event
words) and how many of them fall within 30, 90 and 365 days of the previous one, beside the
follow-ups the store linked (window ``CPXM_PV_FOLLOWUP_WINDOW_DAYS``, default 30); and the
cases per seriousness level.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import datetime
from itertools import pairwise

from sqlalchemy import func, select

from cpxm.db import make_engine, session_factory
from cpxm.feedback.models import FeedbackAnalysis
from cpxm.safety.models import SafetyCase, SafetyTriageItem


def main() -> None:
    engine = make_engine(os.environ.get("CPXM_DATABASE_URL"))
    with session_factory(engine)() as session:
        with_case = set(session.scalars(select(SafetyCase.feedback_item_id)))
        mentioned = {
            item_id
            for item_id, mentions in session.execute(
                select(FeedbackAnalysis.feedback_item_id, FeedbackAnalysis.safety_mentions)
            )
            if mentions
        }
        no_case = mentioned - with_case
        on_triage = set(session.scalars(select(SafetyTriageItem.feedback_item_id)))
        print(f"items with a safety mention but no case: {len(no_case):,}")
        print(f"  of them on the triage list:            {len(no_case & on_triage):,}")

        groups: dict[tuple[object, ...], list[datetime]] = defaultdict(list)
        linked = 0
        for case in session.scalars(select(SafetyCase).order_by(SafetyCase.aware_at)):
            linked += case.follow_up_of is not None
            if case.reporter_stakeholder_id is None:
                continue
            product = case.product_code or (case.product_written or "").lower()
            key = (case.reporter_stakeholder_id, case.kind, product, tuple(case.event_terms))
            groups[key].append(case.aware_at)
        repeated = [times for times in groups.values() if len(times) > 1]
        gaps = [(later - earlier).days for times in repeated for earlier, later in pairwise(times)]
        print(f"groups of same reporter + kind + product + event: {len(repeated):,}")
        print(f"  later reports in them: {len(gaps):,}")
        for days in (30, 90, 365):
            within = sum(gap <= days for gap in gaps)
            print(f"  within {days:>3} days of the previous report: {within:,}")
        print(f"follow-ups the store linked: {linked:,}")

        levels = dict(
            session.execute(
                select(SafetyCase.seriousness_level, func.count()).group_by(
                    SafetyCase.seriousness_level
                )
            ).all()
        )
        print(
            "cases by seriousness: "
            f"fatal or life-threatening {levels.get(2, 0):,}, serious {levels.get(1, 0):,}, "
            f"not serious {levels.get(0, 0):,}"
        )


if __name__ == "__main__":
    main()
