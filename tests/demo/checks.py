"""Recompute the demo's planted effects from the store, the way the manifest defines them.

Plain SQLAlchemy Core reads and numpy: the checks share no code with the generator, so a
generator bug cannot hide itself.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from cpxm.schema import metadata

T = metadata.tables


def manifest(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        value = connection.execute(select(T["demo_runs"].c.manifest)).scalar_one()
    assert isinstance(value, dict)
    return value


def _answers(engine: Engine, survey: str) -> dict[int, dict[str, Any]]:
    """Per response: stakeholder, started_at and {question code: number}."""
    r, a, q, s = T["responses"], T["answers"], T["questions"], T["surveys"]
    query = (
        select(r.c.id, r.c.stakeholder_id, r.c.started_at, q.c.code, a.c.value_number)
        .join(a, a.c.response_id == r.c.id)
        .join(q, q.c.id == a.c.question_id)
        .join(s, s.c.id == r.c.survey_id)
        .where(s.c.code == survey, a.c.value_number.is_not(None))
    )
    responses: dict[int, dict[str, Any]] = {}
    with engine.connect() as connection:
        for response_id, stakeholder, started, code, value in connection.execute(query):
            entry = responses.setdefault(
                response_id, {"stakeholder": stakeholder, "started": started, "scores": {}}
            )
            entry["scores"][code] = value
    return responses


def _contacts(engine: Engine, stakeholder_type: str) -> dict[int, list[tuple[Any, ...]]]:
    """Each stakeholder's interactions, in time order."""
    i, st = T["interactions"], T["stakeholders"]
    query = (
        select(
            i.c.stakeholder_id,
            i.c.occurred_at,
            i.c.department_code,
            i.c.direction,
            i.c.interaction_type,
            i.c.outcome,
        )
        .join(st, st.c.id == i.c.stakeholder_id)
        .where(st.c.type == stakeholder_type)
        .order_by(i.c.stakeholder_id, i.c.occurred_at, i.c.id)
    )
    contacts: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    with engine.connect() as connection:
        for row in connection.execute(query):
            contacts[row[0]].append(tuple(row[1:]))
    return contacts


def _between(rows: list[tuple[Any, ...]], start: datetime, end: datetime) -> list[tuple[Any, ...]]:
    times = [row[0] for row in rows]
    return rows[bisect_left(times, start) : bisect_left(times, end)]


def relationship_table(engine: Engine) -> list[dict[str, Any]]:
    """Relationship NPS responses with ping-pong exposure and last-touch quality attached."""
    effects = manifest(engine)["effects"]
    quality = effects["peak_end"]["quality_by_outcome"]
    window = timedelta(days=effects["ping_pong"]["window_days"])
    contacts = _contacts(engine, "hcp")
    rows = []
    for entry in _answers(engine, "hcp_relationship_nps").values():
        if "nps" not in entry["scores"]:
            continue
        history = contacts.get(entry["stakeholder"], [])
        started = entry["started"]
        recent = _between(history, started - window, started)
        departments = {row[1] for row in recent if row[2] == "outbound"}
        before = history[: bisect_left([row[0] for row in history], started)]
        rows.append(
            {
                **entry["scores"],
                "ping_pong": len(departments) >= effects["ping_pong"]["min_departments"],
                "last_quality": quality.get(before[-1][4], 0) if before else 0,
            }
        )
    return rows


def ping_pong_effect(engine: Engine) -> tuple[float, int]:
    rows = relationship_table(engine)
    exposed = [r["nps"] for r in rows if r["ping_pong"]]
    others = [r["nps"] for r in rows if not r["ping_pong"]]
    return float(np.mean(exposed) - np.mean(others)), len(exposed)


def last_touch_effect(engine: Engine) -> float:
    rows = relationship_table(engine)
    good = [r["nps"] for r in rows if r["last_quality"] == 1]
    poor = [r["nps"] for r in rows if r["last_quality"] == -1]
    return float(np.mean(good) - np.mean(poor))


def driver_weights(engine: Engine) -> dict[str, float]:
    """Least-squares weights of the driver ratings on the relationship NPS."""
    drivers = list(manifest(engine)["effects"]["nps_drivers"]["weights"])
    rows = [r for r in relationship_table(engine) if all(d in r for d in drivers)]
    design = np.array(
        [[1.0, r["ping_pong"], r["last_quality"]] + [r[d] for d in drivers] for r in rows]
    )
    target = np.array([r["nps"] for r in rows])
    coefficients = np.linalg.lstsq(design, target, rcond=None)[0]
    return dict(zip(drivers, coefficients[3:].tolist(), strict=True))


def late_answer_rate_ratio(engine: Engine) -> tuple[float, int]:
    """Contacts in the 90 days after a late answer / after an on-time answer (per answer)."""
    effects = manifest(engine)
    spec = effects["effects"]["late_medical_inquiry_disengagement"]
    horizon = datetime.fromisoformat(effects["reference_date"]) - timedelta(
        days=spec["window_days"]
    )
    after: dict[bool, list[int]] = {True: [], False: []}
    for history in _contacts(engine, "hcp").values():
        times = [row[0] for row in history]
        for position, row in enumerate(history):
            if row[3] != "medical_inquiry":
                continue
            answer = next(
                (h for h in history[position + 1 :] if h[3] == "medical_inquiry_response"), None
            )
            if answer is None or answer[0] > horizon:
                continue
            late = (answer[0] - row[0]) > timedelta(days=spec["late_after_days"])
            end = answer[0] + timedelta(days=spec["window_days"])
            after[late].append(bisect_right(times, end) - bisect_right(times, answer[0]))
    return float(np.mean(after[True]) / np.mean(after[False])), len(after[True])


def onboarding_slope(engine: Engine) -> tuple[float, int]:
    """OLS slope of PSP CSAT on days from enrolment to the first onboarding call."""
    contacts = _contacts(engine, "patient")
    days: dict[int, float] = {}
    for stakeholder, history in contacts.items():
        enrolled = next((h[0] for h in history if h[3] == "psp_enrolment"), None)
        called = next((h[0] for h in history if h[3] == "psp_onboarding_call"), None)
        if enrolled and called:
            days[stakeholder] = (called - enrolled).total_seconds() / 86400
    pairs = [
        (days[e["stakeholder"]], e["scores"]["csat"])
        for e in _answers(engine, "psp_experience").values()
        if e["stakeholder"] in days and "csat" in e["scores"]
    ]
    x = np.array([p[0] for p in pairs])
    y = np.array([p[1] for p in pairs])
    return float(np.polyfit(x, y, 1)[0]), len(pairs)


def silent_detractor_drop(engine: Engine) -> tuple[float, float, int]:
    """Contacts per day after/before each silent detractor's change date, vs other HCPs."""
    info = manifest(engine)
    silent = {
        int(k): datetime.fromisoformat(v)
        for k, v in info["effects"]["silent_detractors"]["change_dates"].items()
    }
    start = datetime.fromisoformat(info["history_start"])
    end = datetime.fromisoformat(info["reference_date"])
    mid = start + (end - start) * 0.6
    ratios: dict[bool, list[float]] = {True: [], False: []}
    for stakeholder, history in _contacts(engine, "hcp").items():
        change = silent.get(stakeholder, mid)
        times = [row[0] for row in history]
        before = bisect_left(times, change) / max((change - start).days, 1)
        after = (len(times) - bisect_left(times, change)) / max((end - change).days, 1)
        if before > 0:
            ratios[stakeholder in silent].append(after / before)
    return float(np.mean(ratios[True])), float(np.mean(ratios[False])), len(ratios[True])
