"""The one way CPXM makes a PDF: an HTML Jinja template laid out by WeasyPrint.

A report people sign or file (the safety reconciliation, the monthly digest) is written once as
HTML with print CSS (``@page`` margins, a running header, "page N of M", table headers that repeat
on every page, text that wraps instead of overprinting) and rendered here. The same template can
be mailed or shown as HTML, so the PDF and the e-mail never disagree.

WeasyPrint takes about a second to import, so it is imported only when a PDF is made: the CLI's
other commands start without it (``tests/cli/test_lazy.py``).

Letters come from the machine's fonts through fontconfig: DejaVu Sans for Latin, Greek and
Cyrillic, Noto Sans CJK (Debian's ``fonts-noto-cjk``, installed by ``scripts/_bootstrap.sh``) for
the Japanese the product ships translations for. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jinja2

from cpxm.config import get_settings

logger = logging.getLogger(__name__)

TEMPLATES_DIRECTORY = Path(__file__).parent / "web" / "templates"
CJK_MISSING_NOTE = (
    "Note: this machine has no font for Chinese, Japanese or Korean letters (install Debian's "
    "fonts-noto-cjk), so they print as empty boxes; the CSV export has the exact text."
)


@functools.cache
def _environment() -> jinja2.Environment:
    # The web pages' directory, without FastAPI: a CLI command renders reports on its own.
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIRECTORY),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment


def render_html(template: str, context: Mapping[str, Any]) -> str:
    """The report's HTML (for the PDF, an e-mail or a page): ``template`` under web/templates."""
    return (
        _environment()
        .get_template(template)
        .render(workspace_name=get_settings().workspace_name, **context)
    )


def html_to_pdf(html: str, *, attachments: Mapping[str, bytes] | None = None) -> bytes:
    """Lay ``html`` out as a PDF. ``attachments`` maps ``cid:NAME`` image URLs (the e-mail's
    inline images) to their bytes, so one HTML serves the mail and the PDF."""
    import weasyprint  # a second to import: only PDF makers pay for it
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    images = dict(attachments or {})

    class InlineOnly(URLFetcher):  # type: ignore[misc]
        # Reports are made from our own data: they load nothing from the network or the disk,
        # only the inline images the caller handed over.
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("cid:") and url[4:] in images:
                return URLFetcherResponse(
                    url, images[url[4:]], headers={"Content-Type": "image/png"}
                )
            raise ValueError(f"a report may not load {url!r}")

    document = weasyprint.HTML(string=html, url_fetcher=InlineOnly(), base_url="cpxm:/report")
    return bytes(document.write_pdf())


def render_pdf(
    template: str, context: Mapping[str, Any], *, attachments: Mapping[str, bytes] | None = None
) -> bytes:
    return html_to_pdf(render_html(template, context), attachments=attachments)


def has_cjk(texts: Iterable[str | None]) -> bool:
    """Whether any text has letters only a CJK font draws."""
    return any(
        unicodedata.east_asian_width(char) in ("W", "F") for text in texts if text for char in text
    )


def cjk_font_available() -> bool:
    """Whether fontconfig knows a font for Japanese; asked each time, since a test or an
    administrator may point FONTCONFIG_FILE elsewhere between reports."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        # Without fontconfig's tools we cannot tell; WeasyPrint still uses whatever it finds.
        return True
    found = subprocess.run(  # noqa: S603 - a fixed program and arguments
        [fc_list, ":lang=ja", "family"], capture_output=True, text=True, timeout=30, check=False
    )
    available = bool(found.stdout.strip())
    if not available:
        logger.warning("no CJK font found; CJK letters in PDFs print as empty boxes")
    return available
