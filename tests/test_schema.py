"""``cpxm.schema`` names every table, and the ``cpxm`` command loads it before any ORM work.

A model module missing from ``cpxm.schema`` leaves the mapper unable to resolve foreign keys to
its tables in a process that did not happen to import it (``cpxm resolve`` on a fresh store
failed on 'journey_stages'), and leaves Alembic's autogenerate and the merge's walk over the
schema blind to it. Each probe runs in a fresh interpreter, so this test's own imports hide
nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

TABLES_AFTER = """\
import importlib, json, sys
for name in sys.argv[1:]:
    module, _, function = name.partition(":")
    loaded = importlib.import_module(module)
    if function:
        getattr(loaded, function)()
from cpxm.db import Base
print(json.dumps(sorted(Base.metadata.tables)))
"""

EVERY_MODULE = """\
import pkgutil, cpxm
print(" ".join(
    module.name for module in pkgutil.walk_packages(cpxm.__path__, "cpxm.")
    if not module.name.endswith("__main__")
))
"""


def _tables_after_importing(*modules: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", TABLES_AFTER, *modules],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    tables: list[str] = json.loads(done.stdout)
    return tables


def test_schema_and_the_command_line_load_the_tables_of_every_module() -> None:
    modules = subprocess.run(
        [sys.executable, "-c", EVERY_MODULE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(modules) > 100, modules  # the walk found the package, not an empty folder
    every_table = _tables_after_importing(*modules)
    assert {"stakeholders", "journey_stages", "interactions", "import_runs"} <= set(every_table)

    assert _tables_after_importing("cpxm.schema") == every_table
    # Help alone loads no table; every command loads them all before it runs.
    assert "stakeholders" not in _tables_after_importing("cpxm.cli")
    assert _tables_after_importing("cpxm.cli", "cpxm.cli_lazy:load_for_commands") == every_table
