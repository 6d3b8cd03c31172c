"""Safety detection and sentiment on real patient reviews and on CPXM's own evaluation set.

    uv run python benchmarks/safety_eval.py

Real reviews: the 400 Drugs.com dev ids (benchmarks/drugscom.py), split half and half (fixed
seed, stratified) into ``dev`` (trained and tuned on) and ``heldout`` (only ever scored here).
Figures per part and for all 400: AE recall and specificity (reviews without an AE on the
reviewed drug left alone), lack-of-efficacy recall, sentiment macro-F1 against plain VADER.
Each AE figure is given for the vocabulary alone and with the learned check
(cpxm.text.learned). Own set: tests/data/feedback_eval.csv, dev and test rows.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence

from benchmarks.drugscom import Review, load_reviews
from benchmarks.text_analysis import EVAL_FILE, catalogue, macro_f1, vader_label
from cpxm.text.safety import SafetyResult, detect_safety
from cpxm.text.sentiment import analyse_sentiment

Detector = Callable[[str], SafetyResult]


def ratio(hits: int, total: int) -> str:
    return f"{hits / total:.3f} ({hits}/{total})" if total else "-"


def review_figures(reviews: Sequence[Review], detector: Detector) -> dict[str, str]:
    results = [detector(review.text) for review in reviews]
    ae = ["ae" in result.kinds for result in results]
    loe = [any(m.subtype == "lack_of_efficacy" for m in result.reportable) for result in results]
    positives = [flag for flag, review in zip(ae, reviews, strict=True) if review.ae]
    negatives = [not flag for flag, review in zip(ae, reviews, strict=True) if not review.ae]
    efficacy = [flag for flag, review in zip(loe, reviews, strict=True) if review.lack_of_efficacy]
    return {
        "AE recall": ratio(sum(positives), len(positives)),
        "AE specificity": ratio(sum(negatives), len(negatives)),
        "LoE recall": ratio(sum(efficacy), len(efficacy)),
    }


def sentiment_figures(texts: Sequence[str], truth: Sequence[str]) -> dict[str, str]:
    ours = [analyse_sentiment(text, "en").label for text in texts]
    plain = [vader_label(text) for text in texts]
    return {
        "sentiment macro-F1": f"{macro_f1(truth, ours):.3f}",
        "plain VADER macro-F1": f"{macro_f1(truth, plain):.3f}",
    }


def table(title: str, columns: dict[str, dict[str, str]]) -> None:
    print(title)
    names = list(next(iter(columns.values())))
    print(f"  {'':<32}" + "".join(f"{column:>20}" for column in columns))
    for name in names:
        print(f"  {name:<32}" + "".join(f"{columns[c][name]:>20}" for c in columns))


def main() -> None:
    products = catalogue()

    def vocabulary(text: str) -> SafetyResult:
        return detect_safety(text, products, confirm=False)

    def learned(text: str) -> SafetyResult:
        return detect_safety(text, products)

    reviews = load_reviews()
    parts = {
        "dev": [r for r in reviews if r.split == "dev"],
        "heldout": [r for r in reviews if r.split == "heldout"],
        "all 400": reviews,
    }
    columns: dict[str, dict[str, str]] = {}
    for part, chosen in parts.items():
        figures: dict[str, str] = {}
        for name, value in review_figures(chosen, vocabulary).items():
            figures[f"{name} (vocabulary)"] = value
        for name, value in review_figures(chosen, learned).items():
            figures[f"{name} (+ learned)"] = value
        figures.update(sentiment_figures([r.text for r in chosen], [r.sentiment for r in chosen]))
        columns[part] = figures
    table("Drugs.com dev ids (real patient reviews)", columns)

    with EVAL_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    own: dict[str, dict[str, str]] = {}
    for split in ("dev", "test"):
        chosen_rows = [row for row in rows if row["split"] == split]
        results = [learned(row["text"]) for row in chosen_rows]
        flags = ["ae" in result.kinds for result in results]
        truth = [row["ae"] == "1" for row in chosen_rows]
        hits = sum(f and t for f, t in zip(flags, truth, strict=True))
        english = [row for row in chosen_rows if row["language"] == "en"]
        own[split] = {
            "AE recall": ratio(hits, sum(truth)),
            "AE precision": ratio(hits, sum(flags)),
            "AE specificity": ratio(
                sum(not f and not t for f, t in zip(flags, truth, strict=True)),
                len(truth) - sum(truth),
            ),
            **sentiment_figures([r["text"] for r in english], [r["sentiment"] for r in english]),
        }
    table("CPXM evaluation set (tests/data/feedback_eval.csv; sentiment on English rows)", own)


if __name__ == "__main__":
    main()
