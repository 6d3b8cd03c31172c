"""Benchmark: the at-risk model against alternatives on the same time split of one demo store.

    uv run python benchmarks/predict_models.py --database-url sqlite:////tmp/demo1.db

Reads the history once, builds each cut-off's features and labels once (as ``cpxm predict
fit`` does), then fits every candidate on the same learning cut-offs, calibrates it on the same
later cut-offs (or not), and scores the same held-out test cut-off: ROC AUC, precision at the
top 5% and 10%, Brier score, expected calibration error (ten equal groups), the calibration
table's low and high ends, and CPU seconds to fit. Candidates:

- ``logistic+isotonic-3``: the shipped model (isotonic on the three newest past cut-offs);
- ``logistic+sigmoid-3``: the same with Platt scaling instead of isotonic;
- ``logistic+isotonic-all``: calibrated by isotonic over every past cut-off, out of fold
  (each past cut-off's logits from a model that did not learn on it);
- ``logistic-raw``: no calibration step, learnt on every past cut-off;
- ``logistic-all+isotonic-3``: learnt on every past cut-off, then isotonic on the newest three
  (which it also learnt from);
- ``lightgbm+isotonic-3`` and ``lightgbm-raw``: gradient-boosted trees (LightGBM), otherwise
  the same.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from cpxm.db import make_engine
from cpxm.predict import model as risk_model
from cpxm.predict.features import HORIZON_DAYS, history_span, load_history
from cpxm.predict.training import CALIBRATION_CUTOFFS, _Examples, plan_cutoffs


def _ece(y: np.ndarray, p: np.ndarray) -> float:
    table = risk_model.calibration_table(y, p)
    gaps = sum(row["people"] * abs(row["predicted"] - row["observed"]) for row in table)
    return float(gaps) / len(y)


def _lightgbm(x: np.ndarray, y: np.ndarray) -> Any:
    import lightgbm

    booster = lightgbm.LGBMClassifier(
        n_estimators=300,
        learning_rate=0.03,
        num_leaves=15,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        n_jobs=1,
        verbose=-1,
        random_state=0,
    )
    booster.fit(x, y)
    return booster


def _logistic(x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000)).fit(x, y)


def _logit(model: Any, x: np.ndarray) -> np.ndarray:
    p = np.clip(model.predict_proba(x)[:, 1], 1e-6, 1 - 1e-6)
    result: np.ndarray = np.log(p / (1 - p))
    return result


def _isotonic(train: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(train, y)


def _sigmoid(train: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(C=1e6).fit(train.reshape(-1, 1), y)

    class Platt:
        def predict(self, scores: np.ndarray) -> np.ndarray:
            result: np.ndarray = fitted.predict_proba(scores.reshape(-1, 1))[:, 1]
            return result

    return Platt()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument(
        "--origins", type=int, default=1, help="also test at this many earlier cut-offs"
    )
    args = parser.parse_args()
    engine = make_engine(args.database_url)
    with Session(engine) as session:
        cutoffs = plan_cutoffs(session)
        start, stop = history_span(cutoffs, with_labels=True)
        history = load_history(session, start=start, end=stop)
    examples = _Examples(history)
    reports = [compare(examples, cutoffs[origin:]) for origin in range(args.origins)]
    print(json.dumps(reports, indent=1))


def compare(examples: _Examples, cutoffs: list[Any]) -> dict[str, Any]:
    """Every candidate, tested on ``cutoffs[0]`` and learnt from the cut-offs before it."""
    test = cutoffs[0]
    past = [c for c in cutoffs if c <= test - timedelta(days=HORIZON_DAYS)]
    calibration, learn = past[:CALIBRATION_CUTOFFS], past[CALIBRATION_CUTOFFS:]
    learn_x, learn_y = examples.stack(learn)
    cal_x, cal_y = examples.stack(calibration)
    all_x, all_y = examples.stack(past)
    _, test_x, test_y = examples.at(test)
    rates = {c.date().isoformat(): float(examples.at(c)[2].mean()) for c in [*past, test]}

    results: dict[str, Any] = {}

    def record(name: str, risk: np.ndarray, cpu: float) -> None:
        table = risk_model.calibration_table(test_y, risk)
        results[name] = {
            "auc": round(risk_model.roc_auc(test_y, risk), 4),
            "precision_at_5": round(risk_model.precision_at(test_y, risk, 0.05), 4),
            "precision_at_10": round(risk_model.precision_at(test_y, risk, 0.10), 4),
            "brier": round(float(np.mean((risk - test_y) ** 2)), 5),
            "ece": round(_ece(test_y, risk), 4),
            "mean_predicted": round(float(risk.mean()), 4),
            "lowest_group": [round(table[0]["predicted"], 4), round(table[0]["observed"], 4)],
            "highest_group": [round(table[-1]["predicted"], 4), round(table[-1]["observed"], 4)],
            "calibration": [[round(r["predicted"], 3), round(r["observed"], 3)] for r in table],
            "fit_cpu_seconds": round(cpu, 2),
        }

    for family, learner in (("logistic", _logistic), ("lightgbm", _lightgbm)):
        cpu = time.process_time()
        model = learner(learn_x, learn_y)
        base_cpu = time.process_time() - cpu
        for calibrator_name, calibrator in (("isotonic", _isotonic), ("sigmoid", _sigmoid)):
            cpu = time.process_time()
            fitted = calibrator(_logit(model, cal_x), cal_y)
            risk = np.asarray(fitted.predict(_logit(model, test_x)), float)
            # Isotonic steps tie many people: break ties by the raw score, as the product does.
            ranking = risk + 1e-9 * np.tanh(_logit(model, test_x))
            record(f"{family}+{calibrator_name}-3", ranking, base_cpu + time.process_time() - cpu)
        cpu = time.process_time()
        raw = learner(all_x, all_y)
        record(f"{family}-raw", raw.predict_proba(test_x)[:, 1], time.process_time() - cpu)
        # Every past cut-off teaches; the newest three (also learnt from) set the isotonic map.
        cpu = time.process_time()
        fitted = _isotonic(_logit(raw, cal_x), cal_y)
        risk = np.asarray(fitted.predict(_logit(raw, test_x)), float)
        ranking = risk + 1e-9 * np.tanh(_logit(raw, test_x))
        record(f"{family}-all+isotonic-3", ranking, time.process_time() - cpu)
        # Out-of-fold isotonic over every past cut-off: each cut-off's scores from a model
        # learnt on the cut-offs whose labels ended before it began.
        cpu = time.process_time()
        scores, labels = [], []
        for cutoff in past:
            earlier = [c for c in past if c <= cutoff - timedelta(days=HORIZON_DAYS)]
            if len(earlier) < 2:
                continue
            x, y = examples.stack(earlier)
            fold = learner(x, y)
            _, fx, fy = examples.at(cutoff)
            scores.append(_logit(fold, fx))
            labels.append(fy)
        calibrator = _isotonic(np.concatenate(scores), np.concatenate(labels))
        risk = np.asarray(calibrator.predict(_logit(raw, test_x)), float)
        ranking = risk + 1e-9 * np.tanh(_logit(raw, test_x))
        record(f"{family}+isotonic-all", ranking, time.process_time() - cpu)
    return {
        "test_cutoff": test.date().isoformat(),
        "learn": [c.date().isoformat() for c in learn],
        "calibrate": [c.date().isoformat() for c in calibration],
        "positive_rate_by_cutoff": {k: round(v, 4) for k, v in rates.items()},
        "test_people": len(test_y),
        "test_positives": int(test_y.sum()),
        "results": results,
    }


if __name__ == "__main__":
    main()
