"""Learned checks on top of the vocabulary: small logistic heads over MiniLM sentence vectors.

Two heads ship in ``learned_heads.npz`` (trained by ``benchmarks/train_text_heads.py`` on the
evaluation set's dev rows, sentences written for CPXM and the dev half of the Drugs.com dev ids):

- *event*: does this sentence report an adverse event someone had? It confirms the weakest
  evidence the detector has (a body part or an experience phrase with no event word, the
  ``possible_event`` mentions). Below its threshold such a mention opens no case and goes to
  PV's triage list with the reason ``low_confidence``: a person still sees it.
- *sentiment*: positive, neutral or negative for English texts, from the vector plus the
  lexicon's and plain VADER's scores.

Inference is a dot product; scikit-learn is needed only to train. If the model packages are
missing the detector keeps every mention (recall first) and sentiment falls back to the lexicon.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cpxm.text.embedding import EmbeddingUnavailable, embed

HEADS_FILE = Path(__file__).with_name("learned_heads.npz")
SENTIMENT_LABELS = ("positive", "neutral", "negative")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Heads:
    event_weights: npt.NDArray[np.float64]
    event_bias: float
    event_threshold: float
    sentiment_weights: npt.NDArray[np.float64]  # (classes, features)
    sentiment_bias: npt.NDArray[np.float64]
    sentiment_classes: tuple[str, ...]


@cache
def heads(path: Path = HEADS_FILE) -> Heads:
    with np.load(path, allow_pickle=False) as data:
        return Heads(
            event_weights=np.asarray(data["event_weights"], dtype=np.float64),
            event_bias=float(data["event_bias"]),
            event_threshold=float(data["event_threshold"]),
            sentiment_weights=np.asarray(data["sentiment_weights"], dtype=np.float64),
            sentiment_bias=np.asarray(data["sentiment_bias"], dtype=np.float64),
            sentiment_classes=tuple(str(label) for label in data["sentiment_classes"]),
        )


_warned: set[str] = set()


def _vectors(texts: list[str]) -> npt.NDArray[np.float32] | None:
    try:
        return embed(texts)
    except (EmbeddingUnavailable, ImportError) as error:
        if "embed" not in _warned:
            _warned.add("embed")
            logger.warning("learned text checks are off: %s", error)
        return None


def event_probabilities(sentences: list[str], trained: Heads | None = None) -> list[float] | None:
    """P(the sentence reports an adverse event someone had), or None when the model is absent.

    ``trained`` replaces the shipped heads (the benchmark's cross-validation scores each fold
    with heads trained without it)."""
    if not sentences:
        return []
    vectors = _vectors(sentences)
    if vectors is None:
        return None
    head = trained or heads()
    logits = vectors.astype(np.float64) @ head.event_weights + head.event_bias
    return [float(value) for value in 1.0 / (1.0 + np.exp(-logits))]


def event_threshold(trained: Heads | None = None) -> float:
    return (trained or heads()).event_threshold


def sentiment_features(
    vector: npt.NDArray[np.float32], lexicon_score: float, vader_score: float
) -> npt.NDArray[np.float64]:
    return np.concatenate([vector.astype(np.float64), [lexicon_score, vader_score]])


def sentiment_probabilities(
    texts: list[str],
    lexicon_scores: list[float],
    vader_scores: list[float],
    trained: Heads | None = None,
) -> list[dict[str, float]] | None:
    """Class probabilities for each English text, or None when the model is absent."""
    if not texts:
        return []
    vectors = _vectors(texts)
    if vectors is None:
        return None
    head = trained or heads()
    features = np.column_stack(
        [vectors.astype(np.float64), np.asarray(lexicon_scores), np.asarray(vader_scores)]
    )
    logits = features @ head.sentiment_weights.T + head.sentiment_bias
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = exp / exp.sum(axis=1, keepdims=True)
    return [
        {label: float(value) for label, value in zip(head.sentiment_classes, row, strict=True)}
        for row in probabilities
    ]
