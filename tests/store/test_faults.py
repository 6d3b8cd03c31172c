"""Faults, as they happen to a running product: a worker killed mid-job (a real ``cpxm worker``
process, SIGKILL), the mail server down, Redis down. The work is done once all the same.

Each test runs the CLI or a worker in its own process on a committed store, with the real SMTP
server of ``tests/smtp.py`` and the Redis service; closed loopback ports stand for a server
that is down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.auth.service import create_api_token, create_user
from cpxm.db import session_factory
from cpxm.feedback.models import FeedbackAnalysis, FeedbackItem
from cpxm.jobs import make_huey
from cpxm.safety.models import SafetyCase
from cpxm.safety.screening import screen_pending
from cpxm.stakeholders.models import Consent
from cpxm.surveys.mail import SmtpSettings
from cpxm.surveys.models import Invitation
from cpxm.surveys.outbox import send_due_emails
from cpxm.timeutil import utc_now
from tests.conftest import bearer_headers, url_of
from tests.factories import make_stakeholder, make_taxonomy
from tests.served import cpxm_command
from tests.smtp import Inbox, free_port, smtp_server
from tests.surveys.helpers import EXAMPLE

REDIS_URL = "redis://127.0.0.1:6379/0"
WORKER_THREADS = 2  # as `cpxm worker` runs by default
AE_TEXT = "Since the last injection I have had a terrible rash (note {n})."
PLAIN_TEXT = "Friendly staff and a quick answer to question {n}."


@pytest.fixture
def redis_queue() -> Iterator[str]:
    """A queue of its own on the Redis service (its name), emptied afterwards."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.skip("Redis not reachable at 127.0.0.1:6379; start it to run the fault tests")
    name = f"cpxm-test-{uuid.uuid4().hex[:10]}"
    yield name
    make_huey(REDIS_URL, name=name).flush()


