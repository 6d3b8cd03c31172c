"""The lake export: what it writes, what it leaves out, and that a rerun writes only what changed
(new rows, rows changed in place, deleted rows, an erasure), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from cpxm.access.keys import person_key, pseudonym_secret
from cpxm.access.roles import Role
from cpxm.interactions.models import Interaction
from cpxm.lake.export import STATE_FILE, LakeError, LakeRefused, export_lake
from cpxm.privacy.erasure import erase_person
from cpxm.workspace.models import AuditLogEntry
from tests.factories import (
    make_interaction,
)
from tests.lake.conftest import principal_of as _principal
from tests.served import cpxm_command


def _read(lake: Path, dataset: str) -> list[dict[str, object]]:
    rows = ds.dataset(lake / dataset, format="parquet", partitioning="hive").to_table().to_pylist()
    return sorted(rows, key=lambda row: str(row.get("id") or row.get("stakeholder_key")))


def test_the_lake_holds_facts_by_key_and_no_words(
    session: Session, store: dict[str, object], tmp_path: Path
) -> None:
    analyst = _principal(session, Role.ANALYST)
    report = export_lake(session, target=tmp_path / "lake", principal=analyst, bucket_size=10)
    lake = tmp_path / "lake"
    counts = {dataset.name: dataset.rows for dataset in report.datasets}
    assert counts["interactions"] == 25
    assert counts["responses"] == 1 and counts["answers"] == 2  # the pulse answer stays out
    assert counts["cases"] == 1  # the medical inquiry is behind the analyst's firewall
    hcp = store["hcp"]
    key = person_key(pseudonym_secret(session), hcp.id)  # type: ignore[attr-defined]
    interactions = _read(lake, "interactions")
    assert {row["bucket"] for row in interactions} == {
        int(str(row["id"])) // 10 for row in interactions
    }
    assert sum(row["stakeholder_key"] == key for row in interactions) == 13
    everything = json.dumps(
        [_read(lake, name) for name in ("stakeholders", "interactions", "answers", "cases")],
        default=str,
    )
    for words in ("Herrmann", "anna@clinic.example", "renal", "never listens", "upset"):
        assert words not in everything
    assert "stakeholder_id" not in interactions[0]
    answers = _read(lake, "answers")
    assert [row["question_code"] for row in answers] == ["nps", "comment"]
    assert answers[0]["value_number"] == 3.0 and set(answers[1]) >= {"value_choices"}
    assert "value_text" not in answers[0]
    feedback = _read(lake, "feedback")
    assert feedback[0]["themes"] == ["rep_quality"] and "text" not in feedback[0]
    assert {row["type"] for row in _read(lake, "stakeholders")} >= {"hcp", "patient"}
    entry = session.query(AuditLogEntry).filter_by(action="lake_export").one()
    assert entry.user_id == analyst.user_id


def test_a_rerun_writes_only_what_changed(
    session: Session, store: dict[str, object], tmp_path: Path
) -> None:
    analyst = _principal(session, Role.ANALYST)
    lake = tmp_path / "lake"

    def run() -> dict[str, tuple[int, int, int]]:
        report = export_lake(session, target=lake, principal=analyst, bucket_size=10)
        return {d.name: (d.written, d.unchanged, d.removed) for d in report.datasets}

    first = run()
    buckets = {row["bucket"] for row in _read(lake, "interactions")}
    assert first["interactions"] == (len(buckets), 0, 0) and len(buckets) >= 3
    oldest = (
        lake / "interactions" / f"bucket={min(int(str(b)) for b in buckets)}" / "part-0.parquet"
    )
    before = oldest.stat().st_mtime_ns
    assert all(written == 0 for written, _, _ in run().values())
    assert oldest.stat().st_mtime_ns == before

    # A new interaction lands in the newest bucket; only that one is written.
    make_interaction(session, stakeholder=store["hcp"], occurred_at=datetime(2025, 4, 1))  # type: ignore[arg-type]
    report = export_lake(session, target=lake, principal=analyst, bucket_size=10)
    interactions = next(d for d in report.datasets if d.name == "interactions")
    assert (interactions.written, interactions.new_rows, interactions.rows) == (1, 1, 26)
    buckets = {row["bucket"] for row in _read(lake, "interactions")}

    # A change in place (no updated_at on interactions) is still found, in its own bucket.
    first_id = min(int(str(row["id"])) for row in _read(lake, "interactions"))
    session.execute(
        update(Interaction).where(Interaction.id == first_id).values(channel_code="phone")
    )
    assert run()["interactions"] == (1, len(buckets) - 1, 0)
    assert next(r for r in _read(lake, "interactions") if r["id"] == first_id)["channel_code"] == (
        "phone"
    )

    # Deleted rows leave the lake: a bucket emptied is removed, its folder too.
    last_bucket = max(int(str(row["id"])) for row in _read(lake, "interactions")) // 10
    session.execute(delete(Interaction).where(Interaction.id >= last_bucket * 10))
    assert run()["interactions"] == (0, len(buckets) - 1, 1)
    assert not (lake / "interactions" / f"bucket={last_bucket}").exists()
    assert all(int(str(row["id"])) < last_bucket * 10 for row in _read(lake, "interactions"))


def test_an_erasure_reaches_an_identified_lake(
    session: Session, store: dict[str, object], tmp_path: Path
) -> None:
    admin = _principal(session, Role.ADMIN)
    lake = tmp_path / "lake"
    export_lake(session, target=lake, principal=admin, identified=True, bucket_size=10)
    hcp = store["hcp"]
    people = {row["stakeholder_id"]: row for row in _read(lake, "stakeholders")}
    assert people[hcp.id]["display_name"] == "Dr Anna Herrmann"  # type: ignore[attr-defined]
    assert people[hcp.id]["email"] == "anna@clinic.example"  # type: ignore[attr-defined]
    cases = _read(lake, "cases")
    assert {row["case_type"] for row in cases} == {"detractor", "medical_inquiry"}

    erase_person(session, stakeholder_id=hcp.id, reason="request of 2025-06-01", actor_user_id=None)  # type: ignore[attr-defined]
    report = export_lake(session, target=lake, principal=admin, identified=True, bucket_size=10)
    stakeholders = next(d for d in report.datasets if d.name == "stakeholders")
    assert stakeholders.written == 1 and not report.rebuilt
    people = {row["stakeholder_id"]: row for row in _read(lake, "stakeholders")}
    erased = people[hcp.id]  # type: ignore[attr-defined]
    assert erased["email"] is None and "Herrmann" not in str(erased["display_name"])


def test_a_pseudonymised_run_replaces_an_identified_lake_whole(
    session: Session, store: dict[str, object], tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    export_lake(session, target=lake, principal=_principal(session, Role.ADMIN), identified=True)
    report = export_lake(session, target=lake, principal=_principal(session, Role.ANALYST))
    assert report.rebuilt
    people = _read(lake, "stakeholders")
    assert all("display_name" not in row and "stakeholder_id" not in row for row in people)


def test_refusals_are_clear_and_touch_nothing(
    session: Session, store: dict[str, object], tmp_path: Path
) -> None:
    analyst = _principal(session, Role.ANALYST)
    with pytest.raises(LakeRefused, match="may not see people's identity"):
        export_lake(session, target=tmp_path / "lake", principal=analyst, identified=True)
    assert not (tmp_path / "lake").exists()

    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(LakeError, match="not a CPXM lake"):
        export_lake(session, target=foreign, principal=analyst)
    assert [path.name for path in foreign.iterdir()] == ["holiday.jpg"]

    lake = tmp_path / "lake"
    export_lake(session, target=lake, principal=analyst)
    (lake / STATE_FILE).write_text("{ half a state", encoding="utf-8")
    with pytest.raises(LakeError, match="--full"):
        export_lake(session, target=lake, principal=analyst)
    report = export_lake(session, target=lake, principal=analyst, full=True)
    assert report.rebuilt and report.files_written == 6


def test_the_command_acts_for_a_person_on_a_fresh_store(tmp_path: Path) -> None:
    environment = {**os.environ, "CPXM_DATABASE_URL": f"sqlite:///{tmp_path / 'cpxm.db'}"}
    environment.pop("CPXM_TOKEN", None)

    def cpxm(*arguments: str) -> tuple[int, str]:
        done = cpxm_command(*arguments, environment=environment, cwd=tmp_path)
        return done.returncode, done.stdout + done.stderr

    assert cpxm("init")[0] == 0
    code, output = cpxm("lake", "export", "--to", "lake")
    assert code == 1 and "CPXM_TOKEN" in output
    assert cpxm("user", "add", "ana@x.example", "--role", "analyst", "--no-password")[0] == 0
    environment["CPXM_TOKEN"] = cpxm("token", "create", "--user", "ana@x.example")[1].strip()
    code, output = cpxm("lake", "export", "--to", "lake", "--identified")
    assert code == 1 and "may not see people's identity" in output
    code, output = cpxm("lake", "export", "--to", "lake")
    assert code == 0 and "lake rebuilt" in output and "interactions" in output, output
    state = json.loads((tmp_path / "lake" / STATE_FILE).read_text(encoding="utf-8"))
    assert state["identified"] is False and set(state["datasets"]) >= {"interactions", "cases"}
    code, output = cpxm("lake", "export", "--to", "lake")
    assert code == 0 and "lake updated" in output, output
