"""Language identification for short feedback texts, without a model download.

Scripts decide first (kana and CJK, Hangul, Cyrillic, Greek, Arabic); Latin-script texts are scored
by hits on short lists of very frequent function words and on letters that only some languages
use. Feedback is short and often mixed (an English product name in a German sentence), so a
frequency profile is more robust here than character n-gram models trained on long documents.
"""

from __future__ import annotations

import re

_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "the",
            "and",
            "is",
            "was",
            "are",
            "to",
            "of",
            "in",
            "it",
            "my",
            "i",
            "you",
            "for",
            "with",
            "on",
            "that",
            "this",
            "not",
            "have",
            "has",
            "had",
            "be",
            "at",
            "me",
            "we",
            "they",
            "but",
            "so",
            "very",
            "no",
            "our",
            "your",
            "from",
            "after",
            "since",
            "what",
            "how",
            "can",
            "do",
            "did",
            "would",
            "there",
            "their",
            "been",
            "will",
            "any",
        ]
    ),
    "de": frozenset(
        [
            "der",
            "die",
            "das",
            "und",
            "ist",
            "nicht",
            "ich",
            "ein",
            "eine",
            "mit",
            "zu",
            "von",
            "den",
            "dem",
            "sie",
            "es",
            "auf",
            "für",
            "sehr",
            "mich",
            "mein",
            "meine",
            "wir",
            "ihr",
            "wie",
            "auch",
            "hat",
            "habe",
            "haben",
            "war",
            "nach",
            "seit",
            "bei",
            "kein",
            "keine",
            "aber",
            "noch",
            "nur",
            "immer",
            "schon",
            "oder",
            "wurde",
            "dass",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "et",
            "est",
            "une",
            "un",
            "des",
            "pas",
            "je",
            "de",
            "du",
            "pour",
            "avec",
            "que",
            "qui",
            "mon",
            "ma",
            "mes",
            "en",
            "au",
            "aux",
            "très",
            "ne",
            "sur",
            "par",
            "mais",
            "nous",
            "vous",
            "il",
            "elle",
            "on",
            "été",
            "avoir",
            "depuis",
            "aucun",
            "aucune",
            "ça",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "la",
            "los",
            "las",
            "y",
            "es",
            "un",
            "una",
            "no",
            "de",
            "que",
            "con",
            "para",
            "por",
            "muy",
            "mi",
            "mis",
            "en",
            "del",
            "al",
            "pero",
            "se",
            "lo",
            "me",
            "tengo",
            "tiene",
            "desde",
            "ningún",
            "ninguna",
            "está",
            "están",
            "fue",
            "como",
            "más",
            "también",
        ]
    ),
    "it": frozenset(
        [
            "il",
            "lo",
            "gli",
            "e",
            "è",
            "un",
            "una",
            "non",
            "di",
            "che",
            "con",
            "per",
            "molto",
            "mio",
            "mia",
            "della",
            "del",
            "nel",
            "ma",
            "sono",
            "ho",
            "anche",
            "come",
            "più",
            "questo",
            "questa",
        ]
    ),
    "nl": frozenset(
        [
            "de",
            "het",
            "een",
            "en",
            "is",
            "niet",
            "ik",
            "van",
            "met",
            "voor",
            "op",
            "zeer",
            "mijn",
            "wij",
            "geen",
            "maar",
            "ook",
            "heeft",
            "hebben",
            "was",
            "bij",
            "naar",
            "dat",
        ]
    ),
    "pt": frozenset(
        [
            "o",
            "os",
            "as",
            "e",
            "é",
            "um",
            "uma",
            "não",
            "de",
            "que",
            "com",
            "para",
            "por",
            "muito",
            "meu",
            "minha",
            "do",
            "da",
            "em",
            "mas",
            "também",
            "tenho",
            "tem",
            "foi",
        ]
    ),
}
_SPECIAL_LETTERS = {"de": "äöüß", "fr": "àâçèêëîïôœùû", "es": "ñ¿¡áéíóú", "pt": "ãõç"}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def detect_language(text: str) -> str | None:
    """The text's ISO 639-1 code, or None when it holds too little to tell."""
    kana = cjk = hangul = cyrillic = greek = arabic = 0
    for char in text:
        code = ord(char)
        if 0x3040 <= code <= 0x30FF:
            kana += 1
        elif 0x4E00 <= code <= 0x9FFF:
            cjk += 1
        elif 0xAC00 <= code <= 0xD7AF:
            hangul += 1
        elif 0x0400 <= code <= 0x04FF:
            cyrillic += 1
        elif 0x0370 <= code <= 0x03FF:
            greek += 1
        elif 0x0600 <= code <= 0x06FF:
            arabic += 1
    if kana:
        return "ja"
    for count, script_language in ((hangul, "ko"), (cjk, "zh"), (cyrillic, "ru"), (greek, "el")):
        if count >= 2:
            return script_language
    if arabic >= 2:
        return "ar"
    words = [word.lower() for word in _WORD.findall(text)]
    if not words:
        return None
    lowered = text.lower()
    scores: dict[str, float] = {}
    for language, vocabulary in _FUNCTION_WORDS.items():
        score = float(sum(1 for word in words if word in vocabulary))
        letters = _SPECIAL_LETTERS.get(language, "")
        score += 0.5 * sum(1 for char in lowered if char in letters)
        scores[language] = score
    best = max(scores, key=lambda language: scores[language])
    if scores[best] == 0:
        # Short texts without a function word ("Excellent.", "Fine overall") are mostly English.
        return "en" if all(char.isascii() for char in text) else None
    return best
