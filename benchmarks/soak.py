"""Soak: everything a working day throws at one CPXM at once, on loopback, and a count of what
was acknowledged against what the store holds afterwards.

    uv run python -m benchmarks.soak                         # SQLite, then PostgreSQL; 120 s each
    uv run python -m benchmarks.soak --engine sqlite --duration 600

For each engine a fresh store gets a little reference data, 200 HCPs, the example survey with an
open link, an admin with an API token and an analyst with a password. ``cpxm serve`` runs it as a
user would: on SQLite with its embedded worker (the queue a file beside the store), on
PostgreSQL with a ``cpxm worker`` process on Redis (``CPXM_BENCH_REDIS_URL``, database 5, emptied
first). Then, side by side for ``--duration`` seconds (at most 600):

- survey submits: whole responses as JSON to ``/s/{open link}``, each with its own key;
- event pushes: ``POST /api/v1/events`` batches of 20 interactions;
- feedback posts: ``POST /api/v1/feedback``, each analysed (and safety-screened) by the worker;
- sign-ins: the sign-in form, then the overview page with the new session;
- a ``cpxm import`` of a 20,000-row call report in its own process, and a ``cpxm backup`` of the
  running store (SQLite) half-way through, restored afterwards into a new store whose counts
  must match the backup's moment (at least what had been acknowledged before it started);

and the worker analyses the feedback as it arrives. Reported per kind: requests, p50 and p99
latency, 5xx answers (target 0), other failures, and acknowledged against stored (target: equal).
After the load, the worker is given up to 120 s to finish the analysis; the time it took and
anything still pending are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from benchmarks.survey_submit import ANSWERS, EXAMPLE, free_port, fresh_store
from cpxm.auth.models import UserSession
from cpxm.auth.service import create_api_token, create_user
from cpxm.db import make_engine
from cpxm.feedback.models import FeedbackItem
from cpxm.interactions.models import Interaction
from cpxm.migrate import upgrade_database
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.definition import load_definition_file
from cpxm.surveys.distribution import create_open_link
from cpxm.surveys.models import Response
from cpxm.surveys.service import save_definition
from cpxm.workspace.models import Channel, Country, Department

ROOT = Path(__file__).resolve().parents[1]
CPXM = str(Path(sys.executable).with_name("cpxm"))
SOAK_REDIS = os.environ.get("CPXM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
PASSWORD = "soak-password-0123"  # noqa: S105 (a throwaway store's user)
IMPORT_ROWS = 20_000
EVENTS_PER_BATCH = 20
HCPS = 200
# The call report names CPXM stakeholder ids (the seeded HCPs have no source records).
SOAK_CALLS_MAPPING = """\
name: soak-calls
source_system: soak_crm
target: interactions
source_id: call_id
fields:
  stakeholder: {column: account_id, source_system: cpxm}
  occurred_at: call_datetime
  channel: {value: phone}
  department: {value: sales}
  interaction_type: {value: call}
  direction: {value: outbound}
  notes: call_notes
"""


@dataclass
class Tally:
    """What one kind of request saw: latencies of answered requests, statuses, failures."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    failures: int = 0
    acknowledged: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, seconds: float, status: int, acknowledged: int = 0) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[status] += 1
            self.acknowledged += acknowledged

    def fail(self) -> None:
        with self.lock:
            self.failures += 1

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "requests": len(ordered),
            "p50_ms": round(1000 * statistics.median(ordered), 1) if ordered else None,
            "p99_ms": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 1) if ordered else None,
            "5xx": sum(count for status, count in self.statuses.items() if status >= 500),
            "failures": self.failures,
            "statuses": dict(sorted(self.statuses.items())),
            "acknowledged": self.acknowledged,
        }


