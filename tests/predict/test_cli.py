"""`cpxm predict fit` and `cpxm predict score` in a subprocess, as a user runs them, on a fresh
demo store: the held-out evaluation beats both baselines and the stored scores are complete."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cpxm.predict.models import PredictionModel, PredictionScore

from .conftest import ScoredStore, run_cli


def test_fit_beats_both_baselines_on_the_held_out_period(scored_store: ScoredStore) -> None:
    fit = scored_store.fit
    assert fit["version"] == 1
    metrics = fit["metrics"]
    cutoffs = metrics["cutoffs"]
    # Time split: every cut-off learnt from or calibrated on lies at least 90 days before the
    # test cut-off, so no label window reaches into the period it is judged on.
    last_seen = date.fromisoformat(cutoffs["test"]) - timedelta(days=90)
    assert set(cutoffs["calibrate"]) <= set(cutoffs["learn"])
    assert all(date.fromisoformat(day) <= last_seen for day in cutoffs["learn"])
    for baseline in ("last_score", "silent_rule"):
        assert metrics["model"]["auc"] > metrics[baseline]["auc"]
        margin = metrics["margins"][baseline]["auc"]
        assert margin["low"] > 0, (baseline, margin)
    assert metrics["positives"] > 0 and metrics["people"] > 200
    assert len(metrics["calibration"]) == 10


def test_fit_names_the_planted_drivers(scored_store: ScoredStore) -> None:
    coefficients = scored_store.fit["metrics"]["coefficients"]
    # The demo plants late inquiry answers and ping-pong before people drift away.
    assert coefficients["late_answers_180"] > 0
    assert coefficients["ping_pong_90"] > 0
    assert coefficients["contact_trend"] < 0  # a falling contact rate raises the risk


def test_score_stores_one_ranked_risk_per_person(scored_store: ScoredStore) -> None:
    assert "model v1: scored" in scored_store.score_output
    with Session(scored_store.engine) as session:
        model = session.scalars(select(PredictionModel)).one()
        assert model.parameters["kind"] == "logistic_regression+isotonic"  # calibrated
        count, low, high, ranks = session.execute(
            select(
                func.count(),
                func.min(PredictionScore.risk),
                func.max(PredictionScore.risk),
                func.count(func.distinct(PredictionScore.rank)),
            ).where(PredictionScore.model_id == model.id)
        ).one()
        assert count > 200 and ranks == count
        assert 0.0 <= low < high <= 1.0
        top = session.scalars(select(PredictionScore).where(PredictionScore.rank == 1)).one()
        assert top.risk == high
        assert top.reasons["reasons"], "the riskiest person has at least one reason"


def test_scoring_again_replaces_the_same_days_scores(scored_store: ScoredStore) -> None:
    with Session(scored_store.engine) as session:
        before = session.scalar(select(func.count()).select_from(PredictionScore))
    again = run_cli(scored_store.url, "predict", "score")
    assert again.returncode == 0, again.stderr
    with Session(scored_store.engine) as session:
        assert session.scalar(select(func.count()).select_from(PredictionScore)) == before


def test_an_empty_store_fails_with_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert run_cli(url, "init").returncode == 0
    fit = run_cli(url, "predict", "fit")
    assert fit.returncode == 1
    assert "no interactions" in fit.stderr + fit.stdout
    score = run_cli(url, "predict", "score")
    assert score.returncode == 1
    assert "cpxm predict fit" in score.stderr + score.stdout
