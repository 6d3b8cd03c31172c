"""Benchmark: submitting a 10-question survey response over HTTP, against a bare Starlette
endpoint doing the same insert on the same database; and the respondent page's server time.

    uv run python -m benchmarks.survey_submit                      # SQLite and PostgreSQL
    uv run python -m benchmarks.survey_submit --engine postgresql --duration 20

Needs Debian's ``wrk`` (``apt-get install -y wrk``; the script says so and stops without it),
PostgreSQL at ``CPXM_BENCH_POSTGRES_URL`` (a database it drops and creates) and, if it answers,
Redis at ``CPXM_BENCH_REDIS_URL`` (default database 4, which it empties after each run).

For each engine: a fresh migrated store gets the example survey (docs/examples/
survey-hcp-pulse.yaml: ten questions of every type) and an open link. The CPXM app is served by
uvicorn (``uvicorn cpxm.app:create_app --factory --workers N``, as a user would; two workers,
one per core, by default) and wrk (one thread, on loopback; one run each at 4, 8 and 16
connections, a latency-throughput curve) POSTs whole responses as JSON to ``/s/{open link}``,
each with its own random resume key, so every request stores a new response: checked against the
survey's scales, ten answers, a feedback item for the comment, completed once, its comment's
analysis enqueued after commit (on Redis as in production, else a SQLite queue file; no worker
drains it during the run). Then the bare endpoint (``bare_app`` below, plain Starlette + one
SQLAlchemy Core transaction inserting the response and its ten answers, no checks) takes the
same load on the same database with as many workers. Zero lost: responses acknowledged (2xx)
must all be stored, counted in the store afterwards.

A server is used only once every worker has reported "Application startup complete.": the
port opens as soon as uvicorn's supervisor binds it, while the workers still import the app,
and a run started then timed out on every request (the "two workers answered nothing" of an
earlier session).

The respondent page: wrk GETs page 1 of a personal invitation; wrk's p95 on loopback is the
server time (plus a loopback hop). Page weight is the HTML plus the one stylesheet it loads.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cpxm.db import make_engine
from cpxm.migrate import upgrade_database
from cpxm.stakeholders.models import Stakeholder
from cpxm.surveys.definition import load_definition_file
from cpxm.surveys.distribution import create_open_link
from cpxm.surveys.models import Answer, Invitation, Question, Response, Survey
from cpxm.surveys.responding import new_token
from cpxm.surveys.service import save_definition
from cpxm.timeutil import utc_now
from cpxm.workspace.models import Channel

ROOT = Path(__file__).resolve().parents[1]
WARM_UP_SECONDS = 10
EXAMPLE = ROOT / "docs" / "examples" / "survey-hcp-pulse.yaml"
POSTGRES_URL = os.environ.get(
    "CPXM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/cpxm_bench_submit"
)
# The benchmark's own Redis database (issue 4), emptied after each run.
BENCH_REDIS = os.environ.get("CPXM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
ANSWERS: dict[str, Any] = {
    "nps": 4,
    "reason": "The rep visits too often; the MSL was helpful.",
    "detractor_followup": "yes",
    "csat": 3,
    "ces": 5,
    "information_quality": 4,
    "channels": ["email", "webinar"],
    "services": {"portal": 4, "samples": 2},
    "portal_chat": {"functional": "like", "dysfunctional": "neutral"},
    "nurse_access": "usually",
}
LUA = """
local counter = 0
local charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  math.randomseed(os.time() * 1000 + id)
end
local template = %(template)s
local path = %(path)s
local method = %(method)s
local headers = {["Content-Type"] = "application/json"}
function request()
  if method == "GET" then
    return wrk.format("GET", path)
  end
  local key = {}
  for i = 1, 22 do
    local r = math.random(1, 62)
    key[i] = charset:sub(r, r)
  end
  return wrk.format("POST", path, headers, string.format(template, table.concat(key)))
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, "connect": %%d, ' ..
    '"read": %%d, "write": %%d, "status": %%d, "timeout": %%d, "p50": %%d, "p95": %%d, ' ..
    '"p99": %%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


