"""The risk model's arithmetic: metrics, calibration, stored parameters and reasons in words."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from cpxm.predict import model as risk_model
from cpxm.predict.features import FEATURE_NAMES
from cpxm.predict.reasons import reasons_for


def _synthetic(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Late answers and ping-pong raise risk; contacts lower it; the rest is noise."""
    x = rng.normal(size=(size, len(FEATURE_NAMES)))
    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    logit = (
        -1.5
        + 1.2 * x[:, index["late_answers_180"]]
        + 0.8 * x[:, index["ping_pong_90"]]
        - 0.6 * x[:, index["contacts_90"]]
    )
    y = (rng.random(size) < 1 / (1 + np.exp(-logit))).astype(int)
    return x, y


def test_auc_by_ranks_matches_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 500)
    scores = rng.integers(0, 6, 500).astype(float) + labels * 0.5
    assert abs(risk_model.roc_auc(labels, scores) - roc_auc_score(labels, scores)) < 1e-12


def test_precision_at_the_top_counts_positives_among_the_highest_scores() -> None:
    labels = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    scores = np.array([9.0, 8.0, 7.0, 1, 1, 1, 1, 1, 1, 0.5])
    assert risk_model.precision_at(labels, scores, 0.2) == 0.5
    assert risk_model.precision_at(labels, scores, 0.3) == 2 / 3


def test_fit_recovers_the_drivers_and_calibrates_to_observed_rates() -> None:
    rng = np.random.default_rng(7)
    train_x, train_y = _synthetic(rng, 6000)
    calibrate_x, calibrate_y = _synthetic(rng, 3000)
    test_x, test_y = _synthetic(rng, 6000)
    fitted = risk_model.fit(train_x, train_y, calibrate_x, calibrate_y)
    coefficients = dict(zip(FEATURE_NAMES, fitted.coefficients, strict=True))
    assert coefficients["late_answers_180"] > coefficients["ping_pong_90"] > 0.3
    assert coefficients["contacts_90"] < -0.2
    noise = [
        abs(v)
        for k, v in coefficients.items()
        if k not in {"late_answers_180", "ping_pong_90", "contacts_90"}
    ]
    assert max(noise) < 0.15
    risk = fitted.risk(test_x)
    assert risk.min() >= 0.0 and risk.max() <= 1.0
    for band in risk_model.calibration_table(test_y, risk, bins=5):
        assert abs(band["predicted"] - band["observed"]) < 0.06
    assert risk_model.roc_auc(test_y, risk) > 0.75


def test_a_stored_model_scores_exactly_as_the_fitted_one() -> None:
    rng = np.random.default_rng(1)
    x, y = _synthetic(rng, 2000)
    fitted = risk_model.fit(x[:1000], y[:1000], x[1000:], y[1000:])
    restored = risk_model.RiskModel.from_json(fitted.to_json())
    assert np.array_equal(restored.risk(x), fitted.risk(x))
    # Contributions are the logit's parts: they add up to it with the intercept.
    assert np.allclose(fitted.contributions(x).sum(axis=1) + fitted.intercept, fitted.logit(x))


def test_the_margin_interval_covers_the_point_and_excludes_zero_for_a_real_gain() -> None:
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 2000)
    good = labels + rng.normal(0, 0.8, 2000)
    poor = labels + rng.normal(0, 3.0, 2000)
    margins = risk_model.bootstrap_margins(labels, good, {"poor": poor}, rounds=200)["poor"]
    auc = margins["auc"]
    assert auc["low"] < auc["margin"] < auc["high"]
    assert auc["low"] > 0


def test_reasons_are_the_largest_positive_contributions_in_words() -> None:
    values = np.zeros(len(FEATURE_NAMES))
    contributions = np.zeros(len(FEATURE_NAMES))
    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    values[index["late_answers_180"]] = 2
    contributions[index["late_answers_180"]] = 0.9
    values[index["ping_pong_90"]] = 1
    contributions[index["ping_pong_90"]] = 0.4
    values[index["contacts_90"]] = np.log1p(30)
    contributions[index["contacts_90"]] = -0.7  # lowers the risk: never a reason
    reasons = reasons_for(FEATURE_NAMES, values, contributions)
    assert [r["feature"] for r in reasons] == ["late_answers_180", "ping_pong_90"]
    assert reasons[0]["text"] == (
        "2 medical inquiries answered more than 10 days late in the last 180 days"
    )
    assert reasons[1]["text"].startswith("1 week in the last 90 days with contacts from 3")
