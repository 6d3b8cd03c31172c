"""`cpxm initiatives` and `cpxm maturity` as a user runs them: subprocesses on a fresh store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.orm import Session

from cpxm.auth.service import create_api_token, create_user
from cpxm.db import make_engine

GOOD = """
- code: reliable_supply
  title: Warn pharmacies before a supply gap
  problem: Pharmacies run out without warning.
  owner: Supply chain
  theme: supply_availability
  moscow: must
  impact: 2
  effort: 3
"""
BAD = (
    GOOD
    + """
- code: second
  title: Broken
  problem: Names a theme that does not exist.
  owner: Nobody
  theme: weather
"""
)


def _cpxm(
    directory: Path, *arguments: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CPXM_")}
    environment["CPXM_DATABASE_URL"] = f"sqlite:///{directory / 'cpxm.db'}"
    environment["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src")
    if token:
        environment["CPXM_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "cpxm", *arguments], cwd=directory, env=environment,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_add_list_ship_show_and_assess_on_a_fresh_store(tmp_path: Path) -> None:
    assert _cpxm(tmp_path, "init").returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'cpxm.db'}")
    with Session(engine) as session:
        lead = create_user(session, email="lead@example.org", role="cx_lead")
        analyst = create_user(session, email="analyst@example.org", role="analyst")
        lead_token = create_api_token(session, user=lead).token
        analyst_token = create_api_token(session, user=analyst).token
        session.commit()
    engine.dispose()
    (tmp_path / "bad.yaml").write_text(BAD, encoding="utf-8")
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")

    anonymous = _cpxm(tmp_path, "initiatives", "add", "good.yaml")
    assert anonymous.returncode == 1 and "CPXM_TOKEN" in anonymous.stderr
    refused = _cpxm(tmp_path, "initiatives", "add", "good.yaml", token=analyst_token)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    bad = _cpxm(tmp_path, "initiatives", "add", "bad.yaml", token=lead_token)
    assert bad.returncode == 1
    assert "theme: unknown theme" in bad.stderr and "Traceback" not in bad.stderr
    # Nothing of a file with a wrong initiative is stored, the good one included.
    assert json.loads(_cpxm(tmp_path, "initiatives", "list", "--json").stdout) == []

    added = _cpxm(tmp_path, "initiatives", "add", "good.yaml", token=lead_token)
    assert added.returncode == 0 and "added reliable_supply" in added.stdout
    again = _cpxm(tmp_path, "initiatives", "add", "good.yaml", token=lead_token)
    assert "updated reliable_supply" in again.stdout
    (row,) = json.loads(_cpxm(tmp_path, "initiatives", "list", "--json").stdout)
    assert (row["code"], row["moscow"], row["reach"], row["rice"]) == (
        "reliable_supply",
        "must",
        0,
        0,
    )

    wrong_day = _cpxm(
        tmp_path, "initiatives", "ship", "reliable_supply", "--on", "June", token=lead_token
    )
    assert wrong_day.returncode == 1 and "expected a date" in wrong_day.stderr
    shipped = _cpxm(
        tmp_path, "initiatives", "ship", "reliable_supply", "--on", "2025-05-01", token=lead_token
    )
    assert shipped.returncode == 0, shipped.stderr
    shown = json.loads(_cpxm(tmp_path, "initiatives", "show", "reliable_supply").stdout)
    assert shown["status"] == "shipped" and shown["before_after"]["shipped_on"] == "2025-05-01"
    assert shown["verbatims"]["items"] == []  # no token: no reader of feedback records
    missing = _cpxm(tmp_path, "initiatives", "show", "nothing")
    assert missing.returncode == 1 and "initiative 'nothing' not found" in missing.stderr

    maturity = json.loads(_cpxm(tmp_path, "maturity", "show", "--json").stdout)
    assert maturity["overall_stage"] == "crawl"
    assert {c["code"]: c["evidence_stage"] for c in maturity["capabilities"]}[
        "governance"
    ] == "crawl"
    sent = _cpxm(tmp_path, "maturity", "send", "--wave", "2025-Q2", token=lead_token)
    assert sent.returncode == 0, sent.stderr
    assert "invited 0" in sent.stdout
    assert "no active employee record with the address lead@example.org" in sent.stdout
