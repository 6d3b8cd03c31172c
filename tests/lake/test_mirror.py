"""The store's tables in the lake (``--store-tables``): the store's shape, so the analytics'
expressions run on them unchanged, with identity, free text, secrets and every confidential
survey row left out, written only for a role that may see identity; and which expressions the
Spark engine may answer from them."""

from __future__ import annotations

import os
from pathlib import Path

import ibis
import pyarrow.dataset as ds
import pytest
from sqlalchemy.orm import Session

from cpxm.access.roles import Role
from cpxm.analytics.query import runs_on_lake, table
from cpxm.lake.export import STATE_FILE, LakeRefused, export_lake
from cpxm.lake.mirror import MIRROR_FOLDER, MIRRORED_TABLES, WITHHELD
from tests.lake.conftest import principal_of as _principal
from tests.served import cpxm_command


def _rows(lake: Path, name: str) -> list[dict[str, object]]:
    dataset = ds.dataset(lake / MIRROR_FOLDER / name, format="parquet", partitioning="hive")
    rows: list[dict[str, object]] = dataset.to_table().drop_columns(["bucket"]).to_pylist()
    return rows


def test_the_store_tables_keep_the_store_shape_and_leave_out_what_must_stay(
    session: Session, store: dict[str, object], tmp_path: Path
) -> None:
    admin = _principal(session, Role.ADMIN)
    lake = tmp_path / "lake"
    export_lake(session, target=lake, principal=admin, mirror=True, bucket_size=10)

    for name in MIRRORED_TABLES:
        folder = lake / MIRROR_FOLDER / name
        if not folder.exists():
            continue
        schema = ds.dataset(folder, format="parquet", partitioning="hive").schema
        expected = table(name).schema()
        assert [field.name for field in schema if field.name != "bucket"] == list(expected)

    hcp = store["hcp"]
    people = {row["id"]: row for row in _rows(lake, "stakeholders")}
    assert people[hcp.id]["type"] == "hcp"  # type: ignore[attr-defined]
    for column in WITHHELD["stakeholders"]:
        assert all(row[column] is None for row in people.values()), column
    assert all(row["notes"] is None for row in _rows(lake, "interactions"))
    assert len(_rows(lake, "interactions")) == 25
    answers = _rows(lake, "answers")
    # The score and the text answer; the pulse's answer left out.
    assert sorted(str(row["value_number"]) for row in answers) == ["3.0", "None"]
    assert all(row["value_text"] is None for row in answers)
    assert [row["stakeholder_id"] for row in _rows(lake, "responses")] == [hcp.id]  # type: ignore[attr-defined]
    assert all(row["text"] is None for row in _rows(lake, "feedback_items"))
    everything = b"".join(path.read_bytes() for path in lake.rglob("*.parquet"))
    for word in (b"Herrmann", b"listens", b"renal", b"anna@clinic"):
        assert word not in everything


def test_only_a_role_that_sees_identity_writes_the_store_tables(
    session: Session, store: dict[str, object], tmp_path: Path
) -> None:
    analyst = _principal(session, Role.ANALYST)
    with pytest.raises(LakeRefused, match="--store-tables needs a role that may"):
        export_lake(session, target=tmp_path / "lake", principal=analyst, mirror=True)
    assert not (tmp_path / "lake").exists()


def test_switching_the_store_tables_off_removes_them(
    session: Session, store: dict[str, object], tmp_path: Path
) -> None:
    admin = _principal(session, Role.ADMIN)
    lake = tmp_path / "lake"
    export_lake(session, target=lake, principal=admin, mirror=True)
    assert (lake / MIRROR_FOLDER / "answers").exists()
    report = export_lake(session, target=lake, principal=admin)
    assert report.rebuilt and not (lake / MIRROR_FOLDER / "answers").exists()


def test_the_lake_answers_figures_and_never_lists_people() -> None:
    answers = table("answers")
    stakeholders = table("stakeholders")
    assert runs_on_lake(answers.aggregate(n=answers.count()))
    by_type = stakeholders.group_by("type").aggregate(n=stakeholders.count())
    assert runs_on_lake(by_type)
    # A row per person, a withheld column, a table the lake does not hold: the store answers.
    assert not runs_on_lake(stakeholders.select("id", stakeholder_id=stakeholders.id))
    assert not runs_on_lake(answers.select("response_id", "value_text"))
    assert not runs_on_lake(stakeholders.select("type", "display_name"))
    audit = table("audit_log")
    assert not runs_on_lake(audit.aggregate(n=audit.count()))
    named = stakeholders.filter(stakeholders.email == ibis.literal("x@y.example"))
    assert not runs_on_lake(named.aggregate(n=named.count()))


def test_the_command_writes_the_store_tables_for_an_admin(tmp_path: Path) -> None:
    environment = {**os.environ, "CPXM_DATABASE_URL": f"sqlite:///{tmp_path / 'cpxm.db'}"}
    environment.pop("CPXM_TOKEN", None)

    def cpxm(*arguments: str) -> tuple[int, str]:
        done = cpxm_command(*arguments, environment=environment, cwd=tmp_path)
        return done.returncode, done.stdout + done.stderr

    assert cpxm("init")[0] == 0
    assert cpxm("user", "add", "ana@x.example", "--role", "analyst", "--no-password")[0] == 0
    assert cpxm("user", "add", "ad@x.example", "--role", "admin", "--no-password")[0] == 0
    environment["CPXM_TOKEN"] = cpxm("token", "create", "--user", "ana@x.example")[1].strip()
    code, output = cpxm("lake", "export", "--to", "lake", "--store-tables")
    assert code == 1 and "--store-tables needs a role" in output, output
    assert not (tmp_path / "lake").exists()
    environment["CPXM_TOKEN"] = cpxm("token", "create", "--user", "ad@x.example")[1].strip()
    code, output = cpxm("lake", "export", "--to", "lake", "--store-tables")
    assert code == 0 and "store/interactions" in output, output
    assert (tmp_path / "lake" / STATE_FILE).exists()
