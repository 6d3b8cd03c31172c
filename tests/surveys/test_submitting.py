"""Whole responses to an open link: the one-statement path keeps every rule of the general one.

An open link's second and later submits in a process use the plan kept from its first; these
tests change the link or survey between submits and check that a stale plan never stores or
refuses anything on its own. They run on a committing store, as the server does (on PostgreSQL
the one statement then commits by itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from huey import Huey
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from cpxm.app import create_app
from cpxm.feedback.models import FeedbackItem
from cpxm.jobs import huey, load_task_modules
from cpxm.surveys.models import Answer, Question, Response, Survey, SurveyLink
from cpxm.surveys.service import save_definition
from cpxm.timeutil import utc_now
from tests.conftest import url_of
from tests.surveys.helpers import FULL_ANSWERS, example_document, make_open_link, setup_survey


@pytest.fixture
def queue(store_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Huey]:
    """The job queue held, so a test sees what each commit enqueued."""
    load_task_modules()
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    huey.immediate = False
    huey.flush()
    yield huey
    huey.flush()
    huey.immediate = True


@pytest.fixture
def link_token(store_engine: Engine) -> str:
    with Session(store_engine) as session:
        token = make_open_link(session, setup_survey(session)).token
        session.commit()
    return token


@pytest.fixture
def client(store_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(sessionmaker_=sessionmaker(bind=store_engine))) as test_client:
        yield test_client


def _submit(client: TestClient, token: str, answers: dict[str, Any], key: str | None = None) -> Any:
    body: dict[str, Any] = {"answers": answers}
    if key is not None:
        body["key"] = key
    return client.post(f"/s/{token}", json=body)


def _complete(engine: Engine) -> int:
    with Session(engine) as session:
        count = session.scalar(
            select(func.count()).select_from(Response).where(Response.status == "complete")
        )
    return int(count or 0)


def _stored(engine: Engine, response_id: int) -> dict[str, Any]:
    with Session(engine) as session:
        response = session.get(Response, response_id)
        assert response is not None
        answers = dict(
            session.execute(
                select(Question.code, Answer)
                .join(Question, Question.id == Answer.question_id)
                .where(Answer.response_id == response_id)
            ).all()
        )
        comments = session.scalars(
            select(FeedbackItem).where(FeedbackItem.response_id == response_id)
        ).all()
        return {
            "version": response.survey_version,
            "status": response.status,
            "language": response.language,
            "open_link_id": response.open_link_id,
            "stakeholder_id": response.stakeholder_id,
            "answers": {
                code: (a.value_number, a.value_text, a.value_choices) for code, a in answers.items()
            },
            "comments": [
                (c.text, c.answer_id == answers["reason"].id, c.analysis_status, c.source_kind)
                for c in comments
            ],
        }


def test_later_submits_store_what_the_first_stored_and_queue_their_comments(
    client: TestClient, store_engine: Engine, link_token: str, queue: Huey
) -> None:
    first = _submit(client, link_token, FULL_ANSWERS)  # resolves the link: the general path
    second = _submit(client, link_token, FULL_ANSWERS, key="second-respondent-key")
    third = _submit(client, link_token, {**FULL_ANSWERS, "reason": "<script>x()</script>"})
    assert [r.status_code for r in (first, second, third)] == [201, 201, 201]
    ids = [r.json()["response_id"] for r in (first, second, third)]
    assert len(set(ids)) == 3
    by_general, by_plan = _stored(store_engine, ids[0]), _stored(store_engine, ids[1])
    assert by_plan == by_general
    assert by_plan["status"] == "complete" and by_plan["version"] == 1
    assert by_plan["stakeholder_id"] is None and by_plan["open_link_id"] is not None
    assert len(by_plan["answers"]) == 10
    assert by_plan["answers"]["channels"] == (None, None, ["email", "webinar"])
    assert by_plan["comments"] == [("Reps visit too often.", True, "pending", "survey_comment")]
    # Script is stored as the respondent typed it (pages and exports escape it).
    assert _stored(store_engine, ids[2])["comments"][0][0] == "<script>x()</script>"
    with Session(store_engine) as session:
        key = session.scalar(select(Response.resume_token).where(Response.id == ids[1]))
    assert key == "second-respondent-key"
    # Every committed response's comment reaches screening, whichever path stored it.
    screened = [
        feedback_id
        for task in queue.pending()
        if task.name == "screen_feedback"
        for feedback_id in task.args[0]
    ]
    with Session(store_engine) as session:
        screened_responses = session.scalars(
            select(FeedbackItem.response_id).where(FeedbackItem.id.in_(screened))
        ).all()
    assert len(screened) == len(set(screened)) == 3
    assert sorted(r for r in screened_responses if r is not None) == sorted(ids)


def test_a_repeated_key_stores_nothing_twice(
    client: TestClient, store_engine: Engine, link_token: str
) -> None:
    assert _submit(client, link_token, FULL_ANSWERS).status_code == 201
    first = _submit(client, link_token, FULL_ANSWERS, key="one-respondent-key-1")
    again = _submit(client, link_token, FULL_ANSWERS, key="one-respondent-key-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == {"response_id": first.json()["response_id"], "status": "complete",
                            "stored": False}  # fmt: skip
    assert _complete(store_engine) == 2


def test_a_link_closed_or_expired_after_its_plan_was_kept_refuses_answers(
    client: TestClient, store_engine: Engine, link_token: str
) -> None:
    assert _submit(client, link_token, FULL_ANSWERS).status_code == 201
    with Session(store_engine) as session:
        session.execute(
            update(SurveyLink)
            .where(SurveyLink.token == link_token)
            .values(expires_at=utc_now() - timedelta(minutes=1))
        )
        session.commit()
    expired = _submit(client, link_token, FULL_ANSWERS)
    assert expired.status_code == 410 and "expired" in expired.json()["detail"]
    with Session(store_engine) as session:
        session.execute(
            update(SurveyLink)
            .where(SurveyLink.token == link_token)
            .values(expires_at=None, closed_at=utc_now())
        )
        session.commit()
    assert _submit(client, link_token, FULL_ANSWERS).status_code == 410
    with Session(store_engine) as session:
        session.execute(update(SurveyLink).values(closed_at=None))
        session.execute(update(Survey).values(status="closed"))
        session.commit()
    closed = _submit(client, link_token, FULL_ANSWERS)
    assert closed.status_code == 410 and "closed" in closed.json()["detail"]
    assert _complete(store_engine) == 1


def test_a_new_version_published_after_the_plan_is_the_one_answered(
    client: TestClient, store_engine: Engine, link_token: str
) -> None:
    assert _submit(client, link_token, FULL_ANSWERS).status_code == 201
    document = example_document()
    document["status"] = "active"
    pages = document["pages"]
    pages[-1]["questions"].append(
        {"code": "next_visit", "type": "csat", "required": True, "prompt": "And the last visit?"}
    )
    with Session(store_engine) as session:
        assert save_definition(session, document=document).survey.version == 2
        session.commit()
    # The kept plan (version 1) would take these answers; version 2 requires one more.
    refused = _submit(client, link_token, FULL_ANSWERS)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "answers", "next_visit"]
    stored = _submit(client, link_token, {**FULL_ANSWERS, "next_visit": 5})
    assert stored.status_code == 201
    later = _submit(client, link_token, {**FULL_ANSWERS, "next_visit": 4})
    assert later.status_code == 201
    for response in (stored, later):
        kept = _stored(store_engine, response.json()["response_id"])
        assert kept["version"] == 2 and kept["answers"]["next_visit"][0] in (4.0, 5.0)
    assert _complete(store_engine) == 3


@pytest.mark.parametrize(
    ("change", "question"),
    [
        ({"nps": 11}, "nps"),
        ({"unknown_question": 3}, "unknown_question"),
        ({"reason": "x" * 5001}, "reason"),
        ({"csat": None}, "csat"),  # required
    ],
)
def test_answers_the_plan_refuses_are_refused_with_the_reason(
    client: TestClient,
    store_engine: Engine,
    link_token: str,
    change: dict[str, Any],
    question: str,
) -> None:
    assert _submit(client, link_token, FULL_ANSWERS).status_code == 201
    refused = _submit(client, link_token, {**FULL_ANSWERS, **change})
    assert refused.status_code == 422
    assert [error["loc"][-1] for error in refused.json()["detail"]] == [question]
    assert _complete(store_engine) == 1


def test_display_logic_drops_hidden_answers_on_the_plan_path(
    client: TestClient, store_engine: Engine, link_token: str
) -> None:
    assert _submit(client, link_token, FULL_ANSWERS).status_code == 201
    # detractor_followup is shown only to detractors: a promoter's answer to it is not kept.
    promoter = _submit(client, link_token, {**FULL_ANSWERS, "nps": 10})
    assert promoter.status_code == 201
    kept = _stored(store_engine, promoter.json()["response_id"])
    assert "detractor_followup" not in kept["answers"] and len(kept["answers"]) == 9