# --- the reference: a bare Starlette endpoint doing the same insert -------------------------


def bare_app() -> Starlette:
    """Plain Starlette: parse the JSON, insert the response and its ten answers, answer 201."""
    engine = make_engine()
    with Session(engine) as session:
        survey = session.scalars(select(Survey)).one()
        question_ids = dict(
            session.execute(
                select(Question.code, Question.id).where(Question.survey_id == survey.id)
            ).all()
        )
    survey_id = survey.id

    def submit(request_body: dict[str, Any]) -> int:
        now = utc_now()
        with engine.begin() as connection:
            response_id = connection.execute(
                insert(Response)
                .values(
                    survey_id=survey_id,
                    survey_version=1,
                    language="en",
                    status="complete",
                    started_at=now,
                    submitted_at=now,
                    resume_token=request_body["key"],
                )
                .returning(Response.id)
            ).scalar_one()
            rows = []
            for code, value in request_body["answers"].items():
                row: dict[str, Any] = {
                    "response_id": response_id,
                    "question_id": question_ids[code],
                    "value_number": None,
                    "value_text": None,
                    "value_choices": None,
                }
                if isinstance(value, int | float):
                    row["value_number"] = float(value)
                elif isinstance(value, list | dict):
                    row["value_choices"] = value if isinstance(value, list) else list(value)
                else:
                    row["value_text"] = value
                rows.append(row)
            connection.execute(insert(Answer), rows)
        return int(response_id)

    async def endpoint(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        from starlette.concurrency import run_in_threadpool

        response_id = await run_in_threadpool(submit, body)
        return JSONResponse({"response_id": response_id}, status_code=201)

    return Starlette(routes=[Route("/submit", endpoint, methods=["POST"])])


# --- set-up, servers and load --------------------------------------------------------------


def fresh_store(engine_name: str, workdir: Path) -> str:
    if engine_name == "sqlite":
        return f"sqlite:///{workdir / 'submit.db'}"
    parsed = make_url(POSTGRES_URL)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    return parsed.render_as_string(hide_password=False)


def seed(url: str) -> tuple[str, str]:
    """The survey, an open link (for submits) and an invitation (for the page); their tokens."""
    engine = make_engine(url)
    upgrade_database(engine)
    with Session(engine) as session:
        session.add(Channel(code="email", name="Email", kind="digital"))
        document = load_definition_file(EXAMPLE)
        document["status"] = "active"
        survey = save_definition(session, document=document).survey
        link = create_open_link(session, survey=survey, label="benchmark")
        person = Stakeholder(
            kind="person", type="hcp", display_name="Ada Lovelace", first_name="Ada", language="en"
        )
        session.add(person)
        session.flush()
        invitation = Invitation(
            survey_id=survey.id,
            stakeholder_id=person.id,
            token=new_token(),
            channel_code="email",
            status="sent",
            sent_at=utc_now(),
            expires_at=utc_now() + timedelta(days=30),
        )
        session.add(invitation)
        session.commit()
        tokens = (link.token, invitation.token)
    engine.dispose()
    return tokens


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def jobs_queue(workdir: Path) -> str:
    """Where the servers enqueue jobs: Redis as in production when it answers, else a file.

    Every commit that writes a comment enqueues its analysis (issue 5); no worker drains the
    queue during the run, so the figure is the submit path alone, as a web tier sees it.
    """
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return BENCH_REDIS
    except OSError:
        return f"sqlite:///{workdir / 'jobs.db'}"


def start_server(app: str, url: str, port: int, workers: int, jobs: str) -> subprocess.Popen[bytes]:
    """uvicorn with ``workers`` processes; returns once every worker has started its app.

    The port accepts connections as soon as uvicorn's supervisor binds it, long before the
    workers have imported the app (seconds each, more on a busy machine): requests sent then
    wait in the listen queue, and a load run that starts too early times out on all of them.
    So readiness is each worker's "Application startup complete." line, not the open port.
    """
    env = {**os.environ, "CPXM_DATABASE_URL": url, "CPXM_JOBS_URL": jobs}
    command = [
        sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--log-level", "info",
        "--no-access-log", "--timeout-worker-healthcheck", "120",
    ]  # fmt: skip
    server = subprocess.Popen(  # noqa: S603
        command, cwd=ROOT, env=env, start_new_session=True, stderr=subprocess.PIPE
    )
    started = threading.Semaphore(0)

    def relay() -> None:
        # Keep reading (a full pipe would block the server); show anything but routine lines.
        assert server.stderr is not None
        for raw in server.stderr:
            line = raw.decode(errors="replace")
            if "Application startup complete." in line:
                started.release()
            elif not line.startswith("INFO:"):
                sys.stderr.write(line)

    threading.Thread(target=relay, daemon=True).start()
    deadline = time.monotonic() + 300
    for _ in range(workers):
        if not started.acquire(timeout=max(0.0, deadline - time.monotonic())):
            stop_server(server)
            raise RuntimeError(f"{app}: not every worker started on port {port} within 300 s")
    return server


def stop_server(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def run_wrk(
    url: str, method: str, body_template: str, seconds: float, connections: int, threads: int
) -> dict[str, Any]:
    path = "/" + url.split("/", 3)[3]
    script = LUA % {
        "template": json.dumps(body_template),
        "path": json.dumps(path),
        "method": json.dumps(method),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    command = [
        "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{int(seconds)}s",
        "--timeout", "10s", "-s", handle.name, url,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    Path(handle.name).unlink()
    line = next(line for line in output.splitlines() if line.startswith("WRKJSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    errors = result["connect"] + result["read"] + result["write"] + result["timeout"]
    result["acknowledged"] = result["requests"] - result["status"] - errors
    result["per_second"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def server_cpu_seconds(server: subprocess.Popen[bytes]) -> float:
    """CPU time (user + system) used so far by the server and its worker processes (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree, grown = {server.pid}, True
    while grown:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        grown = bool(children)
        tree |= children
    return sum(used.get(pid, 0.0) for pid in tree)


def measured_run(
    server: subprocess.Popen[bytes],
    url: str,
    store: str,
    args: argparse.Namespace,
    connections: int,
) -> dict[str, Any]:
    """One measured load run: wrk's figures, responses stored, server CPU per request."""
    before, cpu_before = stored_responses(store), server_cpu_seconds(server)
    result = run_wrk(url, "POST", submit_body(), args.duration, connections, args.threads)
    result["connections"] = connections
    result["cpu_ms_per_request"] = (
        1000 * (server_cpu_seconds(server) - cpu_before) / max(result["requests"], 1)
    )
    time.sleep(0.5)
    result["stored"] = stored_responses(store) - before
    return result


def stored_responses(url: str) -> int:
    engine = make_engine(url)
    with Session(engine) as session:
        count = session.scalar(select(func.count(Response.id)).where(Response.status == "complete"))
    engine.dispose()
    return int(count or 0)


def submit_body() -> str:
    # %s is the per-request resume key, filled in by the Lua script.
    return json.dumps({"answers": ANSWERS, "key": "KEYPLACEHOLDER"}).replace("KEYPLACEHOLDER", "%s")


def measure(engine_name: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="cpxm-bench-submit-"))
    url = fresh_store(engine_name, workdir)
    link_token, invitation_token = seed(url)
    results: dict[str, Any] = {"engine": engine_name}
    jobs = jobs_queue(workdir)
    results["jobs"] = jobs
    port = free_port()
    server = start_server("cpxm.app:create_app", url, port, args.workers, jobs)
    try:
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/s/{invitation_token}") as page:  # noqa: S310
            html = page.read()
        with urllib.request.urlopen(f"{base}/static/respondent.css") as sheet:  # noqa: S310
            css = sheet.read()
        results["page_bytes"] = {"html": len(html), "css": len(css)}
        # Warm up at full load: the app builds its JS bundle and overview in a thread at start,
        # and connection pools fill; none of that is what a sustained wave of submits costs.
        run_wrk(
            f"{base}/s/{link_token}", "POST", submit_body(), WARM_UP_SECONDS,
            max(args.connections), args.threads,
        )  # fmt: skip
        results["cpxm"] = [
            measured_run(server, f"{base}/s/{link_token}", url, args, connections)
            for connections in args.connections
        ]
        run_wrk(f"{base}/s/{invitation_token}", "GET", "", 2, 4, 1)
        results["page"] = run_wrk(f"{base}/s/{invitation_token}", "GET", "", args.duration, 4, 1)
    finally:
        stop_server(server)
    port = free_port()
    server = start_server("benchmarks.survey_submit:bare_app", url, port, args.workers, jobs)
    try:
        base = f"http://127.0.0.1:{port}"
        run_wrk(
            f"{base}/submit", "POST", submit_body(), WARM_UP_SECONDS, max(args.connections),
            args.threads,
        )  # fmt: skip
        results["bare"] = [
            measured_run(server, f"{base}/submit", url, args, connections)
            for connections in args.connections
        ]
    finally:
        stop_server(server)
        empty_queue(jobs)
    if engine_name == "sqlite":
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def empty_queue(jobs: str) -> None:
    """Drop the analysis jobs the run enqueued (they name a store that is about to go)."""
    if jobs.startswith("redis://"):
        from redis import Redis

        Redis.from_url(jobs).flushdb()


def report(results: dict[str, Any]) -> None:
    page = results["page"]
    ms = 1000.0
    print(f"\n== {results['engine']} ==")
    for cpxm, bare in zip(results["cpxm"], results["bare"], strict=True):
        print(f"-- {cpxm['connections']} connections")
        for name, run in (("CPXM /s/{token} JSON", cpxm), ("bare Starlette insert", bare)):
            lost = max(0, run["acknowledged"] - run["stored"])
            print(
                f"{name:24s} {run['per_second']:7.0f} responses/s  "
                f"p50 {run['p50'] / ms:6.1f} ms  p99 {run['p99'] / ms:6.1f} ms  "
                f"acknowledged {run['acknowledged']}  stored {run['stored']}  lost {lost}  "
                f"non-2xx {run['status']}  server CPU {run['cpu_ms_per_request']:.2f} ms/response"
            )
        print(
            f"ratio CPXM / bare: throughput {cpxm['per_second'] / bare['per_second']:.2f}, "
            f"p99 {cpxm['p99'] / max(bare['p99'], 1):.2f}x"
        )
    weight = results["page_bytes"]
    print(
        f"respondent page: {page['per_second']:.0f} pages/s, p50 {page['p50'] / ms:.1f} ms, "
        f"p95 {page['p95'] / ms:.1f} ms, p99 {page['p99'] / ms:.1f} ms; weight "
        f"{weight['html']:,} B HTML + {weight['css']:,} B CSS"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per run")
    parser.add_argument(
        "--connections",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[4, 8, 16],
        help="wrk connections, one measured run each (comma-separated): a latency curve",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (wrk needs CPU too)")
    parser.add_argument(
        "--workers", type=int, default=2, help="uvicorn worker processes (one per core)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit(
            "survey_submit needs the load generator wrk, which is not installed; it comes from "
            "Debian: apt-get install -y wrk"
        )
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    for engine_name in engines:
        results = measure(engine_name, args)
        report(results)
        print("JSON " + json.dumps(results))


if __name__ == "__main__":
    main()
