"""``cpxm digest --month YYYY-MM --audience A --out FILE.pdf|.html`` and ``cpxm digest send``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cpxm.access.acting import TOKEN_VARIABLE, acting_principal
from cpxm.access.principal import Principal
from cpxm.cli_support import cli_session, fail
from cpxm.digest import render, service
from cpxm.timeutil import utc_now

console = Console()


def digest_command(
    month: Annotated[str, typer.Option(help="The month, YYYY-MM.")],
    out: Annotated[Path, typer.Option(help="Where to write it: a .pdf or .html file.")],
    audience: Annotated[
        str,
        typer.Option(
            help="leadership, department:CODE or therapeutic_area:CODE (ta:CODE).",
        ),
    ] = service.LEADERSHIP,
) -> None:
    """Write the monthly CX digest for an audience as PDF or HTML (by OUT's suffix)."""
    suffix = out.suffix.lower()
    if suffix not in (".pdf", ".html"):
        fail(f"{out}: write the digest to a .pdf or .html file")
    if not out.parent.is_dir():
        fail(f"{out.parent}: no such folder")
    with cli_session() as session:
        chosen_month = service.month_of(month)
        chosen = service.audience_of(session, audience)
        # Names of people at risk only for a reader whose role may see them: the person whose
        # API token is in CPXM_TOKEN; without one, the digest has counts and no names.
        principal: Principal | None = None
        if os.environ.get(TOKEN_VARIABLE, "").strip():
            principal = acting_principal(session, reason="monthly digest")
        digest = service.build_digest(
            session, month=chosen_month, audience=chosen, principal=principal, now=utc_now()
        )
        chart_list = render.charts(digest)
        if suffix == ".pdf":
            out.write_bytes(render.pdf(digest, chart_list))
        else:
            # A file on its own: the charts travel inside it as data URLs.
            out.write_text(render.html(digest, chart_list, inline=True), encoding="utf-8")
    console.print(
        f"{render.subject(digest)}: {len(digest.movements)} significant movement(s), "
        f"{digest.cases.opened} case(s) opened, {sum(digest.safety.values())} safety case(s)",
        highlight=False,
    )
    console.print(f"written to {out}", highlight=False)
