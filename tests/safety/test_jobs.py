"""The safety jobs run their service functions on the configured store (huey immediate)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cpxm.feedback.models import FeedbackItem
from cpxm.jobs import huey, load_task_modules
from cpxm.safety.jobs import escalate_safety_cases, screen_feedback, sweep_pending_feedback
from cpxm.safety.models import SafetyCase
from tests.conftest import url_of


def _add(engine: Engine, text: str) -> int:
    with Session(engine) as session:
        item = FeedbackItem(
            source_kind="web_form",
            text=text,
            received_at=datetime(2026, 11, 2, 9, 0),
            analysis_status="pending",
        )
        session.add(item)
        session.commit()
        return item.id


def test_tasks_screen_sweep_and_escalate(
    store_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert huey.immediate
    load_task_modules()
    assert "cpxm.safety.jobs.screen_feedback" in str(huey._registry._registry)
    # Written before the store is the configured one, so no commit hook screens them.
    first = _add(store_engine, "I was sick all night after the first injection.")
    second = _add(store_engine, "The blister pack was torn open on arrival.")
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))

    screen_feedback([first])
    with Session(store_engine) as session:
        assert session.get(FeedbackItem, first).analysis_status == "done"  # type: ignore[union-attr]
        assert session.get(FeedbackItem, second).analysis_status == "pending"  # type: ignore[union-attr]

    sweep_pending_feedback.call_local()
    escalate_safety_cases.call_local()
    with Session(store_engine) as session:
        cases = session.scalars(select(SafetyCase).order_by(SafetyCase.id)).all()
        assert [(case.kind, case.feedback_item_id) for case in cases] == [
            ("ae", first),
            ("pc", second),
        ]
        # Received weeks ago and never acknowledged: overdue, so escalated.
        assert all(case.escalation_level >= 1 for case in cases)
