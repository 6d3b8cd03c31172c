"""The demo's live week: a wave and triggers sent through the gate, answered through the pages'
service functions, with open links a visitor can answer.

Each engine gets its own committed demo store (``generate_demo`` and the live week commit).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from cpxm.app import create_app
from cpxm.db import make_engine
from cpxm.demo.live import TRIGGERED_SURVEY, WAVE_DAYS_BEFORE_NOW, LiveSummary
from cpxm.demo.service import generate_demo
from cpxm.demo.taxonomy import REFERENCE_DATE
from cpxm.migrate import upgrade_database
from cpxm.schema import metadata
from cpxm.timeutil import utc_now
from tests.conftest import postgres_test_url
from tests.smtp import smtp_server

from . import checks

T = metadata.tables
SCALE = 0.1
SEED = 11
# Each store's table digests, taken before any test opens a page (opening marks a link opened).
DIGESTS: dict[str, str] = {}
# What each store's generate_demo said of its live week (what ``cpxm demo`` prints).
SUMMARIES: dict[str, LiveSummary] = {}
# The service's tokens: 128 bits from ``secrets``, URL-safe.
TOKEN = r"[A-Za-z0-9_-]{22}"


def _live_store(engine: Engine) -> Engine:
    upgrade_database(engine)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CPXM_SMTP_HOST", raising=False)  # the demo has no SMTP server
        summary = generate_demo(engine, scale=SCALE, seed=SEED)
    assert summary.live is not None
    SUMMARIES[str(engine.url)] = summary.live
    DIGESTS[str(engine.url)] = _live_digest(engine)
    return engine


@pytest.fixture(scope="module")
def _sqlite_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("demo-live") / "demo.db"
    engine = _live_store(make_engine(f"sqlite:///{path}"))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def _postgresql_live() -> Iterator[Engine]:
    engine = _live_store(make_engine(postgres_test_url("demo_live_")))
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue(f"_{request.param}_live")  # type: ignore[no-any-return]


def _live_digest(engine: Engine) -> str:
    """A hash of the live week's invitations, responses, answers and feedback items, in id order
    (the history's own rows are compared by ``test_service``); tokens are random by design."""
    inv, r, a, fb = T["invitations"], T["responses"], T["answers"], T["feedback_items"]
    invitation_ids = [row.id for row in _live_invitations(engine)]
    responses = select(r.c.id).where(r.c.invitation_id.in_(invitation_ids))
    queries = [
        select(*[c for c in inv.columns if c.name != "token"])
        .where(inv.c.id.in_(invitation_ids))
        .order_by(inv.c.id),
        select(r).where(r.c.id.in_(responses)).order_by(r.c.id),
        select(a).where(a.c.response_id.in_(responses)).order_by(a.c.id),
        select(*[c for c in fb.columns if c.name not in ("created_at", "updated_at")])
        .where(fb.c.response_id.in_(responses))
        .order_by(fb.c.id),
    ]
    hasher = hashlib.sha256()
    with engine.connect() as connection:
        for query in queries:
            for row in connection.execute(query):
                hasher.update(repr(tuple(row)).encode())
    return hasher.hexdigest()


def _record(engine: Engine) -> dict[str, Any]:
    value: dict[str, Any] = checks.manifest(engine)["live_surveys"]
    return value


def _live_invitations(engine: Engine) -> list[Any]:
    """Invitations made in the live week: the wave's, and triggered ones created after it."""
    inv, s = T["invitations"], T["surveys"]
    planned = REFERENCE_DATE - timedelta(days=WAVE_DAYS_BEFORE_NOW)
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(inv, s.c.code.label("survey_code"))
                .join(s, s.c.id == inv.c.survey_id)
                .where(
                    (inv.c.expires_at > planned + timedelta(days=21))
                    & ((inv.c.wave == f"{planned:%Y-%m}") | (inv.c.wave.is_(None)))
                    & (inv.c.sent_at.is_(None))
                )
                .order_by(inv.c.id)
            )
        )


