"""Statistics on reduced results: intervals, tests, multiple-comparison corrections, importance.

Everything here takes sufficient statistics (counts, sums, sums of squares) or small matrices the
database has already reduced, never raw rows of the store.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Moments:
    """Sufficient statistics of one group of answers on one scale."""

    n: int
    total: float  # sum of values
    total_squares: float  # sum of squared values
    promoters: int = 0  # NPS: 9-10
    detractors: int = 0  # NPS: 0-6
    top_box: int = 0  # CSAT: 4-5

    def __sub__(self, other: Moments) -> Moments:
        return Moments(
            self.n - other.n,
            self.total - other.total,
            self.total_squares - other.total_squares,
            self.promoters - other.promoters,
            self.detractors - other.detractors,
            self.top_box - other.top_box,
        )

    def __add__(self, other: Moments) -> Moments:
        return Moments(
            self.n + other.n,
            self.total + other.total,
            self.total_squares + other.total_squares,
            self.promoters + other.promoters,
            self.detractors + other.detractors,
            self.top_box + other.top_box,
        )

    @property
    def mean(self) -> float:
        return self.total / self.n

    @property
    def variance(self) -> float:
        """Sample variance (n - 1), from the sums; zero for a single answer."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.total_squares - self.total**2 / self.n) / (self.n - 1))


ZERO = Moments(0, 0.0, 0.0)


@dataclass(frozen=True)
class Estimate:
    """A score with its standard error and 95% interval, in the score's reporting unit."""

    value: float
    standard_error: float
    ci_low: float
    ci_high: float


def nps_estimate(moments: Moments) -> Estimate:
    """NPS in points with the variance of the promoter-minus-detractor difference.

    Each answer scores +1, 0 or -1; the variance of their mean is (pP + pD - NPS^2) / n, the
    multinomial variance of a difference of two shares.
    """
    n = moments.n
    share_promoters, share_detractors = moments.promoters / n, moments.detractors / n
    nps = share_promoters - share_detractors
    standard_error = math.sqrt(max(share_promoters + share_detractors - nps**2, 0.0) / n)
    return Estimate(
        100 * nps,
        100 * standard_error,
        max(-100.0, 100 * (nps - Z_95 * standard_error)),
        min(100.0, 100 * (nps + Z_95 * standard_error)),
    )


def share_estimate(successes: int, n: int) -> Estimate:
    """A share in percent with a 95% Wilson interval (sound near 0 and 100 and for small n)."""
    share = successes / n
    denominator = 1 + Z_95**2 / n
    centre = (share + Z_95**2 / (2 * n)) / denominator
    margin = Z_95 * math.sqrt(share * (1 - share) / n + Z_95**2 / (4 * n * n)) / denominator
    return Estimate(
        100 * share, 100 * math.sqrt(share * (1 - share) / n), 100 * (centre - margin),
        100 * (centre + margin),
    )  # fmt: skip


def mean_estimate(moments: Moments) -> Estimate:
    """A mean with a t interval (the normal one for large n)."""
    n = moments.n
    standard_error = math.sqrt(moments.variance / n)
    quantile = float(scipy_stats.t.ppf(0.975, n - 1)) if n > 1 else 0.0
    mean = moments.mean
    return Estimate(
        mean, standard_error, mean - quantile * standard_error, mean + quantile * standard_error
    )


def two_sided_p(z: float) -> float:
    return float(2 * scipy_stats.norm.sf(abs(z)))


def difference_p_value(first: Estimate, second: Estimate) -> float:
    """Two-sided p of a difference between independent estimates (a large-sample z test)."""
    standard_error = math.hypot(first.standard_error, second.standard_error)
    if standard_error == 0:
        return 1.0 if first.value == second.value else 0.0
    return two_sided_p((first.value - second.value) / standard_error)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values: controls the chance of any false flag."""
    m = len(p_values)
    order = sorted(range(m), key=lambda index: p_values[index])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values): controls the false discovery rate."""
    m = len(p_values)
    order = sorted(range(m), key=lambda index: p_values[index], reverse=True)
    adjusted = [0.0] * m
    running = 1.0
    for position, index in enumerate(order):
        rank = m - position
        running = min(running, p_values[index] * m / rank)
        adjusted[index] = min(1.0, running)
    return adjusted


CORRECTIONS = {"holm": holm, "bh": benjamini_hochberg}


def correlation_from_moments(n: int, sums: np.ndarray, cross_products: np.ndarray) -> np.ndarray:
    """The correlation matrix of k variables from n, their sums and the k x k sums of products."""
    means = sums / n
    covariance = (cross_products - n * np.outer(means, means)) / (n - 1)
    scale = np.sqrt(np.clip(np.diag(covariance), 1e-300, None))
    return np.asarray(covariance / np.outer(scale, scale))


