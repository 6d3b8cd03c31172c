"""Sentiment tuned for life-sciences feedback: VADER plus a domain lexicon, phrases and sarcasm.

Plain VADER reads "out of stock", "prior authorisation takes weeks" or "nobody calls back" as
neutral, and "no side effects" as negative. The domain lexicon (``lexicon.yaml`` beside this file)
adds single words to VADER's own lexicon and turns multi-word phrases into single tokens before
VADER sees them, so VADER's negation and intensity rules still apply around them. Texts in
German, French, Spanish and Japanese, which VADER does not read, are scored from the same file's
per-language word lists.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from cpxm.text.learned import Heads, sentiment_probabilities

LEXICON_FILE = Path(__file__).with_name("lexicon.yaml")
# Tuned on the development part of the evaluation set (benchmarks/text_analysis.py --tune).
POSITIVE_THRESHOLD = 0.4
NEGATIVE_THRESHOLD = -0.3


@dataclass(frozen=True)
class Sentiment:
    score: float  # -1 (most negative) .. 1 (most positive)
    label: str  # positive, neutral, negative


@dataclass(frozen=True)
class _Lexicon:
    words: dict[str, float]
    phrases: list[tuple[re.Pattern[str], str]]
    sarcasm: re.Pattern[str]
    foreign: dict[str, dict[str, float]]
    foreign_negations: dict[str, frozenset[str]]


def _phrase_token(phrase: str) -> str:
    return "cpxm_" + re.sub(r"\W+", "_", phrase.lower()).strip("_")


@cache
def _lexicon(path: Path = LEXICON_FILE) -> _Lexicon:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    words = {str(word).lower(): float(value) for word, value in data["words"].items()}
    phrases: list[tuple[re.Pattern[str], str]] = []
    # Longest phrases first, so "not out of stock" style overlaps resolve to the longest match.
    for phrase, value in sorted(data["phrases"].items(), key=lambda item: -len(str(item[0]))):
        token = _phrase_token(str(phrase))
        words[token] = float(value)
        pattern = re.compile(r"\b" + str(phrase).replace(" ", r"\W+") + r"\b", re.IGNORECASE)
        phrases.append((pattern, token))
    sarcasm = re.compile("|".join(f"(?:{cue})" for cue in data["sarcasm"]), re.IGNORECASE)
    foreign = {
        language: {str(word).lower(): float(value) for word, value in entries.items()}
        for language, entries in data["foreign"].items()
    }
    negations = {
        language: frozenset(str(word) for word in entries)
        for language, entries in data["foreign_negations"].items()
    }
    return _Lexicon(words, phrases, sarcasm, foreign, negations)


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(_lexicon().words)
    return analyzer


def label_for(score: float) -> str:
    if score >= POSITIVE_THRESHOLD:
        return "positive"
    if score <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


def vader_compound(text: str) -> float:
    """Plain VADER's compound score: the reference the evaluation compares against."""
    return float(_plain_analyzer().polarity_scores(text)["compound"])


@cache
def _plain_analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def analyse_sentiment(text: str, language: str | None = "en", *, learned: bool = True) -> Sentiment:
    """Score ``text``; ``language`` picks the word lists for texts VADER cannot read.

    English texts then go through the learned head (``cpxm.text.learned``), which reads the
    sentence vector beside the lexicon's and VADER's scores; its score is P(positive) minus
    P(negative). ``learned=False`` gives the lexicon's own score (the head's input).
    """
    return analyse_sentiments([text], [language], learned=learned)[0]


def analyse_sentiments(
    texts: Sequence[str],
    languages: Sequence[str | None],
    *,
    learned: bool = True,
    trained: Heads | None = None,
) -> list[Sentiment]:
    """``analyse_sentiment`` for many texts, with one batched call to the learned head
    (``trained`` replaces the shipped heads)."""
    lexicon = _lexicon()
    scores = [
        _lexicon_score(text, language, lexicon)
        for text, language in zip(texts, languages, strict=True)
    ]
    results = [Sentiment(round(score, 4), label_for(score)) for score in scores]
    if not learned:
        return results
    english = [
        index
        for index, (text, language) in enumerate(zip(texts, languages, strict=True))
        if language not in lexicon.foreign and text.strip()
    ]
    probabilities = sentiment_probabilities(
        [texts[index] for index in english],
        [scores[index] for index in english],
        [vader_compound(texts[index]) for index in english],
        trained,
    )
    if probabilities is None:
        return results
    for index, by_label in zip(english, probabilities, strict=True):
        label = max(by_label, key=lambda name: by_label[name])
        results[index] = Sentiment(round(by_label["positive"] - by_label["negative"], 4), label)
    return results


def _lexicon_score(text: str, language: str | None, lexicon: _Lexicon) -> float:
    if language in lexicon.foreign:
        return _foreign_score(text, language, lexicon)
    prepared = text
    for pattern, token in lexicon.phrases:
        prepared = pattern.sub(f" {token} ", prepared)
    score = float(_analyzer().polarity_scores(prepared)["compound"])
    if score > 0 and lexicon.sarcasm.search(text):
        # Praise words around a sarcasm cue ("Oh great, another week without stock") are
        # the complaint itself: the praise is turned around, not dropped.
        score = -score
    return score


_FOREIGN_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _foreign_score(text: str, language: str, lexicon: _Lexicon) -> float:
    entries = lexicon.foreign[language]
    negations = lexicon.foreign_negations.get(language, frozenset())
    lowered = text.lower()
    total = 0.0
    if language in ("ja", "zh"):
        # No spaces between words: count each entry where it occurs.
        total = sum(value * lowered.count(word) for word, value in entries.items())
    else:
        words = _FOREIGN_WORD.findall(lowered)
        for index, word in enumerate(words):
            value = entries.get(word)
            if value is None:
                continue
            if any(previous in negations for previous in words[max(0, index - 3) : index]):
                value = -0.7 * value
            total += value
        for word, value in entries.items():
            if " " in word and word in lowered:
                total += value
    # VADER's normalisation, so both paths give comparable scores.
    return total / math.sqrt(total * total + 15) if total else 0.0
