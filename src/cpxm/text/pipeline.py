"""The whole analysis of one text: language, sentiment, themes, personal data, safety."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cpxm.text.language import detect_language
from cpxm.text.pii import PiiSpan, find_pii, redact
from cpxm.text.products import ProductCatalogue
from cpxm.text.safety import SafetyResult, detect_safety_many
from cpxm.text.sentiment import Sentiment, analyse_sentiments
from cpxm.text.themes import detect_themes


@dataclass(frozen=True)
class TextAnalysis:
    language: str | None
    sentiment: Sentiment
    themes: list[str]
    pii: list[PiiSpan]
    redacted_text: str
    safety: SafetyResult

    @property
    def pii_kinds(self) -> list[str]:
        return sorted({span.kind for span in self.pii})


def analyse_text(
    text: str,
    *,
    catalogue: ProductCatalogue | None = None,
    known_names: Iterable[str] = (),
    language: str | None = None,
    about_treatment: bool = False,
) -> TextAnalysis:
    """Analyse ``text``; ``language`` overrides detection when the source knows it, and
    ``about_treatment`` says the source knows the text is about a medicine."""
    return analyse_texts(
        [text],
        catalogue=catalogue,
        known_names=[known_names],
        languages=[language],
        about_treatment=[about_treatment],
    )[0]


def analyse_texts(
    texts: Sequence[str],
    *,
    catalogue: ProductCatalogue | None = None,
    known_names: Sequence[Iterable[str]] | None = None,
    languages: Sequence[str | None] | None = None,
    about_treatment: Sequence[bool] | None = None,
) -> list[TextAnalysis]:
    """Analyse a batch of texts: the same results as ``analyse_text`` on each, but the learned
    checks see the whole batch in one call (the sentence model is most of the cost, and it
    costs less per text in a batch). ``known_names``, ``languages`` and ``about_treatment``
    (the source says the text is about a medicine; see ``detect_safety``) go with ``texts``."""
    names = known_names if known_names is not None else [()] * len(texts)
    given = languages if languages is not None else [None] * len(texts)
    # A detected script or strong word evidence beats a survey's default language.
    chosen = [
        detect_language(text) or language for text, language in zip(texts, given, strict=True)
    ]
    pii = [find_pii(text, known) for text, known in zip(texts, names, strict=True)]
    sentiments = analyse_sentiments(texts, chosen)
    safety = detect_safety_many(texts, catalogue, about_treatment=about_treatment)
    return [
        TextAnalysis(
            language=chosen[index],
            sentiment=sentiments[index],
            themes=detect_themes(text),
            pii=pii[index],
            redacted_text=redact(text, pii[index]),
            safety=safety[index],
        )
        for index, text in enumerate(texts)
    ]
