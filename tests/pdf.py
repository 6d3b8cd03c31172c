"""Reading a PDF back the way a person reads it: its pages' text and the fonts it embeds."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader


def pdf_pages(data: bytes) -> list[str]:
    """Each page's text. A page drawn partly with .notdef boxes (no font for some letters) maps
    its text through two-byte codes that pypdf reads one byte at a time, so NULs are dropped."""
    return [page.extract_text().replace("\x00", "") for page in PdfReader(io.BytesIO(data)).pages]


def pdf_text(data: bytes) -> str:
    return "\n".join(pdf_pages(data))


def font_names(data: bytes) -> set[str]:
    """The base names of the fonts the pages use, e.g. ``/ABCDEF+Noto-Sans-CJK-JP``."""
    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        resources: Any = page["/Resources"]
        fonts: Any = resources.get_object().get("/Font", {})
        for font in fonts.values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names