def relative_weights(correlation: np.ndarray) -> np.ndarray:
    """Johnson's (2000) relative weights of predictors 0..k-1 for the outcome in the last row.

    The predictors are replaced by their closest orthogonal counterparts (the symmetric square
    root of their correlation matrix); each predictor's weight is its share, through those
    counterparts, of the explained variance. The weights sum to R^2.
    """
    rxx = correlation[:-1, :-1]
    rxy = correlation[:-1, -1]
    eigenvalues, eigenvectors = np.linalg.eigh(rxx)
    eigenvalues = np.clip(eigenvalues, 0.0, None)
    # Lambda = Rxx^(1/2): correlations between the predictors and their orthogonal counterparts.
    loadings = eigenvectors @ np.diag(np.sqrt(eigenvalues)) @ eigenvectors.T
    beta = np.linalg.pinv(loadings) @ rxy
    return np.asarray((loadings**2) @ (beta**2))


def r_squared(correlation: np.ndarray, predictors: Sequence[int]) -> float:
    """R^2 of the outcome (last row) on a subset of the predictors, from correlations."""
    if not predictors:
        return 0.0
    index = list(predictors)
    rxx = correlation[np.ix_(index, index)]
    rxy = correlation[index, -1]
    return float(rxy @ np.linalg.pinv(rxx) @ rxy)


def shapley_r_squared(correlation: np.ndarray) -> np.ndarray:
    """Shapley decomposition of R^2: each predictor's mean gain over every order of entry.

    Exact, by enumerating all 2^k subsets, so only for a handful of predictors; it is the
    independent check of ``relative_weights``.
    """
    k = correlation.shape[0] - 1
    fit = {
        subset: r_squared(correlation, subset)
        for size in range(k + 1)
        for subset in itertools.combinations(range(k), size)
    }
    shares = np.zeros(k)
    for predictor in range(k):
        others = [other for other in range(k) if other != predictor]
        for size in range(k):
            weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
            for subset in itertools.combinations(others, size):
                with_predictor = tuple(sorted((*subset, predictor)))
                shares[predictor] += weight * (fit[with_predictor] - fit[subset])
    return shares


@dataclass(frozen=True)
class Slope:
    """A least-squares slope with its standard error, 95% interval and p-value."""

    slope: float
    intercept: float
    standard_error: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    r_squared: float


def simple_regression(
    n: int, sum_x: float, sum_y: float, sum_xx: float, sum_yy: float, sum_xy: float
) -> Slope | None:
    """y = a + b x by least squares from the six sums the database reduced; None if degenerate."""
    if n < 3:
        return None
    sxx = sum_xx - sum_x**2 / n
    syy = sum_yy - sum_y**2 / n
    sxy = sum_xy - sum_x * sum_y / n
    if sxx <= 0:
        return None
    slope = sxy / sxx
    intercept = (sum_y - slope * sum_x) / n
    residual = max(syy - slope * sxy, 0.0)
    standard_error = math.sqrt(residual / (n - 2) / sxx)
    quantile = float(scipy_stats.t.ppf(0.975, n - 2))
    if standard_error > 0:
        p_value = float(2 * scipy_stats.t.sf(abs(slope / standard_error), n - 2))
    else:
        p_value = 0.0 if slope != 0 else 1.0
    return Slope(
        slope=slope,
        intercept=intercept,
        standard_error=standard_error,
        ci_low=slope - quantile * standard_error,
        ci_high=slope + quantile * standard_error,
        p_value=p_value,
        n=n,
        r_squared=(sxy**2 / (sxx * syy)) if syy > 0 else 0.0,
    )


def least_squares(design: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and their standard errors (classical OLS) for ``design`` with an intercept
    column supplied by the caller."""
    n, k = design.shape
    gram_inverse = np.linalg.pinv(design.T @ design)
    coefficients = gram_inverse @ design.T @ outcome
    residuals = outcome - design @ coefficients
    sigma2 = float(residuals @ residuals) / max(n - k, 1)
    return coefficients, np.sqrt(np.clip(np.diag(gram_inverse) * sigma2, 0.0, None))


def ols_from_moments(
    n: int,
    sums_x: np.ndarray,
    cross_xx: np.ndarray,
    sum_y: float,
    cross_xy: np.ndarray,
    sum_yy: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Least squares with an intercept from the sums the database reduced: coefficients
    (intercept first) and their classical standard errors."""
    k = len(sums_x)
    gram = np.empty((k + 1, k + 1))
    gram[0, 0] = n
    gram[0, 1:] = gram[1:, 0] = sums_x
    gram[1:, 1:] = cross_xx
    moment = np.concatenate([[sum_y], cross_xy])
    inverse = np.linalg.pinv(gram)
    coefficients = inverse @ moment
    residual = max(sum_yy - float(coefficients @ moment), 0.0)
    sigma2 = residual / max(n - k - 1, 1)
    return coefficients, np.sqrt(np.clip(np.diag(inverse) * sigma2, 0.0, None))
