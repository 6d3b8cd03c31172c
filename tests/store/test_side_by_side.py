"""Two `cpxm serve` and two `cpxm worker` processes on one PostgreSQL and one Redis behave as one
product: a session signed in on one server works on the other, a lockout holds on both, an edit
reaches both servers' report caches at once, a periodic job runs once per period, and the survey
outbox sends each email once."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from cpxm.stakeholders.models import Consent
from cpxm.surveys.models import Answer, Invitation
from cpxm.timeutil import utc_now
from cpxm.workspace.models import ScheduledRun
from tests.conftest import url_of
from tests.factories import (
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)
from tests.served import PASSWORD, post_sign_in, served, sign_in
from tests.smtp import smtp_server
from tests.surveys.helpers import make_example_survey

pytestmark = pytest.mark.parametrize("store_engine", ["postgresql"], indirect=True)

EVERY_MINUTE_TASK = "cpxm.surveys.jobs.send_invitation_emails_every_minute"
INVITATIONS = 40


def _redis_or_skip() -> None:
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.skip("Redis not reachable at 127.0.0.1:6379; start it to run side-by-side tests")


def _seed(engine: Engine) -> tuple[int, list[int]]:
    """20 NPS answers (10 promoters, 10 detractors) and 40 invitations whose emails are due."""
    with Session(engine) as session:
        make_taxonomy(session)
        survey = make_survey(session, code="hcp_relationship")
        nps = make_question(session, survey=survey, question_type="nps", code="nps")
        detractor_answers = []
        for number in range(20):
            person = make_stakeholder(session, country_code="DE")
            response = make_response(
                session,
                survey=survey,
                stakeholder=person,
                started_at=utc_now() - timedelta(days=10),
                answers={nps: 10 if number % 2 else 0},
            )
            if number % 2 == 0:
                detractor_answers.append(
                    session.scalars(
                        select(Answer.id).where(Answer.response_id == response.id)
                    ).one()
                )
        invited = make_example_survey(session, code="side_by_side_pulse")
        for number in range(INVITATIONS):
            person = make_stakeholder(session, email=f"hcp{number}@clinic.example")
            session.add(
                Consent(
                    stakeholder_id=person.id,
                    purpose="survey",
                    channel_code=None,
                    status="granted",
                    recorded_at=utc_now() - timedelta(days=100),
                    source="crm",
                )
            )
            session.add(
                Invitation(
                    survey_id=invited.id,
                    stakeholder_id=person.id,
                    token=uuid.uuid4().hex,
                    channel_code="email",
                    status="pending",
                    expires_at=utc_now() + timedelta(days=30),
                    language="en",
                )
            )
        session.commit()
        return survey.id, detractor_answers


def _try_sign_in(url: str, email: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=60) as browser:
        return post_sign_in(browser, email, password)


def _nps(client: httpx.Client) -> float:
    answer = client.get("/api/v1/analytics/metrics", params={"metric": "nps", "min_n": 10})
    assert answer.status_code == 200, answer.text
    return float(answer.json()["overall"]["value"])


def test_two_servers_and_two_workers_behave_as_one(store_engine: Engine, tmp_path: Path) -> None:
    _redis_or_skip()
    _survey_id, detractor_answers = _seed(store_engine)
    queue = f"side-by-side-{uuid.uuid4().hex[:8]}"
    with (
        smtp_server() as (inbox, smtp_port),
        served(
            url_of(store_engine),
            tmp_path,
            jobs_url="redis://127.0.0.1:6379/14",
            servers=2,
            workers=2,
            extra_environment={
                "CPXM_JOBS_QUEUE": queue,
                "CPXM_SMTP_HOST": "127.0.0.1",
                "CPXM_SMTP_PORT": str(smtp_port),
                "CPXM_SMTP_FROM": "cx@meridel.example",
            },
        ) as running,
    ):
        first, second = running.urls
        email = running.user("admin")
        token = running.tokens["admin"]

        # A session signed in on one server is a session on the other.
        with httpx.Client(base_url=first, timeout=60) as browser:
            cookie = sign_in(browser, email, PASSWORD)
        with httpx.Client(base_url=second, timeout=60) as browser:
            page = browser.get("/cases", headers={"Cookie": f"cpxm_session={cookie}"})
            assert page.status_code == 200 and "Sign in" not in page.text[:2000]

        # Failed sign-ins count together: five spread over both servers lock the account.
        viewer = running.user("viewer")
        for attempt in range(5):
            refused = _try_sign_in((first, second)[attempt % 2], viewer, "not-the-password")
            assert refused.status_code != 303
        locked = _try_sign_in(second, viewer, PASSWORD)
        assert locked.status_code == 429, locked.text

        # Both servers cache the report; an edit made elsewhere reaches both at their next view.
        clients = [
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            for url in running.urls
        ]
        assert [_nps(client) for client in clients] == [0.0, 0.0]
        assert [_nps(client) for client in clients] == [0.0, 0.0]  # now from each cache
        with store_engine.begin() as connection:
            connection.execute(
                update(Answer).where(Answer.id.in_(detractor_answers)).values(value_number=10)
            )
        assert [_nps(client) for client in clients] == [100.0, 100.0]
        for client in clients:
            client.close()

        # Each worker sends due emails as it starts and every minute: each email goes out once.
        def recipients() -> list[str]:
            return sorted(
                str(message["To"])
                for message in inbox.messages
                if str(message["To"]).endswith("@clinic.example")
            )

        deadline = time.monotonic() + 120
        while len(recipients()) < INVITATIONS and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # a second copy, if any, would arrive now
        sent = recipients()
        assert len(sent) == INVITATIONS, running.log_text()[-3000:]
        assert len(set(sent)) == INVITATIONS

        # Both workers' schedulers enqueue the every-minute job (each once a minute, at its own
        # phase); each minute's slot runs once and the other copy is absorbed.
        def counts() -> tuple[int, int]:
            with Session(store_engine) as session:
                row = session.get(ScheduledRun, EVERY_MINUTE_TASK)
                return (row.runs, row.skipped) if row else (0, 0)

        before, started = counts(), utc_now()
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            runs, skipped = (now - then for now, then in zip(counts(), before, strict=True))
            if runs >= 1 and skipped >= 1:
                break
            time.sleep(1)
        minutes = int((utc_now() - started.replace(second=0, microsecond=0)).total_seconds() // 60)
        assert skipped >= 1, running.log_text()[-3000:]
        # Twice as many runs as minutes if both workers ran their copies.
        assert 1 <= runs <= minutes + 1, (runs, skipped, minutes)
        with store_engine.connect() as connection:
            changes = connection.execute(text("SELECT count(*) FROM analytics_changes")).scalar()
        assert changes and changes > 0
