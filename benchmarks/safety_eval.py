"""Safety detection and sentiment on real patient reviews and on CPXM's own evaluation set.

    uv run python benchmarks/safety_eval.py              # fixed split, then 5-fold over the 400
    uv run python benchmarks/safety_eval.py --folds 0    # fixed split only (about a minute)

Real reviews: the 400 Drugs.com dev ids (benchmarks/drugscom.py), split half and half (fixed
seed, stratified) into ``dev`` (trained and tuned on) and ``heldout`` (only ever scored here).
Figures per part and for all 400: AE recall and specificity (reviews without an AE on the
reviewed drug left alone), lack-of-efficacy recall, sentiment macro-F1 against plain VADER.
Each AE figure is given for the vocabulary alone and with the learned check
(cpxm.text.learned). Own set: tests/data/feedback_eval.csv, dev and test rows.

Then k-fold cross-validation over all 400 (stratified like the split): each fold is scored
with heads trained from scratch, by benchmarks/train_text_heads.py's own procedure, on the
other folds only; the figures pool the folds' predictions. More stable than one split of ~200
for the learned heads. The vocabulary is the same in every fold, and it was written from the
``dev`` half, so its figures here are optimistic where a fold holds dev reviews.

Each review is read as what it is, a review on its drug's page (``about_treatment``, as
``cpxm analyze --input --product-column drug`` reads it); ``--text-alone`` reads the bare text,
as if its source said nothing of a medicine (the figures before issue 18's session 12).
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Callable, Sequence

from sklearn.model_selection import StratifiedKFold

from benchmarks.drugscom import SPLIT_SEED, Review, load_reviews
from benchmarks.text_analysis import EVAL_FILE, catalogue, macro_f1, vader_label
from benchmarks.train_text_heads import Vectors, train
from cpxm.text.safety import SafetyResult, confirm_weak_events, detect_safety
from cpxm.text.sentiment import analyse_sentiment, analyse_sentiments

Detector = Callable[[str], SafetyResult]


def ratio(hits: int, total: int) -> str:
    return f"{hits / total:.3f} ({hits}/{total})" if total else "-"


def review_figures(reviews: Sequence[Review], detector: Detector) -> dict[str, str]:
    return result_figures(reviews, [detector(review.text) for review in reviews])


def result_figures(reviews: Sequence[Review], results: Sequence[SafetyResult]) -> dict[str, str]:
    ae = ["ae" in result.kinds for result in results]
    loe = [any(m.subtype == "lack_of_efficacy" for m in result.reportable) for result in results]
    positives = [flag for flag, review in zip(ae, reviews, strict=True) if review.ae]
    negatives = [not flag for flag, review in zip(ae, reviews, strict=True) if not review.ae]
    efficacy = [flag for flag, review in zip(loe, reviews, strict=True) if review.lack_of_efficacy]
    no_efficacy_issue = [
        not flag for flag, review in zip(loe, reviews, strict=True) if not review.lack_of_efficacy
    ]
    return {
        "AE recall": ratio(sum(positives), len(positives)),
        "AE specificity": ratio(sum(negatives), len(negatives)),
        "LoE recall": ratio(sum(efficacy), len(efficacy)),
        "LoE specificity": ratio(sum(no_efficacy_issue), len(no_efficacy_issue)),
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


def cross_validated(reviews: Sequence[Review], folds: int, *, on_page: bool) -> None:
    """Pooled figures of ``folds``-fold cross-validation, heads retrained without each fold."""
    products = catalogue()
    vectors = Vectors()
    strata = [f"{r.ae}{r.ae_other_drug_only}{r.lack_of_efficacy}" for r in reviews]
    splitter = StratifiedKFold(folds, shuffle=True, random_state=SPLIT_SEED)
    vocabulary = [
        detect_safety(review.text, products, confirm=False, about_treatment=on_page)
        for review in reviews
    ]
    learned: list[SafetyResult | None] = [None] * len(reviews)
    ours: list[str] = [""] * len(reviews)
    for fold, (train_part, test_part) in enumerate(splitter.split(reviews, strata), start=1):
        trained = train(
            [reviews[i] for i in train_part], vectors, say=lambda _: None, on_page=on_page
        )
        confirmed = confirm_weak_events([vocabulary[i] for i in test_part], trained)
        labels = analyse_sentiments(
            [reviews[i].text for i in test_part], ["en"] * len(test_part), trained=trained
        )
        for i, result, sentiment in zip(test_part, confirmed, labels, strict=True):
            learned[i], ours[i] = result, sentiment.label
        print(
            f"  fold {fold}: trained on {len(train_part)}, event threshold "
            f"{trained.event_threshold}"
        )
    figures = {f"{k} (vocabulary)": v for k, v in result_figures(reviews, vocabulary).items()}
    complete = [result for result in learned if result is not None]
    figures.update({f"{k} (+ learned)": v for k, v in result_figures(reviews, complete).items()})
    truth = [review.sentiment for review in reviews]
    figures["sentiment macro-F1"] = f"{macro_f1(truth, ours):.3f}"
    figures["plain VADER macro-F1"] = (
        f"{macro_f1(truth, [vader_label(review.text) for review in reviews]):.3f}"
    )
    table(
        f"Drugs.com dev ids, {folds}-fold cross-validation (heads retrained per fold)",
        {"all 400, pooled": figures},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--folds", type=int, default=5, help="k of the k-fold run over the 400 (0: skip it)"
    )
    parser.add_argument(
        "--text-alone",
        action="store_true",
        help="read each review's bare text, not as a review on its drug's page",
    )
    arguments = parser.parse_args()
    products = catalogue()
    on_page = not arguments.text_alone

    def vocabulary(text: str) -> SafetyResult:
        return detect_safety(text, products, confirm=False, about_treatment=on_page)

    def learned(text: str) -> SafetyResult:
        return detect_safety(text, products, about_treatment=on_page)

    def own_row(text: str) -> SafetyResult:
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
    read_as = "bare text" if arguments.text_alone else "each on its drug's page"
    table(f"Drugs.com dev ids (real patient reviews, {read_as})", columns)

    with EVAL_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    own: dict[str, dict[str, str]] = {}
    for split in ("dev", "test"):
        chosen_rows = [row for row in rows if row["split"] == split]
        results = [own_row(row["text"]) for row in chosen_rows]
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
    if arguments.folds:
        cross_validated(reviews, arguments.folds, on_page=on_page)


if __name__ == "__main__":
    main()
