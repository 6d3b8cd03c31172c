"""The whole analysis of one text: language, sentiment, themes, personal data, safety."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cpxm.text.language import detect_language
from cpxm.text.pii import PiiSpan, find_pii, redact
from cpxm.text.products import ProductCatalogue
from cpxm.text.safety import SafetyResult, detect_safety
from cpxm.text.sentiment import Sentiment, analyse_sentiment
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
) -> TextAnalysis:
    """Analyse ``text``; ``language`` overrides detection when the source knows it."""
    detected = detect_language(text)
    # A detected script or strong word evidence beats a survey's default language.
    chosen = detected or language
    pii = find_pii(text, known_names)
    return TextAnalysis(
        language=chosen,
        sentiment=analyse_sentiment(text, chosen),
        themes=detect_themes(text),
        pii=pii,
        redacted_text=redact(text, pii),
        safety=detect_safety(text, catalogue),
    )