def seed(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade_database(engine)
    with Session(engine) as session:
        session.add_all(
            [
                Channel(code="email", name="Email", kind="digital"),
                Channel(code="phone", name="Phone", kind="remote"),
                Country(code="DE", name="Germany", default_language="de"),
                Department(code="sales", name="Sales"),
                Department(code="medical_affairs", name="Medical Affairs"),
            ]
        )
        session.flush()
        people = [
            Stakeholder(
                kind="person",
                type="hcp",
                display_name=f"Dr Soak {index}",
                first_name="Soak",
                last_name=str(index),
                country_code="DE",
                language="de",
            )
            for index in range(HCPS)
        ]
        session.add_all(people)
        document = load_definition_file(EXAMPLE)
        document["status"] = "active"
        survey = save_definition(session, document=document).survey
        link = create_open_link(session, survey=survey, label="soak")
        admin = create_user(session, email="admin@soak.example", role="admin")
        token = create_api_token(session, user=admin, name="soak").token
        create_user(session, email="analyst@soak.example", role="analyst", password=PASSWORD)
        session.commit()
        seeded = {
            "link": link.token,
            "token": token,
            "stakeholders": [person.id for person in people],
        }
    engine.dispose()
    return seeded


def counts(url: str) -> dict[str, int]:
    """What the store holds, by the kinds the soak writes."""
    engine = make_engine(url)
    with Session(engine) as session:

        def count(statement: Any) -> int:
            return int(session.scalar(statement) or 0)

        held = {
            "survey submits": count(
                select(func.count(Response.id)).where(Response.status == "complete")
            ),
            "event pushes": count(
                select(func.count(Interaction.id)).where(
                    Interaction.department_code == "medical_affairs"
                )
            ),
            "feedback posts": count(
                select(func.count(FeedbackItem.id)).where(FeedbackItem.source_kind == "web_form")
            ),
            "sign-ins": count(select(func.count(UserSession.id))),
            "import": count(
                select(func.count(Interaction.id)).where(Interaction.department_code == "sales")
            ),
            "pending analysis": count(
                select(func.count(FeedbackItem.id)).where(FeedbackItem.analysis_status == "pending")
            ),
        }
    engine.dispose()
    return held


def start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(  # noqa: S603
            command, env=env, cwd=cwd, stdout=sink, stderr=sink, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until_up(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"cpxm serve exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("cpxm serve did not answer within 120 s")


def call_report_csv(path: Path, stakeholder_ids: list[int]) -> None:
    start_day = datetime(2025, 1, 1, 9, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as out:
        out.write("call_id,account_id,call_datetime,call_notes\n")
        for index in range(IMPORT_ROWS):
            when = (start_day + timedelta(minutes=37 * index)).strftime("%Y-%m-%dT%H:%M:%SZ")
            person = stakeholder_ids[index % len(stakeholder_ids)]
            out.write(f"S{index},{person},{when},call {index}\n")


def run(engine_name: str, duration: float, workdir: Path) -> dict[str, Any]:
    url = fresh_store(engine_name, workdir)
    seeded = seed(url)
    env = {**os.environ, "CPXM_DATABASE_URL": url, "CPXM_SECRET_KEY": "soak-secret-0123456789"}
    env.pop("CPXM_JOBS_URL", None)
    processes: list[subprocess.Popen[bytes]] = []
    if engine_name == "postgresql":
        import redis

        redis.Redis.from_url(SOAK_REDIS).flushdb()
        env["CPXM_JOBS_URL"] = SOAK_REDIS
        processes.append(start([CPXM, "worker"], env, workdir, workdir / "worker.log"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_log = workdir / "serve.log"
    server = start(
        [CPXM, "serve", "--host", "127.0.0.1", "--port", str(port)], env, workdir, server_log
    )
    processes.append(server)
    tallies: dict[str, Tally] = defaultdict(Tally)
    try:
        wait_until_up(base, server, server_log)
        stop_at = time.monotonic() + duration
        api_headers = {"Authorization": f"Bearer {seeded['token']}"}
        stakeholders: list[int] = seeded["stakeholders"]

        def timed(
            kind: str, send: Callable[[], httpx.Response], acknowledge: Callable[..., int]
        ) -> None:
            began = time.perf_counter()
            try:
                answer = send()
            except httpx.HTTPError:
                tallies[kind].fail()
                return
            tallies[kind].record(
                time.perf_counter() - began, answer.status_code, acknowledge(answer)
            )

        def submits() -> None:
            with httpx.Client(base_url=base, timeout=60) as client:
                while time.monotonic() < stop_at:
                    key = "".join(random.choices(string.ascii_letters + string.digits, k=22))
                    timed(
                        "survey submits",
                        lambda key=key: client.post(  # type: ignore[misc]
                            f"/s/{seeded['link']}", json={"answers": ANSWERS, "key": key}
                        ),
                        lambda answer: int(answer.status_code == 201),
                    )

        def events() -> None:
            sequence = 0
            with httpx.Client(base_url=base, timeout=60, headers=api_headers) as client:
                while time.monotonic() < stop_at:
                    batch = []
                    for _ in range(EVENTS_PER_BATCH):
                        sequence += 1
                        batch.append(
                            {
                                "source_system": "soak",
                                "source_id": f"{threading.get_ident()}-{sequence}",
                                "stakeholder_id": random.choice(stakeholders),
                                "occurred_at": "2025-06-02T10:00:00Z",
                                "channel": "email",
                                "department": "medical_affairs",
                                "interaction_type": "email",
                            }
                        )
                    timed(
                        "event pushes",
                        lambda batch=batch: client.post(  # type: ignore[misc]
                            "/api/v1/events", json={"events": batch}
                        ),
                        lambda answer: (
                            int(answer.json()["created"]) if answer.status_code == 200 else 0
                        ),
                    )

        def feedback() -> None:
            with httpx.Client(base_url=base, timeout=60, headers=api_headers) as client:
                while time.monotonic() < stop_at:
                    text = random.choice(
                        [
                            "The rep never called back about the samples.",
                            "After the second dose I had a rash and headaches.",
                            "The webinar was excellent, thank you.",
                        ]
                    )
                    timed(
                        "feedback posts",
                        lambda text=text: client.post(  # type: ignore[misc]
                            "/api/v1/feedback",
                            json={
                                "source_kind": "web_form",
                                "text": text,
                                "stakeholder_id": random.choice(stakeholders),
                            },
                        ),
                        lambda answer: int(answer.status_code == 201),
                    )

        def sign_ins() -> None:
            with httpx.Client(base_url=base, timeout=60) as client:
                while time.monotonic() < stop_at:
                    client.cookies.clear()
                    try:
                        page = client.get("/auth/sign-in")
                        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                        form_cookie = page.cookies.get("cpxm_sign_in_csrf")
                    except httpx.HTTPError:
                        tallies["sign-ins"].fail()
                        continue
                    if not found or not form_cookie:
                        tallies["sign-ins"].record(0.0, page.status_code)
                        continue
                    client.cookies.clear()
                    form = {
                        "email": "analyst@soak.example",
                        "password": PASSWORD,
                        "csrf_token": found.group(1),
                        "next": "/",
                    }
                    timed(
                        "sign-ins",
                        lambda form=form, form_cookie=form_cookie: client.post(  # type: ignore[misc]
                            "/auth/sign-in",
                            data=form,
                            headers={"Cookie": f"cpxm_sign_in_csrf={form_cookie}"},
                        ),
                        lambda answer: int(answer.status_code == 303),
                    )
                    cookie = client.cookies.get("cpxm_session")
                    client.cookies.clear()
                    if cookie:
                        timed(
                            "pages after sign-in",
                            lambda cookie=cookie: client.get(  # type: ignore[misc]
                                "/", headers={"Cookie": f"cpxm_session={cookie}"}
                            ),
                            lambda answer: int(answer.status_code == 200),
                        )

        workers = [
            threading.Thread(target=target, daemon=True)
            for target in (submits, submits, events, feedback, feedback, sign_ins)
        ]
        for worker in workers:
            worker.start()
        calls = workdir / "calls.csv"
        call_report_csv(calls, stakeholders)
        mapping = workdir / "soak-calls.yaml"
        mapping.write_text(SOAK_CALLS_MAPPING, encoding="utf-8")
        importing = subprocess.run(  # noqa: S603
            [CPXM, "import", str(calls), "--mapping", str(mapping)],
            env=env, cwd=workdir, capture_output=True, text=True, check=False,
        )  # fmt: skip
        backup: dict[str, Any] = {}
        if engine_name == "sqlite":
            backup = take_backup(env, workdir, tallies)
        for worker in workers:
            worker.join()
        drain_started = time.monotonic()
        held = counts(url)
        while held["pending analysis"] and time.monotonic() - drain_started < 120:
            time.sleep(1)
            held = counts(url)
        drained_in = time.monotonic() - drain_started
    finally:
        for process in reversed(processes):
            stop(process)
    created = re.search(r"created ([\d,]+)", importing.stdout)
    kinds = {kind: tally.summary() for kind, tally in sorted(tallies.items())}
    for kind, summary in kinds.items():
        if kind in held:
            summary["stored"] = held[kind]
    kinds["import"] = {
        "exit": importing.returncode,
        "acknowledged": int(created.group(1).replace(",", "")) if created else None,
        "stored": held["import"],
        "stderr": importing.stderr.strip()[-300:],
    }
    return {
        "engine": engine_name,
        "duration_s": duration,
        "kinds": kinds,
        "analysis": {"pending_after_drain": held["pending analysis"], "drained_in_s": drained_in},
        "backup": backup,
        "server_errors_logged": server_log.read_text(errors="replace").count("Traceback"),
    }


def take_backup(env: dict[str, str], workdir: Path, tallies: dict[str, Tally]) -> dict[str, Any]:
    """``cpxm backup`` while the load runs, then ``cpxm restore`` into a new store: its counts
    must hold everything acknowledged before the backup began."""
    before = {kind: tally.acknowledged for kind, tally in tallies.items()}
    target = workdir / "backup.db"
    began = time.perf_counter()
    backed = subprocess.run(  # noqa: S603
        [CPXM, "backup", str(target)], env=env, cwd=workdir, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - began
    if backed.returncode != 0:
        return {"exit": backed.returncode, "error": backed.stderr.strip()[-300:]}
    restored_url = f"sqlite:///{workdir / 'restored.db'}"
    restored = subprocess.run(  # noqa: S603
        [CPXM, "restore", str(target)],
        env={**env, "CPXM_DATABASE_URL": restored_url}, cwd=workdir, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    if restored.returncode != 0:
        return {"exit": restored.returncode, "error": restored.stderr.strip()[-300:]}
    held = counts(restored_url)
    missing = {
        kind: before[kind] - held[kind]
        for kind in before
        if kind in held and held[kind] < before[kind]
    }
    return {"seconds": round(seconds, 2), "restored_counts": held, "missing": missing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--duration", type=float, default=120.0)
    args = parser.parse_args()
    duration = min(args.duration, 600.0)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    for engine_name in engines:
        workdir = Path(tempfile.mkdtemp(prefix=f"cpxm-soak-{engine_name}-"))
        try:
            result = run(engine_name, duration, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
