"""Accuracy and speed of CPXM's text analysis on the labelled evaluation set.

    uv run python benchmarks/text_analysis.py            # figures on the held-out test part
    uv run python benchmarks/text_analysis.py --split dev  # the development part (used to tune)
    uv run python benchmarks/text_analysis.py --tune     # search sentiment thresholds on dev
    uv run python benchmarks/text_analysis.py --errors   # also list every wrong safety call

The set is tests/data/feedback_eval.csv (provenance in tests/data/README.md). Throughput is the
whole analysis (language, sentiment, themes, PII, safety) of every text, repeated, on one core.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Sequence
from pathlib import Path

from cpxm.demo.taxonomy import PRODUCTS
from cpxm.safety.screening import DEFAULT_BATCH as SCREENING_BATCH
from cpxm.text import ProductCatalogue, TextAnalysis, analyse_text, analyse_texts, build_catalogue
from cpxm.text import sentiment as sentiment_module
from cpxm.text.embedding import clear_cache
from cpxm.text.sentiment import analyse_sentiment, vader_compound

EVAL_FILE = Path(__file__).resolve().parent.parent / "tests" / "data" / "feedback_eval.csv"
LABELS = ("positive", "neutral", "negative")


def load(split: str, first_id: int = 0) -> list[dict[str, str]]:
    with EVAL_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        row
        for row in rows
        if (split == "all" or row["split"] == split) and int(row["id"]) >= first_id
    ]


def catalogue() -> ProductCatalogue:
    return build_catalogue(
        (product.code, product.name, product.generic_name) for product in PRODUCTS
    )


def prf(truth: Sequence[bool], predicted: Sequence[bool]) -> tuple[float, float, float, int]:
    true_positive = sum(1 for t, p in zip(truth, predicted, strict=True) if t and p)
    predicted_positive = sum(predicted)
    actual = sum(truth)
    precision = true_positive / predicted_positive if predicted_positive else 0.0
    recall = true_positive / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, actual


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    scores = []
    for label in LABELS:
        scores.append(prf([t == label for t in truth], [p == label for p in predicted])[2])
    return sum(scores) / len(scores)


def vader_label(text: str) -> str:
    # VADER's documented thresholds: compound >= 0.05 positive, <= -0.05 negative.
    score = vader_compound(text)
    return "positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral"


def evaluate(rows: list[dict[str, str]], *, show_errors: bool) -> None:
    products = catalogue()
    analyses = [analyse_text(row["text"], catalogue=products) for row in rows]
    print(f"{len(rows)} texts")
    print(f"{'class':<10}{'precision':>10}{'recall':>8}{'F1':>7}{'support':>9}")
    for kind in ("ae", "pc", "srs"):
        truth = [row[kind] == "1" for row in rows]
        predicted = [kind in analysis.safety.kinds for analysis in analyses]
        precision, recall, f1, support = prf(truth, predicted)
        print(f"{kind:<10}{precision:>10.3f}{recall:>8.3f}{f1:>7.3f}{support:>9}")
        if show_errors:
            for row, t, p, analysis in zip(rows, truth, predicted, analyses, strict=True):
                if t != p:
                    label = "missed" if t else "false alarm"
                    contexts = [(m.subtype, m.term, m.context) for m in analysis.safety.mentions]
                    print(f"   {label:<12}#{row['id']} {row['text']}  {contexts}")
    _subtypes(rows, analyses)
    any_truth = [any(row[kind] == "1" for kind in ("ae", "pc", "srs")) for row in rows]
    any_predicted = [bool(analysis.safety.kinds) for analysis in analyses]
    precision, recall, f1, support = prf(any_truth, any_predicted)
    print(f"{'any':<10}{precision:>10.3f}{recall:>8.3f}{f1:>7.3f}{support:>9}")
    truth_labels = [row["sentiment"] for row in rows]
    ours = [analysis.sentiment.label for analysis in analyses]
    plain = [vader_label(row["text"]) for row in rows]
    print("sentiment (macro-F1 over positive, neutral, negative)")
    print(f"  CPXM  {macro_f1(truth_labels, ours):.3f}")
    print(f"  VADER {macro_f1(truth_labels, plain):.3f}")
    for label in LABELS:
        _, _, f1_ours, n = prf([t == label for t in truth_labels], [p == label for p in ours])
        _, _, f1_plain, _ = prf([t == label for t in truth_labels], [p == label for p in plain])
        print(f"  {label:<9} CPXM F1 {f1_ours:.3f}  VADER F1 {f1_plain:.3f}  (support {n})")
    traps: dict[str, list[bool]] = {}
    for row, analysis in zip(rows, analyses, strict=True):
        truth_any = any(row[kind] == "1" for kind in ("ae", "pc", "srs"))
        traps.setdefault(row["trap"], []).append(truth_any == bool(analysis.safety.kinds))
    print("safety call correct, by trap")
    for trap, outcomes in sorted(traps.items()):
        print(f"  {trap:<15}{sum(outcomes):>4}/{len(outcomes)}")
    print("any safety kind, by trap (context): precision, recall, F1, support")
    for trap in sorted(traps):
        chosen = [i for i, row in enumerate(rows) if row["trap"] == trap]
        precision, recall, f1, support = prf(
            [any_truth[i] for i in chosen], [any_predicted[i] for i in chosen]
        )
        if not support:  # no reportable text with this trap: only false alarms can happen
            alarms = sum(any_predicted[i] for i in chosen)
            print(
                f"  {trap:<15}{'-':>10}{'-':>8}{'-':>7}{support:>5}/{len(chosen)}"
                f"  {alarms} alarm(s)"
            )
            continue
        print(f"  {trap:<15}{precision:>10.3f}{recall:>8.3f}{f1:>7.3f}{support:>5}/{len(chosen)}")


PC_SRS_SUBTYPES = (
    "quality_defect",
    "packaging",
    "counterfeit",
    "pregnancy",
    "breastfeeding",
    "overdose",
    "misuse",
    "medication_error",
    "off_label",
    "lack_of_efficacy",
    "paediatric",
    "elderly",
)


def _subtypes(rows: list[dict[str, str]], analyses: list[TextAnalysis]) -> None:
    # Subtype labels exist on the test half only (tests/data/README.md).
    chosen = [i for i, row in enumerate(rows) if row["split"] == "test"]
    if not chosen:
        return
    print("PC and SRS subtypes (test rows): precision, recall, F1, support")
    for subtype in PC_SRS_SUBTYPES:
        truth = [subtype in rows[i]["subtypes"].split(";") for i in chosen]
        predicted = [
            any(m.subtype == subtype for m in analyses[i].safety.reportable) for i in chosen
        ]
        precision, recall, f1, support = prf(truth, predicted)
        print(f"  {subtype:<18}{precision:>7.3f}{recall:>8.3f}{f1:>7.3f}{support:>5}")


def tune(rows: list[dict[str, str]]) -> None:
    truth = [row["sentiment"] for row in rows]
    scores = [
        analyse_sentiment(row["text"], analyse_text(row["text"]).language).score for row in rows
    ]
    best = (0.0, 0.0, 0.0)
    for positive in [x / 100 for x in range(0, 70, 5)]:
        for negative in [-x / 100 for x in range(0, 70, 5)]:
            predicted = [
                "positive" if s >= positive else "negative" if s <= negative else "neutral"
                for s in scores
            ]
            score = macro_f1(truth, predicted)
            if score > best[0]:
                best = (score, positive, negative)
    print(f"best on dev: macro-F1 {best[0]:.3f} at positive >= {best[1]}, negative <= {best[2]}")
    print(
        f"in use: positive >= {sentiment_module.POSITIVE_THRESHOLD}, "
        f"negative <= {sentiment_module.NEGATIVE_THRESHOLD}"
    )


def throughput(rows: list[dict[str, str]], seconds: float = 5.0) -> None:
    """Texts per CPU-second, one text at a time and in screening's batches.

    The vector cache is emptied before each pass over the texts, so repeating them measures
    the model rather than the cache.
    """
    products = catalogue()
    texts = [row["text"] for row in rows]
    analyse_text(texts[0], catalogue=products)  # load lexicons and the model before timing

    def one_at_a_time() -> None:
        for text in texts:
            analyse_text(text, catalogue=products)

    def batched() -> None:
        for start in range(0, len(texts), SCREENING_BATCH):
            analyse_texts(texts[start : start + SCREENING_BATCH], catalogue=products)

    for name, run in (("one text at a time", one_at_a_time), ("in batches", batched)):
        done = 0
        started = time.perf_counter()
        cpu_started = time.process_time()
        while time.perf_counter() - started < seconds:
            clear_cache()
            run()
            done += len(texts)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        print(
            f"throughput ({name}): {done / cpu:,.0f} texts per CPU-second (one core); "
            f"{done / wall:,.0f} per wall-second; {done:,} texts"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="test")
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--errors", action="store_true")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--first-id", type=int, default=0, help="only rows from this id on (a later batch)"
    )
    arguments = parser.parse_args()
    if arguments.tune:
        tune(load("dev"))
        return
    rows = load(arguments.split, arguments.first_id)
    print(
        f"split: {arguments.split}"
        + (f", rows {arguments.first_id}+" if arguments.first_id else "")
    )
    evaluate(rows, show_errors=arguments.errors)
    throughput(load("all"), arguments.seconds)


if __name__ == "__main__":
    main()
