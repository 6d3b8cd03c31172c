"""The command line starts fast: domain command groups load only when invoked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpxm.cli import app
from cpxm.cli_lazy import LAZY_COMMANDS, load_command

runner = CliRunner()

# What a command that needs neither identity resolution nor the web app must not pay to start.
HEAVY_MODULES = ("splink", "duckdb", "weasyprint", "sklearn", "ibis")


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_each_lazy_command_loads_and_its_listed_help_is_its_own(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    own_help = command.get_short_help_str(limit=300)
    assert own_help.rstrip(".") == LAZY_COMMANDS[name].short_help.rstrip("."), (
        f"cpxm.cli_lazy.LAZY_COMMANDS[{name!r}].short_help no longer says what the command says"
    )
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f" {name} [OPTIONS]" in " ".join(result.output.split())


def test_top_level_help_lists_lazy_and_eager_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    listed = {line.split()[1] for line in result.output.splitlines() if line.startswith("│ ")}
    assert set(LAZY_COMMANDS) | {"init", "import", "quarantine", "serve"} <= listed


def test_an_unknown_command_is_still_refused() -> None:
    result = runner.invoke(app, ["resolv"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def _modules_after(arguments: list[str], tmp_path: Path) -> set[str]:
    """The top-level packages a fresh interpreter imported to run ``cpxm ARGUMENTS``."""
    script = (
        "import json, sys\n"
        "from cpxm.cli import app\n"
        "try:\n"
        f"    app({arguments!r})\n"
        "except SystemExit as end:\n"
        "    assert not end.code, end.code\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    environment = {**os.environ, "CPXM_DATABASE_URL": f"sqlite:///{tmp_path / 'cpxm.db'}"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_commands_start_without_the_heavy_libraries(tmp_path: Path) -> None:
    # Create the store first (init needs Alembic, which is allowed to load there).
    init = subprocess.run(
        [sys.executable, "-m", "cpxm", "init"],
        env={**os.environ, "CPXM_DATABASE_URL": f"sqlite:///{tmp_path / 'cpxm.db'}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    # Every store command is spared the heavy libraries, the web framework and the job queue
    # (the safety net's commit hook loads the queue only when feedback is committed); listing
    # the quarantine or the users even the import pipeline's pyarrow.
    light = {"pyarrow", "numpy", "fastapi", "alembic", "vaderSentiment", "huey", "redis"}
    unserved = {"fastapi", "huey", "redis"}
    for arguments, also_absent in (
        (["--help"], light),
        (["quarantine", "list"], light),
        (["user", "list"], light),
        (["survey", "rules"], light),
        (["cases", "--help"], unserved),
        (["db", "current"], unserved),
        # The PV queue lists stored cases: neither the screening's text models nor the holiday
        # calendars (half a second each) are needed to show them.
        (["safety", "queue"], light | {"holidays"}),
        (["mappings"], unserved),
    ):
        loaded = _modules_after(arguments, tmp_path)
        assert "cpxm" in loaded  # the probe ran the command, not an empty interpreter
        forbidden = set(HEAVY_MODULES) | also_absent
        assert not loaded & forbidden, (arguments, sorted(loaded & forbidden))