def test_the_wave_is_planned_and_sent_through_the_gate(live: Engine) -> None:
    wave = _record(live)["waves"][0]
    invitations = [i for i in _live_invitations(live) if i.survey_code == wave["survey"]]
    assert wave["invited"] == len(invitations) > 0
    assert {i.wave for i in invitations} == {wave["wave"]}
    assert all(re.fullmatch(TOKEN, i.token) for i in invitations)
    assert len({i.token for i in invitations}) == len(invitations)
    # No SMTP: nothing was emailed, and every link that was not answered is still valid today.
    assert all(i.sent_at is None and i.send_error is None for i in invitations)
    assert all(i.expires_at > utc_now() for i in invitations)
    assert {"survey_consent", "one_survey_per_90_days"} <= set(wave["held_by_rule"])
    invited = {i.stakeholder_id for i in invitations}
    assert not invited & {s for ids in wave["held"].values() for s in ids}


def test_held_back_stakeholders_were_held_for_the_right_rule(live: Engine) -> None:
    wave = _record(live)["waves"][0]
    planned = REFERENCE_DATE - timedelta(days=WAVE_DAYS_BEFORE_NOW)
    consent, inv, r = T["consents"], T["invitations"], T["responses"]
    with live.connect() as connection:
        decisions = connection.execute(
            select(consent.c.stakeholder_id, consent.c.status)
            .where(
                consent.c.purpose == "survey",
                (consent.c.channel_code == "email") | consent.c.channel_code.is_(None),
                consent.c.recorded_at <= planned,
            )
            .order_by(consent.c.stakeholder_id, consent.c.recorded_at, consent.c.id)
        ).all()
        recently = set(
            connection.execute(
                select(inv.c.stakeholder_id).where(inv.c.sent_at >= planned - timedelta(days=90))
            ).scalars()
        ) | set(
            connection.execute(
                select(r.c.stakeholder_id).where(
                    r.c.started_at >= planned - timedelta(days=90), r.c.started_at <= planned
                )
            ).scalars()
        )
    latest = dict((row.stakeholder_id, row.status) for row in decisions)
    withdrawn = {s for s, status in latest.items() if status == "withdrawn"}
    live_invited = {i.stakeholder_id for i in _live_invitations(live)}
    assert withdrawn and not withdrawn & live_invited  # never invited, by wave or trigger
    held_for_consent = set(wave["held"]["survey_consent"])
    assert held_for_consent and all(latest.get(s) != "granted" for s in held_for_consent)
    held_for_interval = set(wave["held"]["one_survey_per_90_days"])
    assert held_for_interval and held_for_interval <= recently


def test_triggered_invitations_follow_their_contacts(live: Engine) -> None:
    i = T["interactions"]
    triggered = [x for x in _live_invitations(live) if x.survey_code == TRIGGERED_SURVEY]
    assert len(triggered) == _record(live)["triggered"] > 0
    with live.connect() as connection:
        contacts = {
            row.id: row
            for row in connection.execute(
                select(i.c.id, i.c.stakeholder_id, i.c.occurred_at).where(
                    i.c.id.in_([x.trigger_interaction_id for x in triggered])
                )
            )
        }
    for invitation in triggered:
        contact = contacts[invitation.trigger_interaction_id]
        assert contact.stakeholder_id == invitation.stakeholder_id
        created = invitation.expires_at - timedelta(days=21)
        assert timedelta(days=1) <= created - contact.occurred_at < timedelta(days=2)
        assert created <= REFERENCE_DATE


def test_answers_are_stored_as_real_submissions(live: Engine) -> None:
    r, a, q, fb, s = T["responses"], T["answers"], T["questions"], T["feedback_items"], T["surveys"]
    invitations = {x.id: x for x in _live_invitations(live)}
    with live.connect() as connection:
        responses = [
            row
            for row in connection.execute(
                select(r, s.c.version.label("current_version")).join(s, s.c.id == r.c.survey_id)
            )
            if row.invitation_id in invitations
        ]
        texts = connection.execute(
            select(a.c.id, a.c.response_id, a.c.value_text)
            .join(q, q.c.id == a.c.question_id)
            .where(q.c.question_type == "text", a.c.response_id.in_([x.id for x in responses]))
        ).all()
        items = {
            row.answer_id: row
            for row in connection.execute(
                select(fb).where(fb.c.answer_id.in_([t.id for t in texts]))
            )
        }
    record = _record(live)["responses"]
    statuses = [x.status for x in responses]
    assert statuses.count("complete") == record["complete"] > 0
    assert statuses.count("partial") == record["partial"] > 0
    for response in responses:
        invitation = invitations[response.invitation_id]
        assert response.survey_version == response.current_version
        assert response.stakeholder_id == invitation.stakeholder_id
        assert response.channel_code == invitation.channel_code == "email"
        assert response.language == "en"  # the demo's surveys are in English only
        assert invitation.opened_at == response.started_at <= REFERENCE_DATE
        expected = "completed" if response.status == "complete" else "started"
        assert invitation.status == expected
        if response.status == "complete":
            assert (
                response.started_at < response.submitted_at <= REFERENCE_DATE + timedelta(hours=1)
            )
    assert texts and len(texts) == _record(live)["comments"]
    for answer in texts:
        item = items[answer.id]
        assert item.source_kind == "survey_comment" and item.text == answer.value_text
        assert item.response_id == answer.response_id and item.language == "en"
        assert item.channel_code == "email"


