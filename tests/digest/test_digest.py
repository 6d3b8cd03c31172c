"""The monthly digest: its figures, its renderings (PDF, HTML, e-mail), the command, the page,
and the scheduled mailing through a real SMTP server on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from email.message import Message
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cpxm.access import Principal
from cpxm.access.roles import Role
from cpxm.auth.service import create_team, create_user
from cpxm.digest import mailing, render, service
from cpxm.errors import DomainError
from cpxm.predict.models import PredictionModel, PredictionScore
from cpxm.safety.screening import screen_items
from cpxm.stakeholders.models import Stakeholder
from tests.factories import (
    make_interaction,
    make_question,
    make_response,
    make_stakeholder,
    make_survey,
    make_taxonomy,
)
from tests.pdf import pdf_pages, pdf_text
from tests.safety.helpers import make_feedback
from tests.smtp import Inbox

JUNE = service.month_of("2025-06")
NOW = datetime(2025, 7, 1, 6, 7)


def _store(session: Session) -> None:
    """NPS falls from May to June; six HCPs Medical Affairs saw often went quiet in 2025; one
    adverse event arrived in June."""
    make_taxonomy(session)
    survey = make_survey(session, code="rel_2025", name="Relationship 2025")
    nps = make_question(session, survey=survey)
    people = [make_stakeholder(session, country_code="DE") for _ in range(40)]
    months = ((datetime(2025, 5, 10, 9), (10, 9, 10, 8)), (datetime(2025, 6, 10, 9), (3, 2, 9, 5)))
    for day, scores in months:
        for number, person in enumerate(people):
            make_response(
                session,
                survey=survey,
                stakeholder=person,
                started_at=day + timedelta(minutes=number),
                answers={nps: scores[number % 4]},
            )
    for number in range(6):
        quiet = make_stakeholder(session, display_name=f"Dr Quiet {number}", country_code="DE")
        for week in range(15):
            make_interaction(
                session,
                stakeholder=quiet,
                occurred_at=datetime(2024, 8, 5, 10) + timedelta(days=7 * week),
                department_code="medical_affairs",
            )
    item = make_feedback(
        session, "I got a rash after the Immuny injection.", received_at=datetime(2025, 6, 12, 9)
    )
    screen_items(session, items=[item], now=datetime(2025, 6, 12, 9, 5))


def _principal(session: Session, role: str, team_id: int | None = None) -> Principal:
    user = create_user(session, email=f"{role}@digest.example", role=role, team_id=team_id)
    return Principal(user.id, user.email, user.display_name, Role(role), "session")


def test_digest_reports_the_fall_its_significance_safety_counts_and_who_went_quiet(
    session: Session,
) -> None:
    _store(session)
    leadership = service.audience_of(session, "leadership")
    digest = service.build_digest(session, month=JUNE, audience=leadership, principal=None, now=NOW)
    nps = digest.headlines[0]
    assert nps.metric == "nps" and nps.current is not None and nps.previous is not None
    assert nps.current.n == 40 and nps.previous.n == 40
    assert nps.previous.value == pytest.approx(75.0)  # 30 promoters, 0 detractors of 40
    assert nps.current.value == pytest.approx(-50.0)  # 10 promoters, 30 detractors
    assert nps.current.difference == pytest.approx(-125.0) and nps.current.significant
    low, high = nps.current.ci_low, nps.current.ci_high
    assert low is not None and high is not None and low < -50 < high
    # Every respondent is a German HCP, so those segments moved with everyone.
    moved = {(m.dimension, m.segment) for m in digest.movements if m.metric == "nps"}
    assert ("country", "Germany") in moved
    assert all(m.adjusted_p < 0.05 and m.difference < 0 for m in digest.movements)
    assert digest.safety == {"ae": 1, "pc": 0, "srs": 0}
    (team,) = digest.at_risk
    assert team.team == "Medical Affairs" and team.count == 6
    assert team.people == []  # an unnamed reader gets the count, not the names
    assert digest.maturity_stage in ("crawl", "walk", "run")

    named = service.build_digest(
        session,
        month=JUNE,
        audience=leadership,
        principal=_principal(session, "cx_lead"),
        now=NOW,
    )
    assert sorted(person.name for person in named.at_risk[0].people) == [
        f"Dr Quiet {number}" for number in range(6)
    ]

    # A department's digest: its own people at risk; NPS answers are not about a department.
    medical = service.build_digest(
        session,
        month=JUNE,
        audience=service.audience_of(session, "department:medical_affairs"),
        principal=None,
        now=NOW,
    )
    assert medical.at_risk[0].count == 6 and medical.maturity_stage is None
    sales = service.build_digest(
        session,
        month=JUNE,
        audience=service.audience_of(session, "department:sales"),
        principal=None,
        now=NOW,
    )
    assert sales.at_risk == []


def _scoring(session: Session, people: list[Stakeholder], as_of: datetime, version: int) -> None:
    """Model ``version``'s scoring of ``people``, the first the riskiest."""
    model = PredictionModel(
        version=version,
        created_at=as_of,
        trained_through=as_of - timedelta(days=180),
        test_cutoff=as_of - timedelta(days=90),
        examples=100,
        parameters={},
        metrics={},
        seconds=1.0,
    )
    session.add(model)
    session.flush()
    for rank, person in enumerate(people, 1):
        session.add(
            PredictionScore(
                model_id=model.id,
                stakeholder_id=person.id,
                as_of=as_of,
                scored_at=as_of,
                risk=round(0.9 - rank / 100, 2),
                rank=rank,
                reasons={"reasons": []},
            )
        )
    session.flush()


