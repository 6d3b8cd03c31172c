"""Train the learned heads in src/cpxm/text/learned_heads.npz (see cpxm.text.learned).

    uv run python benchmarks/train_text_heads.py          # train, print cross-validated figures
    uv run python benchmarks/train_text_heads.py --check  # figures only, the file is left alone

Training data, all of it allowed: the evaluation set's ``dev`` rows (tests/data/feedback_eval.csv),
the sentences written for CPXM in benchmarks/data/safety_sentences.csv, and the ``dev`` half of
the 400 Drugs.com dev ids (benchmarks/drugscom.py). The ``heldout`` half of those ids and the
evaluation set's ``test`` rows are never read here; benchmarks/safety_eval.py scores them.

The event head learns from whole reviews labelled "has an AE" or not, without knowing which
sentence carries it: multiple-instance learning. Every flagged sentence of a review without an
AE is a negative; of a review with one, first all flagged sentences, then only those the head
ranks highest. Its threshold is the highest at which, cross-validated, it keeps every one of the
true events the vocabulary found, in the reviews and in the evaluation rows alike. Retrain
after changing the vocabulary: the flagged sentences change with it.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from benchmarks.drugscom import Review, load_reviews
from benchmarks.text_analysis import EVAL_FILE, catalogue, macro_f1
from cpxm.text.embedding import embed
from cpxm.text.learned import HEADS_FILE, Heads, sentiment_features
from cpxm.text.safety import detect_safety
from cpxm.text.sentiment import analyse_sentiment, vader_compound

SENTENCES_FILE = Path(__file__).resolve().parent / "data" / "safety_sentences.csv"
# Of the true events the vocabulary finds, the share the event head must keep (recall first).
KEEP_FLOOR = 1.0
EVENT_CS = (0.3, 1.0, 3.0, 10.0)
SENTIMENT_CS = (0.1, 0.3, 1.0, 3.0)
THRESHOLDS = [round(x * 0.025, 3) for x in range(1, 30)]
Vector = npt.NDArray[np.float32]


class Bag:
    """One text: its label and its flagged sentences, strong (a vocabulary event word) or weak."""

    def __init__(self, label: bool, flagged: Sequence[tuple[str, bool]]) -> None:
        self.label = label
        strong = {sentence for sentence, is_strong in flagged if is_strong}
        self.strong = bool(strong)
        self.sentences = sorted({sentence for sentence, _ in flagged})
        self.weak = [sentence for sentence in self.sentences if sentence not in strong]


@cache
def flagged(text: str, about_treatment: bool = False) -> tuple[tuple[str, bool], ...]:
    result = detect_safety(text, catalogue(), confirm=False, about_treatment=about_treatment)
    return tuple(
        (mention.sentence, mention.subtype != "possible_event")
        for mention in result.reportable
        if mention.kind == "ae"
    )


class Vectors:
    def __init__(self) -> None:
        self.cache: dict[str, Vector] = {}

    def __call__(self, texts: Sequence[str]) -> Vector:
        missing = [text for text in dict.fromkeys(texts) if text not in self.cache]
        for start in range(0, len(missing), 32):
            chunk = missing[start : start + 32]
            for text, vector in zip(chunk, embed(chunk), strict=True):
                self.cache[text] = vector
        return np.array([self.cache[text] for text in texts], dtype=np.float32)


def fit_event(
    bags: list[Bag],
    written: tuple[Vector, npt.NDArray[np.bool_]],
    vectors: Vectors,
    regularisation: float,
) -> LogisticRegression:
    chosen = [list(range(len(bag.sentences))) for bag in bags]
    model = LogisticRegression(C=regularisation, max_iter=3000, class_weight="balanced")
    for _ in range(3):
        features, labels = [written[0]], [written[1]]
        for bag, picks in zip(bags, chosen, strict=True):
            if not bag.sentences:
                continue
            if bag.label and picks:
                features.append(vectors([bag.sentences[i] for i in picks]))
                labels.append(np.ones(len(picks), dtype=bool))
            elif not bag.label:
                features.append(vectors(bag.sentences))
                labels.append(np.zeros(len(bag.sentences), dtype=bool))
        model.fit(np.vstack(features), np.concatenate(labels))
        chosen = []
        for bag in bags:
            if not bag.label or not bag.sentences:
                chosen.append([])
                continue
            scores = model.predict_proba(vectors(bag.sentences))[:, 1]
            chosen.append(sorted({int(scores.argmax()), *np.flatnonzero(scores >= 0.5).tolist()}))
    return model


def bag_score(model: LogisticRegression, bag: Bag, vectors: Vectors) -> float:
    """1 when a vocabulary word already decides; else the best weak sentence's probability."""
    if bag.strong:
        return 1.0
    if not bag.weak:
        return 0.0
    return float(model.predict_proba(vectors(bag.weak))[:, 1].max())


def kept(
    scores: npt.NDArray[np.float64],
    bags: Sequence[Bag],
    sources: Sequence[str],
    source: str,
    threshold: float,
) -> float:
    """Of ``source``'s bags with an event and a flagged sentence, the share scored >= threshold."""
    found = [
        score >= threshold
        for score, bag, where in zip(scores, bags, sources, strict=True)
        if where == source and bag.label and bag.sentences
    ]
    return sum(found) / len(found) if found else 1.0


def rates(scores: Sequence[float], labels: Sequence[bool], threshold: float) -> tuple[float, float]:
    flagged_ = [score >= threshold for score in scores]
    positives = [f for f, label in zip(flagged_, labels, strict=True) if label]
    negatives = [f for f, label in zip(flagged_, labels, strict=True) if not label]
    return sum(positives) / len(positives), 1 - sum(negatives) / len(negatives)


