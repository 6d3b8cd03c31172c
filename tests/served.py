"""CPXM as a user runs it: ``cpxm serve`` (and ``cpxm worker``) in processes of their own, on a
store the test gives, talked to over loopback.

In-process tests share one connection and one transaction with the app, so they cannot see what
only a real server shows: a commit that happens after the answer, a worker writing beside the
web requests, SQLite's lock between processes.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CPXM = str(Path(sys.executable).with_name("cpxm"))
PASSWORD = "served-test-password-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpxm_command(
    *arguments: str, environment: dict[str, str], cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run ``cpxm ARGUMENTS`` as a shell would; the caller checks the outcome."""
    return subprocess.run(
        [CPXM, *arguments],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Served:
    """A running server: its URL, the environment its processes share, and signed-in users."""

    url: str
    environment: dict[str, str]
    cwd: Path
    tokens: dict[str, str] = field(default_factory=dict)
    logs: list[Path] = field(default_factory=list)
    # Every server's URL when several run side by side (``servers=``); ``url`` is the first.
    urls: list[str] = field(default_factory=list)

    def cpxm(self, *arguments: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return cpxm_command(*arguments, environment=self.environment, cwd=self.cwd, timeout=timeout)

    def user(self, role: str) -> str:
        """The email of a user of ``role`` (created on first use, password ``PASSWORD``)."""
        email = f"{role}@served.example"
        if role not in self.tokens:
            added = self.cpxm("user", "add", email, "--role", role, "--password-env", "CPXM_PW")
            assert added.returncode == 0, added.stderr
            token = self.cpxm("token", "create", "--user", email)
            assert token.returncode == 0, token.stderr
            self.tokens[role] = token.stdout.strip().splitlines()[-1].strip()
        return email

    def client(self, role: str = "admin", **kwargs: object) -> httpx.Client:
        self.user(role)
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=60,
            **kwargs,  # type: ignore[arg-type]
        )

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.logs if path.exists())


def _wait_until_up(
    url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"cpxm serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"cpxm serve did not answer /health within {seconds:.0f} s:\n{log.read_text()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def served(
    database_url: str,
    workdir: Path,
    *,
    jobs_url: str | None = None,
    worker: bool = False,
    extra_environment: dict[str, str] | None = None,
    servers: int = 1,
    workers: int | None = None,
) -> Iterator[Served]:
    """``cpxm serve`` on ``database_url`` (the store must be migrated), plus ``cpxm worker``
    processes when ``worker`` (for a shared queue such as Redis). Stops them on exit.

    ``servers`` and ``workers`` run several of each side by side on the one store and queue,
    as a deployment behind a load balancer does; ``workers`` defaults to one when ``worker``."""
    environment = {
        **os.environ,
        "CPXM_DATABASE_URL": database_url,
        "CPXM_PW": PASSWORD,
        "CPXM_SECRET_KEY": "served-tests-secret-key-0123456789",
        **(extra_environment or {}),
    }
    environment.pop("CPXM_JOBS_URL", None)  # the tests' "immediate" queue is not a server's
    if jobs_url:
        environment["CPXM_JOBS_URL"] = jobs_url
    worker_count = workers if workers is not None else (1 if worker else 0)
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    urls: list[str] = []
    try:
        for number in range(worker_count):
            worker_log = workdir / ("worker.log" if number == 0 else f"worker-{number + 1}.log")
            logs.append(worker_log)
            with worker_log.open("wb") as sink:
                processes.append(
                    subprocess.Popen(
                        [CPXM, "worker"], env=environment, cwd=workdir, stdout=sink, stderr=sink
                    )
                )
        started: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        for number in range(servers):
            port = free_port()
            server_log = workdir / ("serve.log" if number == 0 else f"serve-{number + 1}.log")
            logs.append(server_log)
            with server_log.open("wb") as sink:
                server = subprocess.Popen(
                    [CPXM, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=environment,
                    cwd=workdir,
                    stdout=sink,
                    stderr=sink,
                )
            processes.append(server)
            started.append((f"http://127.0.0.1:{port}", server, server_log))
        for url, server, server_log in started:
            # Several processes start at once on a small machine: give each its share of time.
            _wait_until_up(url, server, server_log, seconds=60 * (servers + worker_count))
            urls.append(url)
        yield Served(url=urls[0], environment=environment, cwd=workdir, logs=logs, urls=urls)
    finally:
        for process in reversed(processes):
            _stop(process)


def post_sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    """The sign-in form filled and posted as a browser does; the answer, whatever it is."""
    page = client.get("/auth/sign-in")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the sign-in page has no CSRF field"
    form_cookie = page.cookies.get("cpxm_sign_in_csrf")
    assert form_cookie
    return client.post(
        "/auth/sign-in",
        data={"email": email, "password": password, "csrf_token": found.group(1), "next": "/"},
        headers={"Cookie": f"cpxm_sign_in_csrf={form_cookie}"},
        follow_redirects=False,
    )


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> str:
    """Sign in through the pages as a browser does; the session cookie's value.

    The cookie is Secure, which httpx (unlike a browser on localhost) keeps from plain HTTP, so
    it is returned for the caller to send.
    """
    answer = post_sign_in(client, email, password)
    assert answer.status_code == 303, answer.text
    session_cookie = answer.cookies.get("cpxm_session")
    assert session_cookie
    return session_cookie
