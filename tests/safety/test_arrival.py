"""Analysis on arrival: every commit that leaves feedback pending enqueues its screening job.

The queue is held (not immediate) here, so the tests see what each writer's commit enqueued,
then run those jobs as a worker would.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from huey import Huey
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

import cpxm
from cpxm.app import create_app
from cpxm.feedback.models import FeedbackItem
from cpxm.jobs import huey, load_task_modules
from cpxm.safety.models import SafetyCase
from cpxm.surveys.responding import AnswerValue, open_respondent, save_answers
from cpxm.timeutil import utc_now
from tests.conftest import bearer_headers, url_of
from tests.safety.helpers import make_feedback
from tests.surveys.helpers import FULL_ANSWERS, make_invitation, setup_survey

SAFETY_TASKS = {"screen_feedback"}
AE_TEXT = "Since the last injection I have had a terrible rash."


@pytest.fixture
def queue(store_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Huey]:
    load_task_modules()
    monkeypatch.setenv("CPXM_DATABASE_URL", url_of(store_engine))
    huey.immediate = False
    huey.flush()
    yield huey
    huey.flush()
    huey.immediate = True


def _safety_jobs(queue: Huey) -> list[tuple[str, tuple[object, ...]]]:
    return [(task.name, task.args) for task in queue.pending() if task.name in SAFETY_TASKS]


def _work(queue: Huey) -> None:
    while (task := queue.dequeue()) is not None:
        queue.execute(task)


def _item(engine: Engine, **filters: object) -> FeedbackItem:
    with Session(engine) as session:
        return session.scalars(select(FeedbackItem).filter_by(**filters)).one()


def test_feedback_posted_to_the_api_is_screened_by_a_job(store_engine: Engine, queue: Huey) -> None:
    maker = sessionmaker(bind=store_engine)
    with TestClient(create_app(sessionmaker_=maker), headers=bearer_headers(maker)) as client:
        created = client.post("/api/v1/feedback", json={"source_kind": "web_form", "text": AE_TEXT})
    assert created.status_code == 201, created.text
    feedback_id = created.json()["id"]
    assert _safety_jobs(queue) == [("screen_feedback", ([feedback_id],))]
    assert _item(store_engine, id=feedback_id).analysis_status == "pending"

    _work(queue)
    assert _item(store_engine, id=feedback_id).analysis_status == "done"
    with Session(store_engine) as session:
        assert session.scalars(select(SafetyCase.kind)).all() == ["ae"]


def test_a_survey_submitted_as_json_is_screened_without_its_thank_you_page(
    store_engine: Engine, queue: Huey
) -> None:
    with Session(store_engine) as session:
        invitation = make_invitation(session, setup_survey(session))
        token = invitation.token
        session.commit()
    queue.flush()  # whatever setting up the survey enqueued
    maker = sessionmaker(bind=store_engine)
    with TestClient(create_app(sessionmaker_=maker)) as client:
        answers = {**FULL_ANSWERS, "reason": AE_TEXT}
        assert client.post(f"/s/{token}", json={"answers": answers}).status_code == 201
    item = _item(store_engine, source_kind="survey_comment")
    assert item.analysis_status == "pending"
    assert _safety_jobs(queue) == [("screen_feedback", ([item.id],))]

    _work(queue)
    assert _item(store_engine, id=item.id).analysis_status == "done"
    with Session(store_engine) as session:
        case = session.scalars(select(SafetyCase)).one()
    assert case.kind == "ae" and case.response_id == item.response_id


def test_any_session_that_commits_feedback_enqueues_it_and_a_rollback_does_not(
    store_engine: Engine, queue: Huey
) -> None:
    pen_jammed = "Caller says the pen jammed and the dose was lost."
    with Session(store_engine) as session:
        make_feedback(session, pen_jammed, source_kind="call_note")
        session.rollback()
    assert _safety_jobs(queue) == []

    with Session(store_engine) as session:
        item_id = make_feedback(session, pen_jammed, source_kind="call_note").id
        session.commit()
    assert _safety_jobs(queue) == [("screen_feedback", ([item_id],))]
    _work(queue)
    with Session(store_engine) as session:
        assert session.scalars(select(SafetyCase.kind)).all() == ["pc"]


def test_a_commit_to_another_store_is_left_to_that_store_s_sweep(
    store_engine: Engine, queue: Huey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPXM_DATABASE_URL", "sqlite:///elsewhere.db")
    with Session(store_engine) as session:
        make_feedback(session, AE_TEXT, source_kind="email")
        session.commit()
    assert _safety_jobs(queue) == []


def test_answers_saved_page_by_page_are_screened_and_again_only_when_their_words_change(
    store_engine: Engine, queue: Huey
) -> None:
    with Session(store_engine) as session:
        token = make_invitation(session, setup_survey(session)).token
        session.commit()
    queue.flush()

    def save(words: str, nps: int) -> None:
        with Session(store_engine) as session:
            respondent = open_respondent(session, token=token, now=utc_now())
            save_answers(
                session,
                respondent=respondent,
                answers={"nps": AnswerValue(number=nps), "reason": AnswerValue(text=words)},
                cleared=set(),
                now=utc_now(),
            )
            session.commit()

    save(AE_TEXT, 3)
    item = _item(store_engine, source_kind="survey_comment")
    assert _safety_jobs(queue) == [("screen_feedback", ([item.id],))]
    _work(queue)
    save(AE_TEXT, 4)  # a new score, the same words: nothing to analyse again
    assert _safety_jobs(queue) == []
    assert _item(store_engine, id=item.id).analysis_status == "done"
    save("Since the last injection I have had a terrible headache.", 4)
    assert _safety_jobs(queue) == [("screen_feedback", ([item.id],))]
    assert _item(store_engine, id=item.id).analysis_status == "pending"


def test_only_the_feedback_writer_writes_feedback_items() -> None:
    """One writer: no other module of the product inserts feedback items or marks them pending
    (each such place once had to be noticed by its own mechanism, and one was missed)."""
    source = Path(cpxm.__file__).parent
    writer = source / "feedback" / "writer.py"
    patterns = {
        "FeedbackItem(": "constructs a feedback item",
        "insert(FeedbackItem": "inserts feedback items",
        'insert(Base.metadata.tables["feedback_items"]': "inserts into the feedback table",
        "INSERT INTO feedback_items": "inserts feedback items in SQL",
        'analysis_status = "pending"': "marks feedback pending",
        '"analysis_status": "pending"': "marks feedback pending",
    }
    # The demo generator bulk-loads a whole synthetic history and screens it all itself
    # (cpxm.safety.demo) before the store is handed over.
    exempt = {source / "demo", source / "feedback" / "models.py"}
    found = [
        f"{path.relative_to(source)}: {meaning} ({pattern})"
        for path in source.rglob("*.py")
        if path != writer and not {path, *path.parents} & exempt
        for pattern, meaning in patterns.items()
        if pattern in path.read_text(encoding="utf-8")
    ]
    assert found == []


@pytest.mark.parametrize(
    "entry_point",
    [
        "import cpxm.cli_lazy; cpxm.cli_lazy.load_for_commands()",
        "import cpxm.app; cpxm.app.create_app()",
    ],
)
def test_the_cli_and_the_web_app_install_the_screening_hook(entry_point: str) -> None:
    """A fresh process that starts from either entry point has the commit hook installed (the
    command line installs it before any command runs); the queue is not loaded until something
    is to be queued, so commands that write no feedback start without it."""
    probe = (
        f"{entry_point}; import sys; from cpxm.safety import arrival; "
        "print(arrival.installed(), 'huey' in sys.modules if 'cli' in "
        f"{entry_point!r} else False)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True False"
