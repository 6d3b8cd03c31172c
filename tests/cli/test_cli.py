from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from cpxm.cli import app
from cpxm.db import make_engine

runner = CliRunner()


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'nested' / 'cpxm.db'}"


def test_help_lists_the_commands_a_user_starts_with() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "demo", "serve", "db"):
        assert command in result.output
    demo_help = runner.invoke(app, ["demo", "--help"]).output
    for option in ("--scale", "--seed", "--no-serve", "--port"):
        assert option in demo_help
    assert "upgrade" in runner.invoke(app, ["db", "--help"]).output


def test_init_creates_the_store_where_the_url_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _sqlite_url(tmp_path)
    monkeypatch.setenv("CPXM_DATABASE_URL", url)
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert "schema revision" in result.output
    assert "interactions" in inspect(make_engine(url)).get_table_names()
    again = runner.invoke(app, ["db", "upgrade"])
    assert again.exit_code == 0
    assert "->" in again.output
    assert "up to date" in runner.invoke(app, ["db", "current"]).output


def test_unreachable_database_fails_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("CPXM_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{port}/none")
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 1
    assert "cannot use the database at postgresql+psycopg://nobody@127.0.0.1" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_an_uninitialised_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPXM_DATABASE_URL", _sqlite_url(tmp_path))
    result = runner.invoke(app, ["serve", "--port", "8765"])
    assert result.exit_code == 1
    assert "run `cpxm init`" in result.output


def test_serve_reports_a_port_in_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPXM_DATABASE_URL", _sqlite_url(tmp_path))
    assert runner.invoke(app, ["init"]).exit_code == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot serve on 127.0.0.1:{port}" in result.output


def test_init_creates_a_new_folder_for_the_store_as_a_user_runs_it(tmp_path: Path) -> None:
    """In a process of its own: the job queue beside the store is opened when cpxm starts."""
    store = tmp_path / "new" / "folder" / "cpxm.db"
    environment = {key: value for key, value in os.environ.items() if key != "CPXM_JOBS_URL"}
    environment["CPXM_DATABASE_URL"] = f"sqlite:///{store}"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("cpxm")), "init"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert store.is_file()
    assert "interactions" in inspect(make_engine(f"sqlite:///{store}")).get_table_names()
