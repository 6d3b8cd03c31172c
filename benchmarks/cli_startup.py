"""How long `cpxm` commands take to start and finish on a small store, as a user runs them.

Each command runs in a fresh interpreter (the installed `cpxm` script's Python, `-m cpxm`) on a
fresh SQLite store; the median of ``--repeat`` runs is reported with its wall and CPU seconds
(children's CPU, from os.times), beside a bare interpreter and one that only imports SQLAlchemy's
ORM, the floor any store command pays. CPU seconds swing less than wall time on a shared machine.

    uv run python -m benchmarks.cli_startup [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS: list[list[str]] = [
    ["--help"],
    ["quarantine", "list"],
    ["db", "current"],
    ["mappings"],
    ["cases", "--help"],
    ["user", "list"],
    ["survey", "rules"],
    ["safety", "queue"],
]
FLOORS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "python -c 'import sqlalchemy.orm'": ["-c", "import sqlalchemy.orm"],
}


def _run(arguments: list[str], environment: dict[str, str], cwd: Path) -> tuple[float, float]:
    before_cpu = os.times()
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 -- this interpreter and fixed arguments
        [sys.executable, *arguments], env=environment, cwd=cwd, capture_output=True, check=False
    )
    wall = time.perf_counter() - started
    after_cpu = os.times()
    if done.returncode != 0:
        raise SystemExit(f"{arguments} failed: {done.stderr.decode()[-400:]}")
    cpu = (after_cpu.children_user - before_cpu.children_user) + (
        after_cpu.children_system - before_cpu.children_system
    )
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        cwd = Path(directory)
        environment = {**os.environ, "CPXM_DATABASE_URL": f"sqlite:///{cwd / 'cpxm.db'}"}
        _run(["-m", "cpxm", "init"], environment, cwd)
        rows = [(label, arguments) for label, arguments in FLOORS.items()] + [
            ("cpxm " + " ".join(command), ["-m", "cpxm", *command]) for command in COMMANDS
        ]
        print(f"{'command':<40} {'wall s (median)':>16} {'cpu s (median)':>15}")
        for label, arguments in rows:
            _run(arguments, environment, cwd)  # warm the file cache and bytecode
            runs = [_run(arguments, environment, cwd) for _ in range(options.repeat)]
            wall = statistics.median(run[0] for run in runs)
            cpu = statistics.median(run[1] for run in runs)
            print(f"{label:<40} {wall:>16.2f} {cpu:>15.2f}")


if __name__ == "__main__":
    main()