def test_an_open_link_answers_200_and_a_finished_one_410(live: Engine) -> None:
    invitations = _live_invitations(live)
    pending = next(x for x in invitations if x.status == "pending" and x.wave is not None)
    started = next(x for x in invitations if x.status == "started")
    finished = next(x for x in invitations if x.status == "completed")
    app = create_app(sessionmaker_=sessionmaker(bind=live, expire_on_commit=False))
    with TestClient(app) as client:
        page = client.get(f"/s/{pending.token}")
        resumed = client.get(f"/s/{started.token}")
        done = client.get(f"/s/{finished.token}")
    assert page.status_code == 200 and "Meridel" in page.text
    assert resumed.status_code == 200
    assert done.status_code == 409  # "you have already answered"


def test_the_manifest_counts_the_live_rows(live: Engine) -> None:
    counts = checks.manifest(live)["counts"]
    with live.connect() as connection:
        for name in ("invitations", "responses", "answers", "feedback_items"):
            total = connection.execute(select(func.count()).select_from(T[name])).scalar_one()
            assert counts[name] == total


def test_the_summary_says_who_was_invited_held_back_and_answered(live: Engine) -> None:
    record = _record(live)
    wave = record["waves"][0]
    held = {s for ids in wave["held"].values() for s in ids}
    lines = SUMMARIES[str(live.url)].lines()
    assert lines[0].startswith(
        f"{wave['survey']} wave {wave['wave']}, sent {wave['planned_at'][:10]}: "
        f"invited {wave['invited']:,}, held back {len(held):,} ("
    )
    for rule, count in wave["held_by_rule"].items():
        assert f"{rule} {count:,}" in lines[0]
    assert f"invited {record['triggered']:,}," in lines[1]
    answered = record["responses"]["complete"] + record["responses"]["partial"]
    assert lines[2].startswith(f"responded {answered:,} (complete ")
    assert f"links still open at /s/{{token}} {record['unanswered']:,}" in lines[2]
    assert lines[3] == "not emailed: CPXM_SMTP_HOST is not set"


def test_the_same_seed_gives_the_same_live_week_on_both_engines(
    _sqlite_live: Engine, _postgresql_live: Engine
) -> None:
    assert DIGESTS[str(_sqlite_live.url)] == DIGESTS[str(_postgresql_live.url)]


def test_with_smtp_configured_the_demo_emails_its_live_invitations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    upgrade_database(engine)
    with smtp_server() as (inbox, port):
        monkeypatch.setenv("CPXM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("CPXM_SMTP_PORT", str(port))
        summary = generate_demo(engine, scale=0.05, seed=SEED)
    tokens = [re.search(rf"/s/({TOKEN})\b", _text(message)) for message in inbox.messages]
    emailed = {token.group(1) for token in tokens if token}
    inv = T["invitations"]
    with engine.connect() as connection:
        rows = connection.execute(select(inv.c.token, inv.c.sent_at, inv.c.status)).all()
    record = checks.manifest(engine)["live_surveys"]
    engine.dispose()
    live = summary.live
    assert live is not None and live.email_error is None and live.email_failures == 0
    assert live.emailed == record["emailed"] == len(inbox.messages) == len(emailed) > 0
    # Only the live week's invitations were emailed, each one once, and marked sent.
    by_token = {row.token: row for row in rows}
    assert all(by_token[t].sent_at is not None and by_token[t].status != "pending" for t in emailed)
    wave = record["waves"][0]
    assert live.emailed == wave["invited"] + record["triggered"]
    assert f"emailed {live.emailed:,}, not emailed 0" in live.lines()


def _text(message: Message) -> str:
    """A message's text parts, decoded from their transfer encoding."""
    parts = [part.get_payload(decode=True) for part in message.walk()]
    return "\n".join(part.decode() for part in parts if isinstance(part, bytes))
