"""A demo store made as a user makes it (``cpxm demo``), fitted and scored with the CLI, once per
session: the prediction tests read it and roll back whatever they change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from cpxm.db import make_engine

DEMO_SCALE = "0.3"
DEMO_SEED = "11"


@dataclass
class ScoredStore:
    engine: Engine
    url: str
    fit: dict[str, Any]  # `cpxm predict fit --json`
    score_output: str  # `cpxm predict score`


def run_cli(url: str, *args: str, timeout: float = 2400) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CPXM_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "cpxm", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def scored_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScoredStore]:
    path: Path = tmp_path_factory.mktemp("predict") / "demo.db"
    url = f"sqlite:///{path}"
    demo = run_cli(url, "demo", "--scale", DEMO_SCALE, "--seed", DEMO_SEED, "--drift", "--no-serve")
    assert demo.returncode == 0, demo.stderr
    fit = run_cli(url, "predict", "fit", "--json")
    assert fit.returncode == 0, fit.stderr
    score = run_cli(url, "predict", "score")
    assert score.returncode == 0, score.stderr
    engine = make_engine(url)
    yield ScoredStore(engine, url, json.loads(fit.stdout), score.stdout)
    engine.dispose()
