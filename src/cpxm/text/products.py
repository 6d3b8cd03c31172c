"""Product names in free text: the catalogue's names and configured aliases, misspelt or not.

People write "Cardias" for Cardiaz and "Gliventa" for Glyventa; a missed product name can hide
an adverse event. Exact names are found with one regular expression; every other word of five
letters or more is compared with the names by edit-distance similarity (rapidfuzz), with a
higher bar when the first letter differs. Common words that sit close to a product name
("cardiac" to "Cardiaz") are never taken for it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process

DEFAULT_ALIASES_FILE = Path(__file__).with_name("products.yaml")
FUZZY_CUTOFF_SAME_INITIAL = 80.0
FUZZY_CUTOFF_OTHER_INITIAL = 88.0
# Latin-script words only: a Japanese sentence has no spaces, so "Cardiazを使い..." is one \w run.
_TOKEN = re.compile(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ®™-]{4,}")


@dataclass(frozen=True)
class ProductMatch:
    code: str
    name: str  # the catalogue name
    written: str  # as the text spells it
    start: int
    end: int
    fuzzy: bool


@dataclass
class ProductCatalogue:
    """Names to look for: ``{written name: (code, catalogue name)}``."""

    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    not_products: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self._build()

    def _build(self) -> None:
        ordered = sorted(self.names, key=len, reverse=True)
        self._lowered = {name.lower(): value for name, value in self.names.items()}
        if ordered:
            alternation = "|".join(
                re.escape(name).replace(r"\-", r"[- ]?").replace(r"\ ", r"\s+") for name in ordered
            )
            self._exact: re.Pattern[str] | None = re.compile(
                rf"(?<![A-Za-z0-9À-ÿ])(?:{alternation})(?![A-Za-z0-9À-ÿ])", re.IGNORECASE
            )
        else:
            self._exact = None
        # Only names that are words can be misspelt like words; codes such as MRD-4410 cannot.
        self._fuzzy_choices = [name for name in self._lowered if name.isalpha() and len(name) >= 5]

    def add(self, code: str, name: str, *written: str) -> None:
        for spelling in (name, *written):
            if spelling and spelling.strip():
                self.names[spelling.strip()] = (code, name)
        self._build()

    def find(self, text: str) -> list[ProductMatch]:
        matches: list[ProductMatch] = []
        taken: list[tuple[int, int]] = []
        if self._exact is not None:
            for match in self._exact.finditer(text):
                key = re.sub(r"[\s-]+", "", match.group().lower())
                value = self._lowered.get(match.group().lower()) or self._by_compact(key)
                if value is None:
                    continue
                matches.append(
                    ProductMatch(value[0], value[1], match.group(), *match.span(), fuzzy=False)
                )
                taken.append(match.span())
        if not self._fuzzy_choices:
            return matches
        for token in _TOKEN.finditer(text):
            if any(start <= token.start() < end for start, end in taken):
                continue
            word = token.group().lower().rstrip("®™-")
            if word in self.not_products or len(word) < 5:
                continue
            best = process.extractOne(
                word, self._fuzzy_choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF_SAME_INITIAL
            )
            if best is None:
                continue
            choice, score, _index = best
            if choice[0] != word[0] and score < FUZZY_CUTOFF_OTHER_INITIAL:
                continue
            code, name = self._lowered[choice]
            matches.append(ProductMatch(code, name, token.group(), *token.span(), fuzzy=True))
        return sorted(matches, key=lambda match: match.start)

    def _by_compact(self, compact: str) -> tuple[str, str] | None:
        for name, value in self._lowered.items():
            if re.sub(r"[\s-]+", "", name) == compact:
                return value
        return None


def aliases_path() -> Path:
    configured = os.environ.get("CPXM_PRODUCT_ALIASES_FILE", "").strip()
    return Path(configured) if configured else DEFAULT_ALIASES_FILE


def build_catalogue(
    products: Iterable[tuple[str, str, str | None]], aliases_file: Path | None = None
) -> ProductCatalogue:
    """A catalogue from ``(code, name, generic name)`` rows plus the configured aliases file."""
    data = yaml.safe_load((aliases_file or aliases_path()).read_text(encoding="utf-8")) or {}
    catalogue = ProductCatalogue(
        not_products=frozenset(str(word).lower() for word in data.get("not_products") or [])
    )
    names: dict[str, tuple[str, str]] = {}
    for code, name, generic in products:
        for spelling in (name, generic, code):
            if spelling:
                names[spelling] = (code, name)
    for entry in data.get("products") or []:
        code = str(entry["code"])
        name = str(entry.get("name") or code)
        for spelling in [name, *(entry.get("aliases") or [])]:
            names[str(spelling)] = (code, name)
    catalogue.names = names
    catalogue._build()
    return catalogue