def training_rows() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The evaluation set's dev rows and the sentences written for CPXM (always trained on)."""
    with EVAL_FILE.open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == "dev"]
    with SENTENCES_FILE.open(encoding="utf-8", newline="") as handle:
        written_rows = list(csv.DictReader(handle))
    return rows, written_rows


def train(
    reviews: Sequence[Review],
    vectors: Vectors,
    *,
    say: Callable[[str], None] = print,
    on_page: bool = True,
) -> Heads:
    """Both heads trained on ``reviews`` (plus the evaluation set's dev rows and the written
    sentences), regularisation and threshold chosen by five-fold cross-validation on them.
    ``on_page``: a review is read as on its drug's page (see benchmarks/safety_eval.py)."""
    rows, written_rows = training_rows()
    written = (
        vectors([row["sentence"] for row in written_rows]),
        np.array([row["ae"] == "1" for row in written_rows]),
    )
    # An event on another drug only is not this drug's event, but it is an event: left out.
    review_bags = [
        Bag(review.ae, flagged(review.text, on_page))
        for review in reviews
        if not review.ae_other_drug_only
    ]
    eval_bags = [Bag(row["ae"] == "1", flagged(row["text"])) for row in rows]
    labels = [bag.label for bag in review_bags]

    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    # Threshold and regularisation are chosen together by cross-validation over the reviews and
    # the evaluation rows: the highest threshold at which the head keeps >= KEEP_FLOOR of the
    # true events the vocabulary found, in each source (the head only ever removes weak
    # evidence, so it is judged on what it could lose), then the regularisation whose
    # threshold leaves the most reviews without an AE alone.
    bags = review_bags + eval_bags
    sources = ["review"] * len(review_bags) + ["own"] * len(eval_bags)
    strata = [f"{source}{bag.label}" for source, bag in zip(sources, bags, strict=True)]
    chosen_c, threshold, specificity, recall = EVENT_CS[0], THRESHOLDS[0], -1.0, 0.0
    for c in EVENT_CS:
        scores = np.zeros(len(bags))
        for train_part, test_part in folds.split(np.zeros(len(bags)), strata):
            model = fit_event([bags[i] for i in train_part], written, vectors, c)
            for i in test_part:
                scores[i] = bag_score(model, bags[i], vectors)
        usable = [
            t
            for t in THRESHOLDS
            if all(
                kept(scores, bags, sources, source, t) >= KEEP_FLOOR for source in ("review", "own")
            )
        ]
        at = max(usable) if usable else THRESHOLDS[0]
        review_scores = scores[: len(review_bags)].tolist()
        recall_c, specificity_c = rates(review_scores, labels, at)
        say(
            f"event head C={c}: threshold {at}, cross-validated on the reviews: recall "
            f"{recall_c:.3f}, specificity {specificity_c:.3f}; events kept "
            f"{kept(scores, bags, sources, 'review', at):.3f} (reviews), "
            f"{kept(scores, bags, sources, 'own', at):.3f} (own rows)"
        )
        if specificity_c > specificity:
            chosen_c, threshold, specificity, recall = c, at, specificity_c, recall_c
    say(f"event head: C={chosen_c}, threshold {threshold}, cross-validated on the reviews: ")
    say(f"  recall {recall:.3f}, specificity {specificity:.3f} ({len(review_bags)} reviews)")
    event = fit_event(review_bags + eval_bags, written, vectors, chosen_c)

    english = [row for row in rows if row["language"] == "en"]
    texts = [review.text for review in reviews] + [row["text"] for row in english]
    truth = [review.sentiment for review in reviews] + [row["sentiment"] for row in english]
    features = np.array(
        [
            sentiment_features(
                vectors([text])[0],
                analyse_sentiment(text, "en", learned=False).score,
                vader_compound(text),
            )
            for text in texts
        ]
    )
    best = (-1.0, 1.0)
    for c in SENTIMENT_CS:
        predicted = np.empty(len(texts), dtype=object)
        for train_part, test_part in folds.split(features, truth):
            model = LogisticRegression(C=c, max_iter=3000)
            model.fit(features[train_part], [truth[i] for i in train_part])
            predicted[test_part] = model.predict(features[test_part])
        score = macro_f1(truth, list(predicted))
        say(f"sentiment head C={c}: cross-validated macro-F1 {score:.3f}")
        best = max(best, (score, c))
    sentiment = LogisticRegression(C=best[1], max_iter=3000).fit(features, truth)
    return Heads(
        event_weights=event.coef_[0].astype(np.float64),
        event_bias=float(event.intercept_[0]),
        event_threshold=float(threshold),
        sentiment_weights=sentiment.coef_.astype(np.float64),
        sentiment_bias=sentiment.intercept_.astype(np.float64),
        sentiment_classes=tuple(str(label) for label in sentiment.classes_),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="do not write the heads file")
    arguments = parser.parse_args()
    reviews = [review for review in load_reviews() if review.split == "dev"]
    trained = train(reviews, Vectors())
    if arguments.check:
        return
    np.savez_compressed(
        HEADS_FILE,
        event_weights=trained.event_weights,
        event_bias=np.float64(trained.event_bias),
        event_threshold=np.float64(trained.event_threshold),
        sentiment_weights=trained.sentiment_weights,
        sentiment_bias=trained.sentiment_bias,
        sentiment_classes=np.array(trained.sentiment_classes),
    )
    print(f"wrote {HEADS_FILE}")


if __name__ == "__main__":
    main()
