"""Next best action on the scored demo store: one team, the asked-for channel, a date after the
hold-back window; accepted, a routed case with its SLA; and the outreach simulation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cpxm.app import create_app
from cpxm.auth.service import create_api_token, create_user
from cpxm.cases.models import Case
from cpxm.db import make_engine
from cpxm.interactions.models import Interaction
from cpxm.predict.models import OutreachAction
from cpxm.predict.outreach import HOLD_BACK_DAYS, accept_action, propose_actions, record_outcome
from cpxm.predict.simulate import simulate_outreach
from cpxm.stakeholders.models import ChannelPreference
from tests.conftest import bearer_headers

from .conftest import ScoredStore, copy_store


@pytest.fixture
def session(scored_store: ScoredStore) -> Iterator[Session]:
    with Session(scored_store.engine) as opened:
        yield opened
        opened.rollback()


def test_each_person_at_risk_gets_one_action_from_one_team(session: Session) -> None:
    proposal = propose_actions(session, share=0.05)
    assert proposal.proposed > 5
    actions = list(session.scalars(select(OutreachAction)))
    assert len({a.stakeholder_id for a in actions}) == len(actions)  # one each
    for action in actions:
        assert action.team_id is not None, "the demo's RACI matrix routes every HCP"
        asked = list(
            session.scalars(
                select(ChannelPreference.channel_code).where(
                    ChannelPreference.stakeholder_id == action.stakeholder_id
                )
            )
        )
        if asked:
            assert action.channel_code in asked
        last = session.scalar(
            select(func.max(Interaction.occurred_at)).where(
                Interaction.stakeholder_id == action.stakeholder_id,
                Interaction.direction == "outbound",
            )
        )
        if last is not None:
            assert action.not_before >= last + timedelta(days=HOLD_BACK_DAYS) - timedelta(seconds=1)
    # Proposing again adds nothing for people whose action is still open.
    again = propose_actions(session, share=0.05)
    assert again.proposed == 0 and again.skipped_open == proposal.proposed


def test_an_accepted_action_becomes_a_routed_case_with_its_sla(session: Session) -> None:
    propose_actions(session, share=0.05)
    action = session.scalars(
        select(OutreachAction).where(OutreachAction.medical.is_(False)).limit(1)
    ).one()
    accept_action(session, action=action, actor_user_id=None)
    case = session.get(Case, action.case_id)
    assert case is not None
    assert case.case_type == "proactive_outreach"
    assert case.stakeholder_id == action.stakeholder_id
    assert case.team_id is not None and case.due_at is not None
    assert case.sla_business_hours == 40
    record_outcome(session, action=action, outcome="reached_improved")
    assert action.status == "done" and action.outcome == "reached_improved"


def test_commercial_roles_never_see_actions_drawn_from_medical_inquiries(
    scored_store: ScoredStore, tmp_path: Path
) -> None:
    # A copy of the store: this test commits.
    engine = make_engine(copy_store(scored_store, tmp_path))
    maker = sessionmaker(bind=engine)
    with maker() as writer:
        propose_actions(writer, share=0.2)
        writer.commit()
    with maker() as reader:
        medical_team = reader.scalar(
            select(OutreachAction.team_id).where(OutreachAction.medical.is_(True)).limit(1)
        )
    assert medical_team is not None, "the demo's RACI matrix routes inquiries to a team"
    app = create_app(engine=engine)
    with (
        TestClient(app, headers=bearer_headers(maker, "commercial")) as commercial,
        TestClient(app, headers=bearer_headers(maker, "medical")) as medical,
        TestClient(app, headers=_member_headers(maker, "medical", medical_team)) as informer,
    ):
        seen = commercial.get("/api/v1/predictions/actions", params={"limit": 1000}).json()
        medical_seen = medical.get("/api/v1/predictions/actions", params={"limit": 1000})
        assert medical_seen.status_code == 200
        assert medical_seen.json()["total"] > seen["total"] > 0
        commercial_ids = {item["id"] for item in seen["items"]}
        hidden = [
            item["id"] for item in medical_seen.json()["items"] if item["id"] not in commercial_ids
        ]
        refused = commercial.post(f"/api/v1/predictions/actions/{hidden[0]}/accept")
        assert refused.status_code == 404
        # A medical user outside the owning team sees it and may not decide it.
        not_theirs = medical.post(f"/api/v1/predictions/actions/{hidden[0]}/accept")
        assert not_theirs.status_code == 403, not_theirs.text
        accepted = informer.post(f"/api/v1/predictions/actions/{hidden[0]}/accept")
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "accepted" and accepted.json()["case_id"]
    engine.dispose()


def _member_headers(maker: sessionmaker[Session], role: str, team_id: int) -> dict[str, str]:
    """Sign in as a new user of ``role`` working in team ``team_id``."""
    with maker() as writer:
        user = create_user(
            writer, email=f"{role}-{team_id}@outreach.example", role=role, team_id=team_id
        )
        issued = create_api_token(writer, user=user, name="tests")
        writer.commit()
    return {"Authorization": f"Bearer {issued.token}"}


def test_the_simulation_reaches_more_drifters_by_risk_than_at_random(session: Session) -> None:
    result = simulate_outreach(session, rounds=100)
    by_policy = {row.policy: row for row in result.results}
    assert set(by_policy) == {"top_risk", "random", "perfect_foresight", "no_action"}
    nothing = by_policy["no_action"]
    assert nothing.reached == 0 and nothing.gain.mean == 0 and nothing.prevented.high == 0
    top, foresight = by_policy["top_risk"], by_policy["perfect_foresight"]
    assert top.reached == by_policy["random"].reached > 0
    assert top.drifters_reached >= by_policy["random"].drifters_reached
    # Perfect foresight reaches only drifters it can reach in time: the ceiling of any policy.
    assert foresight.drifters_reached == foresight.reached <= result.drifting
    assert foresight.prevented.mean >= top.prevented.mean
    for row in result.results:
        assert row.gain.low <= row.gain.mean <= row.gain.high
        assert row.prevented.low <= row.prevented.mean <= row.prevented.high
    assert result.visible <= result.drifting
    assert set(result.drivers) <= {"late_answers", "ping_pong", "poor_service"}
