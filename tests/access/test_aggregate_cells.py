"""The workspace's minimum cell size on feedback theme counts, coordination and time-to-contact,
with complementary suppression, as on the experience metrics."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cpxm.access.cells import set_min_cell_size, split_counts, suppressed
from cpxm.analytics.speed import TimeToContactQuery, time_to_contact
from cpxm.feedback.models import FeedbackAnalysis, FeedbackTheme
from tests.analytics.test_api_pages import _seed
from tests.analytics.test_speed import _onboarding
from tests.safety.helpers import make_feedback


def test_suppression_hides_small_cells_and_their_complements() -> None:
    assert suppressed([12, 3, 40, 0], min_n=5) == {0, 1}  # 3 alone would be total - 52
    assert suppressed([12, 3, 2, 40], min_n=5) == {1, 2}  # two small cells cover each other
    assert suppressed([12, 3, 40], min_n=5, total_shown=False) == {1}
    assert suppressed([0, 0, 9], min_n=5) == set()  # an empty cell describes nobody
    assert split_counts(3, 1, min_n=5) == (None, None)
    assert split_counts(12, 2, min_n=5) == (12, None)
    assert split_counts(12, 9, min_n=5) == (12, None)  # 3 not negative = 12 - 9
    assert split_counts(12, 6, min_n=5) == (12, 6)
    assert split_counts(12, 0, min_n=5) == (12, 0)


def _themed(session: Session, theme: str, count: int, negative: int) -> None:
    for index in range(count):
        item = make_feedback(session, f"{theme} {index}", received_at=datetime(2026, 11, 1))
        session.add(
            FeedbackAnalysis(
                feedback_item_id=item.id,
                sentiment_label="negative" if index < negative else "positive",
                sentiment_score=-0.5 if index < negative else 0.5,
                analysed_at=datetime(2026, 11, 1),
            )
        )
        session.add(FeedbackTheme(feedback_item_id=item.id, theme_code=theme))
    session.flush()


def test_theme_counts_hide_what_describes_too_few(session: Session, client: TestClient) -> None:
    _themed(session, "access", 12, 3)
    _themed(session, "pricing", 2, 1)
    _themed(session, "service", 10, 5)
    session.commit()

    themes = {row["theme"]: row for row in client.get("/api/v1/feedback/themes").json()}

    assert (themes["access"]["items"], themes["access"]["negative"]) == (12, None)
    assert (themes["pricing"]["items"], themes["pricing"]["negative"]) == (None, None)
    assert (themes["service"]["items"], themes["service"]["negative"]) == (10, 5)
    page = client.get("/feedback")
    assert page.status_code == 200 and "suppressed" in page.text
    set_min_cell_size(session, value=1, user_id=None)
    session.commit()
    relaxed = {row["theme"]: row for row in client.get("/api/v1/feedback/themes").json()}
    assert (relaxed["pricing"]["items"], relaxed["pricing"]["negative"]) == (2, 1)


def test_time_to_contact_buckets_follow_the_workspace_floor(session: Session) -> None:
    _onboarding(session)  # waits of 0-3, 3-7 and 7-14 days: 10, 10 and 20 answers
    query = TimeToContactQuery("psp_enrolment", "psp_onboarding_call", "psp", "csat")
    assert [n for _, n, _ in time_to_contact(session, query).by_wait] == [10, 10, 20, 0, 0]

    set_min_cell_size(session, value=15, user_id=None)
    result = time_to_contact(session, query)

    assert [(n, mean is None) for _, n, mean in result.by_wait] == [
        (None, True), (None, True), (20, False), (0, True), (0, True),
    ]  # fmt: skip
    assert result.answered == 40 and result.mean_days is not None
    set_min_cell_size(session, value=50, user_id=None)
    hidden = time_to_contact(session, query)
    assert hidden.per_day is None and hidden.mean_days is None  # 41 people, below 50


def test_coordination_hides_small_departments_channels_and_periods(
    session: Session, client: TestClient
) -> None:
    _seed(session)
    set_min_cell_size(session, value=1, user_id=None)
    session.commit()
    url = "/api/v1/analytics/coordination?as_of=2025-03-25"
    whole = client.get(url).json()
    assert all(row["contacts"] is not None for row in whole["by_department"])

    set_min_cell_size(session, value=1000, user_id=None)
    session.commit()
    strict = client.get(f"{url}&top=24").json()  # another query: not the cached report

    assert strict["by_department"] and all(
        row["suppressed"] and row["contacts"] is None for row in strict["by_department"]
    )
    assert all(row["stakeholders"] is None for row in strict["by_channel"])
    assert all(count is None for _, count in strict["episodes_by_period"] if count != 0)
    assert strict["effect"]["mean_difference"] is None
    assert strict["episodes"] == whole["episodes"]  # totals stay
    page = client.get("/analytics/coordination?as_of=2025-03-25&top=23")
    assert page.status_code == 200 and "suppressed (too few people)" in page.text
    csv_rows = client.get("/analytics/coordination/export/departments.csv?top=22").text
    assert ",," in csv_rows  # suppressed figures are empty cells
