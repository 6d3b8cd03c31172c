"""The digest as HTML (an e-mail with its charts as inline PNG parts), as PDF (the same HTML laid
out by WeasyPrint) and as a web page (the same body, charts as data URLs)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from cpxm import pdfout
from cpxm.analytics.charts import bars_spec, trend_spec
from cpxm.digest.service import Digest

TEMPLATE = "digest/digest.html"
CHART_WIDTH = 640


@dataclass(frozen=True)
class Chart:
    name: str  # the cid (e-mail, PDF) and the file stem
    alt: str
    png: bytes


def charts(digest: Digest) -> list[Chart]:
    """The digest's charts as PNG, drawn by vl-convert from the analytics pages' own specs."""
    import vl_convert  # a few hundred ms to load; only digests draw PNGs

    made = []
    trend = [
        {
            "period": cell.key,
            "value": cell.value,
            "low": cell.ci_low,
            "high": cell.ci_high,
            "n": cell.n,
            "significant": cell.significant,
        }
        for cell in digest.trend
        if not cell.suppressed and cell.value is not None
    ]
    if len(trend) >= 2:
        spec = trend_spec(trend, title="NPS by month (95% interval)")
        made.append(
            Chart(
                "nps-trend",
                "NPS by month over the last 12 months with its 95% interval",
                _png(vl_convert, spec),
            )
        )
    themes = [(t.label, float(t.current)) for t in digest.rising_themes if t.current is not None]
    if themes:
        spec = bars_spec(themes, title="Rising themes: feedback items this month")
        made.append(
            Chart("rising-themes", "Feedback items per rising theme", _png(vl_convert, spec))
        )
    return made


def _png(vl_convert: Any, spec: dict[str, Any]) -> bytes:
    # Pages size charts to their container; a picture needs a width of its own.
    spec = {**spec, "width": CHART_WIDTH, "background": "white"}
    return bytes(vl_convert.vegalite_to_png(spec, scale=2))


def html(digest: Digest, chart_list: list[Chart], *, inline: bool) -> str:
    """The digest's HTML; ``inline`` puts the charts in as data URLs (a page), otherwise as
    ``cid:`` references to the e-mail's related parts (which the PDF maker resolves too)."""
    sources = {
        chart.name: (
            "data:image/png;base64," + base64.b64encode(chart.png).decode("ascii")
            if inline
            else f"cid:{chart.name}"
        )
        for chart in chart_list
    }
    return pdfout.render_html(TEMPLATE, _context(digest, chart_list, sources))


def body_context(digest: Digest, chart_list: list[Chart]) -> dict[str, Any]:
    """What ``digest/_body.html`` needs, for a page that embeds the digest."""
    sources = {
        chart.name: "data:image/png;base64," + base64.b64encode(chart.png).decode("ascii")
        for chart in chart_list
    }
    return _context(digest, chart_list, sources)


def _context(digest: Digest, chart_list: list[Chart], sources: dict[str, str]) -> dict[str, Any]:
    return {
        "digest": digest,
        "charts": [
            {"name": chart.name, "alt": chart.alt, "src": sources[chart.name]}
            for chart in chart_list
        ],
        "safety_total": sum(digest.safety.values()),
    }


def pdf(digest: Digest, chart_list: list[Chart] | None = None) -> bytes:
    chart_list = charts(digest) if chart_list is None else chart_list
    return pdfout.html_to_pdf(
        html(digest, chart_list, inline=False),
        attachments={chart.name: chart.png for chart in chart_list},
    )


def subject(digest: Digest) -> str:
    return f"CX digest {digest.month.label}: {digest.audience.name}"


def email(digest: Digest, *, to: str, sender: str, chart_list: list[Chart] | None = None,
          message_id: str | None = None) -> EmailMessage:  # fmt: skip
    """A multipart e-mail: a plain-text summary, the HTML digest, and its charts as inline
    images (``Content-ID``) the HTML shows; mail clients that block remote images show them."""
    chart_list = charts(digest) if chart_list is None else chart_list
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject(digest)
    message["Message-ID"] = message_id or make_msgid(domain=sender.split("@")[-1])
    message.set_content(_plain_text(digest))
    message.add_alternative(html(digest, chart_list, inline=False), subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    for chart in chart_list:
        html_part.add_related(
            chart.png, maintype="image", subtype="png", cid=f"<{chart.name}>",
            filename=f"{chart.name}.png",
        )  # fmt: skip
    return message


def _plain_text(digest: Digest) -> str:
    lines = [subject(digest), ""]
    for headline in digest.headlines:
        cell = headline.current
        if cell is None or cell.suppressed or cell.value is None:
            lines.append(f"{headline.label}: not shown (fewer answers than the minimum)")
            continue
        change = ""
        if cell.difference is not None:
            change = f", {cell.difference:+.1f} vs {digest.month.previous.label}"
            change += " (significant)" if cell.significant else ""
        lines.append(
            f"{headline.label}: {cell.value:.1f} [{cell.ci_low:.1f}, {cell.ci_high:.1f}], "
            f"n={cell.n}{change}"
        )
    lines.append(f"Significant movements: {len(digest.movements)}")
    lines.append(
        f"Cases opened: {digest.cases.opened}, closed: {digest.cases.closed}; safety intake: "
        + ", ".join(f"{kind.upper()} {count}" for kind, count in digest.safety.items())
    )
    lines.append("")
    lines.append("The full digest is in the HTML part of this message.")
    return "\n".join(lines) + "\n"
