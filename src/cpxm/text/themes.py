"""Themes from a configurable life-sciences taxonomy (``themes.yaml``, or ``CPXM_THEMES_FILE``).

A theme is tagged when one of its cues occurs at a word start. Cues are plain regular expressions
so an analyst can extend the taxonomy without code; one compiled alternation per theme keeps the
cost at one scan per theme per text.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TAXONOMY = Path(__file__).with_name("themes.yaml")


@dataclass(frozen=True)
class Theme:
    code: str
    label: str
    pattern: re.Pattern[str]


class TaxonomyError(ValueError):
    """The taxonomy file cannot be used; the message names the file and the theme."""


def taxonomy_path() -> Path:
    configured = os.environ.get("CPXM_THEMES_FILE", "").strip()
    return Path(configured) if configured else DEFAULT_TAXONOMY


@cache
def load_taxonomy(path: Path | None = None) -> tuple[Theme, ...]:
    source = path or taxonomy_path()
    try:
        data: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise TaxonomyError(f"theme taxonomy {source}: {error}") from None
    themes = []
    for code, entry in (data.get("themes") or {}).items():
        cues = entry.get("cues") if isinstance(entry, dict) else None
        if not cues:
            raise TaxonomyError(f"theme taxonomy {source}: theme '{code}' has no cues")
        try:
            pattern = re.compile(
                r"(?<!\w)(?:" + "|".join(str(cue) for cue in cues) + ")", re.IGNORECASE
            )
        except re.error as error:
            raise TaxonomyError(f"theme taxonomy {source}: theme '{code}': {error}") from None
        themes.append(Theme(str(code), str(entry.get("label") or code), pattern))
    return tuple(themes)


def detect_themes(text: str, taxonomy: tuple[Theme, ...] | None = None) -> list[str]:
    """The codes of the themes ``text`` touches, in taxonomy order."""
    return [theme.code for theme in taxonomy or load_taxonomy() if theme.pattern.search(text)]


def theme_labels() -> dict[str, str]:
    return {theme.code: theme.label for theme in load_taxonomy()}