def test_digest_lists_the_models_top_risk_when_people_are_scored(session: Session) -> None:
    _store(session)
    # 70 scored: the top 10% are seven, a patient first, then six HCPs the sales team sees.
    patient = make_stakeholder(session, type="patient", display_name="Pat Canary")
    risky = [make_stakeholder(session, display_name=f"Dr Risky {n}") for n in range(6)]
    for person in risky:
        make_interaction(
            session, stakeholder=person, occurred_at=datetime(2025, 6, 2), department_code="sales"
        )
    calm = [make_stakeholder(session, display_name=f"Dr Calm {n}") for n in range(63)]
    leadership = service.audience_of(session, "leadership")

    # A scoring made long before the month says nothing of it: the rule, and it says so.
    _scoring(session, [patient, *risky, *calm], datetime(2025, 1, 1), 1)
    old = service.build_digest(session, month=JUNE, audience=leadership, principal=None, now=NOW)
    assert old.at_risk_method.startswith("silent disengagement")
    assert [team.count for team in old.at_risk] == [6]  # the quiet six of Medical Affairs

    _scoring(session, [patient, *risky, *calm], datetime(2025, 7, 1), 2)
    lead = service.build_digest(
        session, month=JUNE, audience=leadership, principal=_principal(session, "cx_lead"), now=NOW
    )
    assert lead.at_risk_method.startswith("predicted risk: the 10% of the 70 people scored")
    (sales,) = [team for team in lead.at_risk if team.team == "Sales"]
    assert sales.count == 6
    assert [person.name for person in sales.people] == [f"Dr Risky {n}" for n in range(6)]
    assert [person.risk for person in sales.people] == [0.88, 0.87, 0.86, 0.85, 0.84, 0.83]
    assert "Dr Quiet 0" not in {p.name for team in lead.at_risk for p in team.people}
    page = render.html(lead, [], inline=True)
    assert "Dr Risky 0 (88%)" in page and "predicted risk: the 10% of the 70 people" in page
    # The patient alone in a team: below the minimum cell size, neither counted nor named.
    assert [(t.team, t.count, t.people) for t in lead.at_risk if t.team != "Sales"] == [
        ("(none)", None, [])
    ]

    # A commercial reader: the patient is neither named nor counted.
    rep = service.build_digest(
        session,
        month=JUNE,
        audience=leadership,
        principal=_principal(session, "commercial"),
        now=NOW,
    )
    assert [team.team for team in rep.at_risk] == ["Sales"]
    assert "Pat Canary" not in {p.name for team in rep.at_risk for p in team.people}
    # An unnamed reader (the scheduled e-mail): counts only.
    anonymous = service.build_digest(
        session, month=JUNE, audience=leadership, principal=None, now=NOW
    )
    assert all(team.people == [] for team in anonymous.at_risk)


def test_month_and_audience_errors_say_what_is_expected(session: Session) -> None:
    make_taxonomy(session)
    with pytest.raises(DomainError, match="expected YYYY-MM such as 2025-06"):
        service.month_of("2025-13")
    with pytest.raises(DomainError, match="no department 'nope'; known: medical_affairs"):
        service.audience_of(session, "department:nope")
    with pytest.raises(DomainError, match="expected leadership, department:CODE"):
        service.audience_of(session, "everyone")
    assert service.audience_of(session, "ta:oncology").name == "Oncology"


