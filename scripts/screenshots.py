"""Screens for the README and docs: build the demo, serve it, photograph the pages in Chromium.

    scripts/screenshots [--scale 0.1] [--out docs/screens] [--store DIR]

Generates the demo (``cpxm demo --no-serve``) into a store under ``--store`` (a temporary
directory by default; a store already there is reused), serves it on a free loopback port,
signs in as the demo admin in Debian's Chromium through Playwright, and writes one PNG per
screen into ``--out``: the overview, a stakeholder profile, a survey as its respondent sees it
on a phone, the survey builder, a case, the PV queue and an analytics page. Every figure on
the screens is the demo's, as generated with the seed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import cpxm.schema  # noqa: F401 (every table, so foreign keys resolve)
from cpxm.cases.models import Case
from cpxm.db import make_engine
from cpxm.interactions.models import Interaction
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.distribution import create_open_link
from cpxm.surveys.models import Survey

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = secrets.token_urlsafe(16)  # the demo admin's, for this run only
ADMIN = "admin@meridel.example"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"viewport": {"width": 1280, "height": 860}, "device_scale_factor": 1}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 2}


def _cpxm(*arguments: str, database: str, quiet: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CPXM_DATABASE_URL": database, "CPXM_DEMO_ADMIN_PASSWORD": PASSWORD}
    return subprocess.Popen(  # noqa: S603 (our own CLI, no shell)
        [sys.executable, "-m", "cpxm", *arguments],
        env=env,
        stdout=subprocess.DEVNULL if quiet else None,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback only)
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the demo server did not answer {url} within {seconds:.0f} s")


def _subjects(database: str) -> dict[str, str]:
    """The records worth showing: the HCP with the most interactions, the newest open case,
    and an open link to the relationship survey (made here: the demo's own links expire)."""
    engine = make_engine(database)
    with Session(engine) as session:
        person = session.scalar(
            select(Interaction.stakeholder_id)
            .join(Stakeholder, Stakeholder.id == Interaction.stakeholder_id)
            .where(Stakeholder.type == "hcp", Stakeholder.status == "active")
            .group_by(Interaction.stakeholder_id)
            .order_by(func.count().desc())
            .limit(1)
        )
        case = session.scalar(
            select(Case.id)
            .where(Case.status != "closed", Case.response_id.is_not(None))
            .order_by(Case.id.desc())
            .limit(1)
        ) or session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1))
        survey = session.scalar(select(Survey).where(Survey.kind != "employee").limit(1))
        token = (
            create_open_link(session, survey=survey, label="screens", channel=None).token
            if survey
            else None
        )
        survey_id = survey.id if survey else None
        session.commit()
    engine.dispose()
    return {
        "person": str(person),
        "case": str(case),
        "survey": str(survey_id or ""),
        "token": token or "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screens")
    parser.add_argument("--store", type=Path, default=None, help="keep the demo store here")
    args = parser.parse_args(argv)
    store = args.store or Path(tempfile.mkdtemp(prefix="cpxm-screens-"))
    store.mkdir(parents=True, exist_ok=True)
    database = f"sqlite:///{store / 'screens.db'}"
    print(f"building the demo (scale {args.scale}) into {store} ...", flush=True)
    if _cpxm("demo", "--scale", str(args.scale), "--no-serve", database=database).wait():
        raise SystemExit("the demo could not be built")
    subjects = _subjects(database)
    port = _free_port()
    server = _cpxm("serve", "--port", str(port), database=database, quiet=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/health", 120)
        shoot(base, subjects, args.out)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


def shoot(base: str, subjects: dict[str, str], out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    screens = {
        "overview": "/",
        "stakeholder-profile": f"/stakeholders/{subjects['person']}",
        "survey-builder": f"/surveys/{subjects['survey']}/edit",
        "case": f"/cases/{subjects['case']}",
        "pv-queue": "/safety",
        "analytics-trend": "/analytics/metrics?metric=nps&grain=month",
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CPXM_CHROMIUM", "/usr/bin/chromium"),
            args=CHROMIUM_FLAGS,
        )
        context = browser.new_context(**DESKTOP)
        page = context.new_page()
        page.goto(f"{base}/auth/sign-in")
        page.get_by_label("Email").fill(ADMIN)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/", timeout=120_000)
        for name, path in screens.items():
            # The served demo's own worker may hold the SQLite store for a moment (503): retry.
            for _attempt in range(10):
                answer = page.goto(f"{base}{path}", timeout=120_000)
                if answer is not None and answer.status < 500:
                    break
                page.wait_for_timeout(5_000)
            else:
                raise SystemExit(f"{path} kept failing: {answer.status if answer else 'no answer'}")
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(500)  # charts finish drawing
            page.screenshot(path=str(out / f"{name}.png"))
            print(f"  {out / f'{name}.png'}  ({path})", flush=True)
        context.close()
        if subjects["token"]:
            phone = browser.new_context(**PHONE)
            page = phone.new_page()
            page.goto(f"{base}/s/{subjects['token']}")
            page.screenshot(path=str(out / "survey-on-a-phone.png"))
            print(f"  {out / 'survey-on-a-phone.png'}  (/s/...)", flush=True)
            phone.close()
        browser.close()


if __name__ == "__main__":
    raise SystemExit(main())
