"""Personal data in free text: found, labelled by kind and redacted.

Patterns rather than a statistical NER model: they ship with the code, run at thousands of texts
per second, and say exactly why a span was redacted. Names are found where text introduces a
person ("my name is", "ask for", "Dr.", "Mrs.", a signature) and, when the caller passes them, as
the known names of the stakeholder who wrote the text. Redaction replaces each span with its kind
in brackets (``[EMAIL]``), so readers still see that something was there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_NAME_WORD = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’-]+"
_FULL_NAME = rf"{_NAME_WORD}(?:\s+(?:van|von|de|da|di|del|le|la)?\s*{_NAME_WORD}){{0,2}}"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    (
        "date_of_birth",
        re.compile(
            r"(?i)\b(?:d\.?o\.?b\.?|date of birth|born(?: on)?|geboren(?: am)?|né(?:e)? le|"
            r"nacido el|fecha de nacimiento)\s*:?\s*"
            r"(?:\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-zé]+\.?\s+\d{4}|"
            r"[A-Za-z]+\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})"
        ),
    ),
    (
        "identifier",
        re.compile(
            r"(?i)\b(?:patient|member|policy|insurance|insured|nhs|mrn|medical record|record|"
            r"case|claim|social security|ssn|versicherten|dossier|id)\s*"
            r"(?:id|no\.?|number|nr\.?|#|num[eé]ro)?\s*[:#]?\s*"
            r"(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{4,}\b"
        ),
    ),
    ("identifier", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),  # US SSN shape
    ("identifier", re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){3,7}\b")),  # IBAN shape
    (
        "phone",
        re.compile(
            r"(?<![\w+])(?:\+\d{1,3}[\s./-]?)?(?:\(\d{1,5}\)[\s./-]?)?\d{2,5}(?:[\s./-]\d{2,8}){1,4}"
            r"(?![\w@])"
        ),
    ),
    (
        "address",
        re.compile(
            r"\b\d{1,5}[a-z]?\s+(?:[A-Z][\w'-]+\s+){1,3}"
            r"(?:Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Drive|Dr\.?|Close|Way|"
            r"Boulevard|Blvd\.?|Court|Place|Square|Terrace|Crescent)\b"
            r"|\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|str\.|weg|allee|platz|gasse|ring)\s+\d{1,4}"
            r"(?:\s*[a-z]|/\d+)?\b"
            r"|\b\d{1,4},?\s+(?:rue|avenue|boulevard|place|chemin|allée|calle|avenida|plaza|"
            r"paseo)\s+(?:[\wÀ-ÿ'-]+\s?){1,4}"
            r"|\b(?:rue|calle|avenida|via)\s+(?:[\wÀ-ÿ'-]+\s){1,3}\d{1,4}\b",
        ),
    ),
    (
        "person",
        re.compile(
            rf"(?:\b(?:[Mm]y name is|[Ii] am|[Ii]'m|[Tt]his is|[Aa]sk for|[Cc]ontact|[Ss]peak to|"
            rf"[Ss]poke (?:to|with)|[Rr]egards,?|[Tt]hanks,?|[Ss]incerely,?|[Ff]ragen Sie nach|"
            rf"[Dd]emandez|[Pp]regunten por|[Mm]e llamo|[Jj]e m'appelle|[Ii]ch heiße)\s+"
            rf"(?:(?:Dr|Mr|Mrs|Ms|Prof|Frau|Herr|Mme|M|Sr|Sra)\.?\s+)?)"
            rf"(?P<name>{_FULL_NAME})"
        ),
    ),
    (
        "person",
        re.compile(
            rf"\b(?:Dr|Mr|Mrs|Ms|Miss|Prof|Frau|Herr|Mme|Mlle|Sr|Sra|Dra)\.?\s+(?P<name>{_FULL_NAME})"
        ),
    ),
)
# Words a name pattern can capture that are not names ("I am Happy with", "Contact Us").
_NOT_NAMES = frozenset(
    [
        "I",
        "Happy",
        "Very",
        "Not",
        "So",
        "Still",
        "Really",
        "Us",
        "Me",
        "The",
        "A",
        "An",
        "Sales",
        "Marketing",
        "Support",
        "Customer",
        "Service",
        "Medical",
        "Information",
        "Nurse",
        "Pharmacy",
        "Patient",
        "Doctor",
        "Your",
        "Our",
        "My",
        "This",
        "That",
        "It",
        "We",
        "They",
    ]
)
_MIN_PHONE_DIGITS = 7


@dataclass(frozen=True)
class PiiSpan:
    kind: str  # email, phone, person, address, date_of_birth, identifier
    start: int
    end: int
    text: str


def find_pii(text: str, known_names: Iterable[str] = ()) -> list[PiiSpan]:
    """Every personal-data span in ``text``, longest first where they overlap, in text order."""
    found: list[PiiSpan] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if kind == "person":
                start, end = match.span("name")
                words = match.group("name").split()
                while words and words[-1] in _NOT_NAMES:
                    words.pop()
                if not words or words[0] in _NOT_NAMES:
                    continue
                end = start + len(" ".join(words)) if len(words) > 0 else end
                span_text = text[start:end]
                if span_text != " ".join(words):
                    span_text = text[start:end]
            else:
                start, end = match.span()
                span_text = match.group()
            if kind == "phone" and sum(char.isdigit() for char in span_text) < _MIN_PHONE_DIGITS:
                continue
            if kind == "phone" and _looks_like_date(span_text):
                continue
            found.append(PiiSpan(kind, start, end, span_text))
    for name in known_names:
        if len(name) < 3:
            continue
        for match in re.finditer(rf"\b{re.escape(name)}\b", text):
            found.append(PiiSpan("person", match.start(), match.end(), match.group()))
    return _without_overlaps(found)


def _looks_like_date(span: str) -> bool:
    return bool(re.fullmatch(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}", span.strip()))


def _without_overlaps(spans: list[PiiSpan]) -> list[PiiSpan]:
    kept: list[PiiSpan] = []
    for span in sorted(spans, key=lambda item: (item.start, -(item.end - item.start))):
        if kept and span.start < kept[-1].end:
            continue
        kept.append(span)
    return kept


def redact(text: str, spans: list[PiiSpan]) -> str:
    """``text`` with every span replaced by its kind in brackets."""
    pieces: list[str] = []
    position = 0
    for span in spans:
        pieces.append(text[position : span.start])
        pieces.append(f"[{span.kind.upper()}]")
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)
