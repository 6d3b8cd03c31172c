"""The case scanner reads rows committed out of id order: a look-back window, read again."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.cases import scan
from cpxm.cases.models import Case, CaseScanWatermark
from cpxm.surveys.models import Answer
from tests.cases.helpers import make_org
from tests.factories import make_question, make_response, make_stakeholder, make_survey

T0 = datetime(2026, 11, 16, 10, 0)


def _cases_for(session: Session, response_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.source_key == f"response:{response_id}")
        )
        or 0
    )


def test_a_lower_id_committed_late_still_opens_its_case_exactly_once(
    store_engine: Engine,
) -> None:
    if store_engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers, so its ids always commit in order")
    maker = sessionmaker(bind=store_engine, expire_on_commit=False)
    with maker() as setup:
        make_org(setup)
        survey = make_survey(setup, name="Field experience")
        nps = make_question(setup, survey=survey, question_type="nps")
        slow_person, fast_person = (make_stakeholder(setup, country_code="DE") for _ in range(2))
        setup.commit()

    slow = maker()  # a long transaction: its answer takes the lower id and commits last
    late = make_response(slow, survey=survey, stakeholder=slow_person, answers={nps: 2})
    with maker() as fast:
        early = make_response(fast, survey=survey, stakeholder=fast_person, answers={nps: 1})
        fast.commit()
    late_answer, early_answer = (
        slow.scalar(select(Answer.id).where(Answer.response_id == r.id)) for r in (late, early)
    )
    assert late_answer is not None and early_answer is not None and late_answer < early_answer

    with maker() as scanner:
        assert len(scan.scan(scanner, now=T0).opened) == 1  # only the committed one is visible
        scanner.commit()
    slow.commit()
    slow.close()
    with maker() as scanner:
        report = scan.scan(scanner, now=T0 + timedelta(minutes=5))
        scanner.commit()
        assert len(report.opened) == 1
        assert _cases_for(scanner, late.id) == 1
    # Later scans, inside the window and past it, re-read it and open nothing twice.
    for minutes in (10, 40, 80):
        with maker() as scanner:
            assert scan.scan(scanner, now=T0 + timedelta(minutes=minutes)).opened == []
            scanner.commit()
    with maker() as check:
        assert _cases_for(check, late.id) == _cases_for(check, early.id) == 1
        mark = check.get(CaseScanWatermark, "survey_answers")
        assert mark is not None and mark.last_id >= early_answer  # the window moved on


def test_the_start_moves_only_once_the_window_has_passed(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPXM_CASE_SCAN_LOOKBACK_MINUTES", "30")
    make_org(session)
    survey = make_survey(session, name="Field experience")
    nps = make_question(session, survey=survey, question_type="nps")
    make_response(session, survey=survey, stakeholder=make_stakeholder(session), answers={nps: 0})
    last_answer = session.scalar(select(func.max(Answer.id)))

    def mark() -> tuple[int, int | None]:
        watermark = session.get(CaseScanWatermark, "survey_answers")
        assert watermark is not None
        return watermark.last_id, watermark.checkpoint_id

    assert len(scan.scan(session, now=T0).opened) == 1
    assert mark() == (0, last_answer)  # reached, not yet settled
    assert scan.scan(session, now=T0 + timedelta(minutes=29)).already_open == 1  # re-read
    assert mark() == (0, last_answer)
    assert scan.scan(session, now=T0 + timedelta(minutes=31)).already_open == 1
    assert mark() == (last_answer, last_answer)  # settled: later scans start after it
    assert scan.scan(session, now=T0 + timedelta(minutes=32)).answers_read == 0


def test_a_lookback_that_is_not_a_number_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPXM_CASE_SCAN_LOOKBACK_MINUTES", "soon")
    with pytest.raises(ValueError, match="expected a number of minutes"):
        scan.lookback()