def test_pdf_html_and_email_carry_the_same_digest_and_its_charts(session: Session) -> None:
    _store(session)
    digest = service.build_digest(
        session,
        month=JUNE,
        audience=service.audience_of(session, "leadership"),
        principal=None,
        now=NOW,
    )
    charts = render.charts(digest)
    assert [chart.name for chart in charts] == ["nps-trend"]
    assert charts[0].png.startswith(b"\x89PNG")

    pages = pdf_pages(render.pdf(digest, charts))
    text = " ".join(" ".join(pages).split())
    assert "CX digest · Leadership · June 2025" in text
    assert "-50.0" in text and "75.0" in text and "-125.0 significant" in text
    assert "Adverse events 1" in text
    assert "Medical Affairs 6" in text and "Dr Quiet" not in text
    assert all(f"Page {n} of {len(pages)}" in " ".join(p.split()) for n, p in enumerate(pages, 1))

    page_html = render.html(digest, charts, inline=True)
    assert 'src="data:image/png;base64,' in page_html and "cid:" not in page_html

    message = render.email(digest, to="lead@example.com", sender="cx@example.com")
    assert message["Subject"] == "CX digest June 2025: Leadership"
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    assert 'src="cid:nps-trend"' in html_part.get_content()
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert [image["Content-ID"] for image in images] == ["<nps-trend>"]
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None and "NPS" in plain.get_content()


def _images(message: Message) -> list[str]:
    parts = message.walk()
    return [str(part["Content-ID"]) for part in parts if part.get_content_maintype() == "image"]


def _html(message: Message) -> str:
    (html,) = [part for part in message.walk() if part.get_content_type() == "text/html"]
    payload = html.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(html.get_content_charset() or "utf-8")


def test_scheduled_mailing_sends_each_reader_their_digest_once(
    session: Session, smtp: Inbox
) -> None:
    _store(session)
    medical_team = create_team(session, name="Medical DE", department_code="medical_affairs")
    lead = _principal(session, "cx_lead")
    medical = _principal(session, "medical", team_id=medical_team.id)
    create_user(session, email="gone@digest.example", role="cx_lead").is_active = False
    session.flush()

    sent = mailing.send_digests(session, month=mailing.month_before(NOW), now=NOW)
    assert sorted((s.audience, s.email) for s in sent) == [
        ("department:medical_affairs", medical.email),
        ("leadership", lead.email),
    ]
    by_reader = {message["To"]: message for message in smtp.messages}
    assert by_reader[lead.email]["Subject"] == "CX digest June 2025: Leadership"
    assert by_reader[medical.email]["Subject"] == "CX digest June 2025: Medical Affairs"
    assert _images(by_reader[lead.email]) == ["<nps-trend>"]
    # The CX lead may see who went quiet; the digest says so by name.
    assert "Dr Quiet 0" in _html(by_reader[lead.email])

    assert mailing.send_digests(session, month=JUNE, now=NOW) == []  # nothing twice
    assert len(smtp.messages) == 2


def test_digest_command_writes_pdf_and_html_on_a_fresh_store(tmp_path: Path) -> None:
    environment = {**os.environ, "CPXM_DATABASE_URL": f"sqlite:///{tmp_path / 'cpxm.db'}"}
    environment.pop("CPXM_TOKEN", None)

    def cpxm(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cpxm", *arguments],
            env=environment,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    assert cpxm("init").returncode == 0
    done = cpxm("digest", "--month", "2025-06", "--audience", "leadership", "--out", "d.pdf")
    assert done.returncode == 0, done.stderr
    assert "written to d.pdf" in done.stdout
    text = " ".join(pdf_text((tmp_path / "d.pdf").read_bytes()).split())
    assert "CX digest · Leadership · June 2025" in text and "too few answers" in text
    assert "Adverse events 0" in text
    done = cpxm("digest", "--month", "2025-06", "--out", "d.html")
    assert done.returncode == 0, done.stderr
    assert "<h2>Headline scores</h2>" in (tmp_path / "d.html").read_text(encoding="utf-8")

    refused = cpxm("digest", "--month", "2025-13", "--out", "d.pdf")
    assert refused.returncode == 1 and "expected YYYY-MM" in refused.stderr + refused.stdout
    refused = cpxm("digest", "--month", "2025-06", "--audience", "department:x", "--out", "d.pdf")
    assert refused.returncode == 1 and "no department 'x'" in refused.stderr + refused.stdout
    refused = cpxm("digest", "--month", "2025-06", "--out", "d.docx")
    assert refused.returncode == 1 and "a .pdf or .html file" in refused.stderr + refused.stdout


def test_digest_page_and_its_pdf(session: Session, client: TestClient) -> None:
    _store(session)
    session.flush()
    page = client.get("/digest", params={"month": "2025-06", "audience": "leadership"})
    assert page.status_code == 200, page.text
    assert "Headline scores" in page.text and "data:image/png;base64," in page.text
    assert "Dr Quiet 0" in page.text  # the admin may see who went quiet
    download = client.get("/digest.pdf", params={"month": "2025-06"})
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert "CX digest · Leadership · June 2025" in " ".join(pdf_text(download.content).split())
    wrong = client.get("/digest", params={"month": "2025-06", "audience": "department:x"})
    assert wrong.status_code == 400 and "no department" in wrong.text
