"""Commands that change state act as the user of ``CPXM_TOKEN`` and refuse without one, or for
a role that may not do the work; as a user runs them, on a fresh store."""

from __future__ import annotations

import os
from pathlib import Path

from tests.served import cpxm_command


def test_case_jobs_run_by_hand_act_as_a_person(tmp_path: Path) -> None:
    environment = {**os.environ, "CPXM_DATABASE_URL": f"sqlite:///{tmp_path / 'cpxm.db'}"}
    environment.pop("CPXM_TOKEN", None)

    def cpxm(*arguments: str) -> tuple[int, str]:
        done = cpxm_command(*arguments, environment=environment, cwd=tmp_path)
        return done.returncode, done.stdout + done.stderr

    assert cpxm("init")[0] == 0
    for command in (("cases", "scan"), ("cases", "sweep")):
        code, output = cpxm(*command)
        assert code == 1 and "CPXM_TOKEN" in output, command
    assert cpxm("user", "add", "lead@x.example", "--role", "cx_lead", "--no-password")[0] == 0
    assert cpxm("user", "add", "viewer@x.example", "--role", "viewer", "--no-password")[0] == 0
    environment["CPXM_TOKEN"] = cpxm("token", "create", "--user", "viewer@x.example")[1].strip()
    code, output = cpxm("cases", "scan")
    assert code == 1 and "may not do this" in output
    environment["CPXM_TOKEN"] = cpxm("token", "create", "--user", "lead@x.example")[1].strip()
    code, output = cpxm("cases", "scan")
    assert code == 0 and "opened 0 case(s)" in output, output
    code, output = cpxm("cases", "sweep")
    assert code == 0 and "reminded 0 case(s)" in output, output
