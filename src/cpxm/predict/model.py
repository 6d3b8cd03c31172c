"""The risk model: a regularised logistic regression on standardised features, calibrated by
isotonic regression on its newest cut-offs (base rates move with survey waves).

Why this model: its contribution for one person is exactly ``coefficient x standardised
value``, so the reasons shown are the model's own arithmetic, not an approximation of it; it
fits in seconds at any scale here; and its parameters are a handful of numbers stored as JSON.
scikit-learn does the fitting (imported only when fitting, so the CLI starts fast); scoring is
numpy arithmetic over the stored parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cpxm.predict.features import FEATURE_NAMES


@dataclass(frozen=True)
class RiskModel:
    features: tuple[str, ...]
    means: np.ndarray
    scales: np.ndarray
    coefficients: np.ndarray
    intercept: float
    calibration_x: np.ndarray  # isotonic thresholds: raw logit -> calibrated probability
    calibration_y: np.ndarray

    def standardised(self, values: np.ndarray) -> np.ndarray:
        result: np.ndarray = (values - self.means) / self.scales
        return result

    def contributions(self, values: np.ndarray) -> np.ndarray:
        """Per person and feature, the feature's share of the logit (against the average)."""
        result: np.ndarray = self.standardised(values) * self.coefficients
        return result

    def logit(self, values: np.ndarray) -> np.ndarray:
        result: np.ndarray = self.contributions(values).sum(axis=1) + self.intercept
        return result

    def risk(self, values: np.ndarray) -> np.ndarray:
        if len(self.calibration_x) == 0:
            raw: np.ndarray = 1.0 / (1.0 + np.exp(-self.logit(values)))
            return raw
        calibrated: np.ndarray = np.interp(
            self.logit(values), self.calibration_x, self.calibration_y
        )
        return calibrated

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "logistic_regression+isotonic",
            "features": list(self.features),
            "means": self.means.tolist(),
            "scales": self.scales.tolist(),
            "coefficients": self.coefficients.tolist(),
            "intercept": self.intercept,
            "calibration_x": self.calibration_x.tolist(),
            "calibration_y": self.calibration_y.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RiskModel:
        return cls(
            tuple(data["features"]),
            np.array(data["means"], float),
            np.array(data["scales"], float),
            np.array(data["coefficients"], float),
            float(data["intercept"]),
            np.array(data["calibration_x"], float),
            np.array(data["calibration_y"], float),
        )


def fit(
    train_x: np.ndarray, train_y: np.ndarray, calibrate_x: np.ndarray, calibrate_y: np.ndarray
) -> RiskModel:
    """Learn on ``train``, then map its logits to observed rates on ``calibrate`` (the newest
    cut-offs: base rates move with survey waves, and the newest rate is the best guess)."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    if len(set(train_y.tolist())) < 2:
        raise ValueError("the training cut-offs hold only one outcome; nothing to learn from")
    means = train_x.mean(axis=0)
    scales = train_x.std(axis=0)
    scales = np.where(scales > 0, scales, 1.0)
    regression = LogisticRegression(C=0.5, max_iter=2000)
    regression.fit((train_x - means) / scales, train_y)
    model = RiskModel(
        FEATURE_NAMES,
        means,
        scales,
        regression.coef_[0].astype(float),
        float(regression.intercept_[0]),
        np.zeros(0),
        np.zeros(0),
    )
    if len(calibrate_y) == 0 or len(set(calibrate_y.tolist())) < 2:
        return model
    isotonic = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    isotonic.fit(model.logit(calibrate_x), calibrate_y)
    return RiskModel(
        model.features,
        model.means,
        model.scales,
        model.coefficients,
        model.intercept,
        np.asarray(isotonic.X_thresholds_, float),
        np.asarray(isotonic.y_thresholds_, float),
    )


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by ranks (ties share their rank): the Mann-Whitney statistic."""
    from scipy.stats import rankdata

    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float(
        (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def precision_at(labels: np.ndarray, scores: np.ndarray, share: float) -> float:
    """Share of positives among the top ``share`` of people by score (ties broken by order)."""
    count = max(1, round(share * len(labels)))
    top = np.argsort(-scores, kind="stable")[:count]
    return float(labels[top].mean())


def calibration_table(labels: np.ndarray, risk: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Predicted against observed, per band of predicted risk (equal-count bands)."""
    order = np.argsort(risk, kind="stable")
    rows = []
    for part in np.array_split(order, bins):
        if len(part) == 0:
            continue
        rows.append(
            {
                "people": len(part),
                "risk_from": float(risk[part].min()),
                "risk_to": float(risk[part].max()),
                "predicted": float(risk[part].mean()),
                "observed": float(labels[part].mean()),
            }
        )
    return rows


def bootstrap_margins(
    labels: np.ndarray,
    model_scores: np.ndarray,
    baselines: dict[str, np.ndarray],
    *,
    rounds: int = 300,
    seed: int = 0,
) -> dict[str, dict[str, dict[str, float]]]:
    """The model's margin over each baseline in ROC AUC and precision at the top 10%, with a
    95% percentile bootstrap interval (people resampled with replacement; the model and the
    baselines are scored on the same resample)."""

    def top_tenth(y: np.ndarray, s: np.ndarray) -> float:
        return precision_at(y, s, 0.10)

    metrics: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
        "auc": roc_auc,
        "precision_at_10": top_tenth,
    }
    rng = np.random.default_rng(seed)
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        sample = rng.integers(0, len(labels), len(labels))
        y = labels[sample]
        for metric, score in metrics.items():
            mine = score(y, model_scores[sample])
            for name, scores in baselines.items():
                samples.setdefault((name, metric), []).append(mine - score(y, scores[sample]))
    result: dict[str, dict[str, dict[str, float]]] = {}
    for name, scores in baselines.items():
        result[name] = {}
        for metric, score in metrics.items():
            finite = np.array([m for m in samples.get((name, metric), []) if np.isfinite(m)])
            low, high = np.percentile(finite, [2.5, 97.5]) if len(finite) else (np.nan, np.nan)
            result[name][metric] = {
                "margin": score(labels, model_scores) - score(labels, scores),
                "low": float(low),
                "high": float(high),
            }
    return result
