"""The statistics behind the analytics, checked against independent computations."""

from __future__ import annotations

import numpy as np
import pytest

from cpxm.analytics import stats


def test_nps_interval_matches_a_bootstrap_of_the_same_answers() -> None:
    rng = np.random.default_rng(7)
    answers = rng.choice(np.arange(11), size=600, p=[0.03] * 5 + [0.07, 0.08, 0.12, 0.18, 0.2, 0.2])
    scores = np.where(answers >= 9, 1, np.where(answers <= 6, -1, 0))
    moments = stats.Moments(
        n=len(answers),
        total=float(answers.sum()),
        total_squares=float((answers**2).sum()),
        promoters=int((answers >= 9).sum()),
        detractors=int((answers <= 6).sum()),
    )

    estimate = stats.nps_estimate(moments)
    resamples = rng.choice(scores, size=(4000, len(scores)), replace=True).mean(axis=1) * 100
    low, high = np.percentile(resamples, [2.5, 97.5])

    assert estimate.value == pytest.approx(scores.mean() * 100)
    assert estimate.ci_low == pytest.approx(low, abs=1.0)
    assert estimate.ci_high == pytest.approx(high, abs=1.0)
    assert estimate.standard_error == pytest.approx(resamples.std(), rel=0.08)


def test_nps_interval_is_clipped_to_the_scale() -> None:
    estimate = stats.nps_estimate(stats.Moments(n=5, total=50, total_squares=500, promoters=5))

    assert (estimate.value, estimate.ci_low, estimate.ci_high) == (100.0, 100.0, 100.0)


def test_wilson_interval_of_a_share() -> None:
    # 8 of 10: the Wilson 95% interval is 49.0% to 94.3% (Wilson 1927; Newcombe 1998, method 3).
    estimate = stats.share_estimate(8, 10)

    assert estimate.value == pytest.approx(80.0)
    assert estimate.ci_low == pytest.approx(49.0, abs=0.1)
    assert estimate.ci_high == pytest.approx(94.3, abs=0.1)


def test_mean_interval_uses_t_quantiles() -> None:
    values = np.array([2.0, 4.0, 4.0, 5.0, 7.0])
    moments = stats.Moments(5, float(values.sum()), float((values**2).sum()))

    estimate = stats.mean_estimate(moments)

    margin = 2.776445 * values.std(ddof=1) / np.sqrt(5)  # t(0.975, 4)
    assert estimate.ci_low == pytest.approx(values.mean() - margin)
    assert estimate.ci_high == pytest.approx(values.mean() + margin)


def test_holm_and_benjamini_hochberg_adjustments() -> None:
    p_values = [0.01, 0.04, 0.03, 0.005]

    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, kept monotone.
    assert stats.holm(p_values) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: sorted times 4/1, 4/2, 4/3, 4/4, then running minimum from the top.
    assert stats.benjamini_hochberg(p_values) == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_a_difference_is_significant_only_when_the_intervals_say_so() -> None:
    high = stats.Estimate(value=40.0, standard_error=4.0, ci_low=32.2, ci_high=47.8)
    close = stats.Estimate(value=35.0, standard_error=4.0, ci_low=27.2, ci_high=42.8)
    far = stats.Estimate(value=10.0, standard_error=4.0, ci_low=2.2, ci_high=17.8)

    assert stats.difference_p_value(high, close) > 0.3
    assert stats.difference_p_value(high, far) < 0.001


def _correlated_data(n: int, weights: list[float], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, 1))
    predictors = 0.6 * shared + 0.8 * rng.normal(size=(n, len(weights)))
    outcome = predictors @ np.array(weights) + rng.normal(size=n)
    return np.column_stack([predictors, outcome])


@pytest.mark.parametrize("weights", [[0.9, 0.4, 0.1], [0.5, 0.5], [1.0, 0.0, 0.3]])
def test_relative_weights_agree_with_a_brute_force_shapley_decomposition(
    weights: list[float],
) -> None:
    data = _correlated_data(4000, weights, seed=len(weights))
    correlation = np.corrcoef(data, rowvar=False)

    relative = stats.relative_weights(correlation)
    shapley = stats.shapley_r_squared(correlation)
    r2 = stats.r_squared(correlation, range(len(weights)))

    assert relative.sum() == pytest.approx(r2, abs=1e-9)
    assert shapley.sum() == pytest.approx(r2, abs=1e-9)
    # Both split the same R^2; for a few correlated predictors they agree to about 0.01.
    assert relative == pytest.approx(shapley, abs=0.012)
    assert list(np.argsort(-relative)) == list(np.argsort(-shapley))


def test_relative_weights_of_uncorrelated_predictors_are_squared_correlations() -> None:
    correlation = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.3], [0.5, 0.3, 1.0]])

    assert stats.relative_weights(correlation) == pytest.approx([0.25, 0.09])


def test_correlation_from_database_sums_matches_numpy() -> None:
    data = _correlated_data(500, [0.5, 0.2], seed=3)
    sums = data.sum(axis=0)
    cross = data.T @ data

    assert stats.correlation_from_moments(len(data), sums, cross) == pytest.approx(
        np.corrcoef(data, rowvar=False)
    )


def test_simple_regression_from_sums_matches_numpy() -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(size=300)
    y = 2.0 + 0.7 * x + rng.normal(scale=0.5, size=300)

    fit = stats.simple_regression(
        300, x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum()
    )

    slope, intercept = np.polyfit(x, y, 1)
    assert fit is not None
    assert fit.slope == pytest.approx(slope)
    assert fit.intercept == pytest.approx(intercept)
    assert fit.ci_low < 0.7 < fit.ci_high
    assert fit.p_value < 1e-10