def _env(store: Engine, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPXM_", "PYTEST"))}
    return {**env, "CPXM_DATABASE_URL": url_of(store), **settings}


def _lead_token(store: Engine) -> str:
    """An API token of a CX lead, who sends surveys (`cpxm survey send` acts as them)."""
    with Session(store) as session:
        lead = create_user(session, email="lead@example.org", role="cx_lead")
        token = create_api_token(session, user=lead).token
        session.commit()
    return token


def _cpxm(*arguments: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return cpxm_command(*arguments, environment=env, cwd=cwd, timeout=240)


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "cpxm", "worker", "--workers", str(WORKER_THREADS)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _wait_for(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds:.0f} s for {what}")
        time.sleep(0.05)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)


def _count(engine: Engine, model: type[object], *where: object) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def _audience(engine: Engine, people: int) -> list[str]:
    """Consenting HCPs the example survey reaches; their addresses."""
    addresses = [f"hcp{n}@example.org" for n in range(people)]
    with Session(engine) as session:
        make_taxonomy(session)
        for address in addresses:
            person = make_stakeholder(
                session, type="hcp", country_code="DE", therapeutic_areas=("oncology",),
                email=address,
            )  # fmt: skip
            session.add(
                Consent(
                    stakeholder_id=person.id, purpose="survey", channel_code="email",
                    status="granted", recorded_at=utc_now() - timedelta(days=30), source="crm",
                )
            )  # fmt: skip
        session.commit()
    return addresses


@pytest.mark.parametrize("store_engine", ["postgresql"], indirect=True)
def test_a_worker_killed_mid_analysis_leaves_it_to_the_next_and_each_case_opens_once(
    store_engine: Engine, redis_queue: str, tmp_path: Path
) -> None:
    items = 1000
    with Session(store_engine) as session:
        session.add_all(
            FeedbackItem(
                source_kind="web_form",
                text=(AE_TEXT if n % 2 == 0 else PLAIN_TEXT).format(n=n),
                received_at=utc_now() - timedelta(hours=1),
                analysis_status="pending",
            )
            for n in range(items)
        )
        session.commit()  # this process's store is another: its commit hook enqueues nothing
    env = _env(store_engine, CPXM_JOBS_URL=REDIS_URL, CPXM_JOBS_QUEUE=redis_queue)
    log = tmp_path / "worker.log"

    # A starting worker screens the backlog, committing 100 items at a time: kill it between.
    first = _start_worker(env, log)
    try:
        _wait_for(
            lambda: _count(store_engine, FeedbackItem, FeedbackItem.analysis_status == "done") > 0,
            seconds=180,
            what="the first committed batch",
        )
    finally:
        _stop(first)
    left = _count(store_engine, FeedbackItem, FeedbackItem.analysis_status == "pending")
    assert 0 < left < items, "the worker was to be killed in the middle of the job"

    second = _start_worker(env, log)
    try:
        _wait_for(
            lambda: (
                _count(store_engine, FeedbackItem, FeedbackItem.analysis_status == "pending") == 0
            ),
            seconds=180,
            what="the next worker to screen what was left",
        )
    finally:
        _stop(second)
    with Session(store_engine) as session:
        analysed = session.scalars(select(FeedbackAnalysis.feedback_item_id)).all()
        cases = session.execute(select(SafetyCase.feedback_item_id, SafetyCase.kind)).all()
        ae_items = set(
            session.scalars(
                select(FeedbackItem.id).where(FeedbackItem.text.like("Since the last injection%"))
            )
        )
    assert len(analysed) == len(set(analysed)) == items  # every item analysed, once
    assert Counter(kind for _item, kind in cases) == {"ae": items // 2}
    assert {item for item, _kind in cases} == ae_items  # one case for each, none twice
    assert "Traceback" not in log.read_text(errors="replace")


def test_a_worker_killed_mid_send_leaves_the_rest_to_the_next_and_each_email_goes_once(
    store_engine: Engine, redis_queue: str, tmp_path: Path
) -> None:
    people = 40
    addresses = _audience(store_engine, people)
    env = _env(store_engine, CPXM_JOBS_URL="immediate")
    assert _cpxm("survey", "create", str(EXAMPLE), env=env, cwd=tmp_path).returncode == 0
    # A slow relay (a tenth of a second a message) keeps the send going long enough to kill.
    with smtp_server(Inbox(seconds_per_message=0.1)) as (inbox, port):
        env = _env(
            store_engine,
            CPXM_JOBS_URL=REDIS_URL,
            CPXM_JOBS_QUEUE=redis_queue,
            CPXM_SMTP_HOST="127.0.0.1",
            CPXM_SMTP_PORT=str(port),
            # A send's claim lasts four timeouts: 4 s, so the test need not wait a minute.
            CPXM_SMTP_TIMEOUT_SECONDS="1",
        )
        sent_by = {**env, "CPXM_TOKEN": _lead_token(store_engine)}
        sent = _cpxm("survey", "send", "hcp_pulse", "--wave", "w1", env=sent_by, cwd=tmp_path)
        assert sent.returncode == 0, sent.stderr
        assert f"{people} invitation(s) created; emails queued" in sent.stdout
        log = tmp_path / "worker.log"
        first = _start_worker(env, log)
        try:
            _wait_for(lambda: len(inbox.messages) >= 5, seconds=180, what="the first emails")
        finally:
            _stop(first)
        assert len(inbox.messages) < people, "the worker was to be killed in the middle"
        time.sleep(4.5)  # the claim of the email in flight lapses

        second = _start_worker(env, log)
        try:
            _wait_for(
                lambda: _count(store_engine, Invitation, Invitation.status == "sent") == people,
                seconds=180,
                what="the next worker to send the rest",
            )
        finally:
            _stop(second)
    emails = Counter((message["To"], message["Message-ID"]) for message in inbox.messages)
    # Each person got one email: one Message-ID each. An email the server took as the worker
    # died may have gone twice, as the same email (docs/jobs.md, "at least once"): at most one
    # for each of the worker's two threads.
    assert sorted(to for to, _id in emails) == sorted(addresses)
    assert sum(emails.values()) - people <= WORKER_THREADS
    with Session(store_engine) as session:
        attempts = session.scalars(select(Invitation.send_attempts)).all()
    assert set(attempts) == {0}
    assert "Traceback" not in log.read_text(errors="replace")


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    return lines[0]


def test_survey_send_with_the_mail_server_down_keeps_the_emails_waiting(
    store_engine: Engine, tmp_path: Path
) -> None:
    addresses = _audience(store_engine, 3)
    down = _env(
        store_engine,
        CPXM_JOBS_URL="immediate",  # the email job runs inside the command, as tests run it
        CPXM_SMTP_HOST="127.0.0.1",
        CPXM_SMTP_PORT=str(free_port()),
        CPXM_TOKEN=_lead_token(store_engine),
    )
    assert _cpxm("survey", "create", str(EXAMPLE), env=down, cwd=tmp_path).returncode == 0
    result = _cpxm("survey", "send", "hcp_pulse", "--wave", "w1", env=down, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 invitation(s) created" in result.stdout
    line = _one_line(result.stderr)
    assert "cannot reach the mail server" in line and "3 email(s) wait" in line
    with Session(store_engine) as session:
        waiting = session.scalars(select(Invitation)).all()
    assert [(i.status, i.send_attempts) for i in waiting] == [("pending", 1)] * 3

    # Once the server answers, the next run (after the back-off) sends them all.
    with smtp_server() as (inbox, port):
        settings = SmtpSettings(host="127.0.0.1", port=port)
        later = utc_now() + timedelta(minutes=2)
        report = send_due_emails(
            session_factory(store_engine), settings=settings, clock=lambda: later
        )
    assert report.sent == 3
    assert sorted(message["To"] for message in inbox.messages) == sorted(addresses)


def test_survey_send_with_redis_down_stores_the_invitations_for_the_sweep(
    store_engine: Engine, tmp_path: Path
) -> None:
    _audience(store_engine, 2)
    redis_down = _env(
        store_engine,
        CPXM_JOBS_URL=f"redis://127.0.0.1:{free_port()}/0",
        CPXM_TOKEN=_lead_token(store_engine),
    )
    assert _cpxm("survey", "create", str(EXAMPLE), env=redis_down, cwd=tmp_path).returncode == 0
    result = _cpxm("survey", "send", "hcp_pulse", "--wave", "w1", env=redis_down, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 invitation(s) created; the job queue is unreachable" in result.stdout
    assert "job queue unreachable" in _one_line(result.stderr)
    # Not lost: the store says they are due, and the minute's run of a worker sends them.
    with smtp_server() as (inbox, port):
        report = send_due_emails(
            session_factory(store_engine), settings=SmtpSettings(host="127.0.0.1", port=port)
        )
    assert report.sent == 2 and len(inbox.messages) == 2


FEEDBACK_POST = """
import os
from fastapi.testclient import TestClient
from cpxm.app import create_app

with TestClient(create_app(), headers={"Authorization": os.environ["TEST_BEARER"]}) as client:
    answer = client.post(
        "/api/v1/feedback", json={"source_kind": "web_form", "text": os.environ["TEST_TEXT"]}
    )
print(answer.status_code, answer.json().get("id"))
"""


def test_feedback_posted_with_redis_down_is_stored_and_screened_by_the_sweep(
    store_engine: Engine, tmp_path: Path
) -> None:
    headers = bearer_headers(sessionmaker(bind=store_engine), "admin")
    env = _env(
        store_engine,
        CPXM_JOBS_URL=f"redis://127.0.0.1:{free_port()}/0",
        TEST_BEARER=headers["Authorization"],
        TEST_TEXT=AE_TEXT.format(n=1),
    )
    result = subprocess.run(
        [sys.executable, "-c", FEEDBACK_POST],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    status, feedback_id = result.stdout.split()
    assert status == "201"  # stored and said so, though its job could not be queued
    assert "job queue unreachable" in result.stderr and "Traceback" not in result.stderr
    assert _count(store_engine, FeedbackItem, FeedbackItem.analysis_status == "pending") == 1

    with Session(store_engine) as session, session.begin():
        screen_pending(session)  # what the worker's minute sweep does once the queue is back
    with Session(store_engine) as session:
        case = session.scalars(select(SafetyCase)).one()
    assert (case.kind, case.feedback_item_id) == ("ae", int(feedback_id))
