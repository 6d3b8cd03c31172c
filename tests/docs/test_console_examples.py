"""Every console example in README.md and docs/*.md, run as a user runs it (see ``console.py``).

In-process tests import every model and share one interpreter; a user's shell does neither.
This suite caught ``cpxm resolve`` failing on a fresh store, which every in-process test passed.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from cpxm.auth.service import create_api_token, get_user_by_email
from cpxm.backup import backup_store
from cpxm.db import make_engine
from tests.docs.console import DocError, Example, find_examples, mismatch

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = find_examples(DOCS)
BIN = Path(sys.executable).parent
DEMO_SCALE = "0.05"
DEMO_PASSWORD = "docs-demo-passphrase"
DEMO_ADMIN = "admin@meridel.example"
SHOWN_ADDRESS = "http://127.0.0.1:8000"
EXIT_MARK = "@@cpxm-docs-exit"
SERVER_LOG = "cpxm-serve.log"
MARK_LINE = re.compile(rf"^{EXIT_MARK} (\d+)@@$")
# Fewer means the parser lost blocks (or examples were skipped): fail here, not pass silently.
MINIMUM_RUN = 12


def _environment(store: Path | None = None) -> dict[str, str]:
    """A user's environment: no CPXM settings, so the store is ./cpxm.db, unless ``store``."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CPXM_")}
    if store is not None:
        environment["CPXM_DATABASE_URL"] = f"sqlite:///{store}"
    environment.update(
        PATH=f"{BIN}{os.pathsep}{environment.get('PATH', '')}",
        COLUMNS="200",
        TERM="dumb",
        NO_COLOR="1",
    )
    return environment


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo at scale 0.05, generated once for all pytest workers."""
    # pytest-xdist gives each worker a folder in the run's own; share the run's folder.
    run_folder = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_folder = run_folder.parent
    shared = run_folder / "docs-demo"
    shared.mkdir(exist_ok=True)
    store = shared / "demo.db"
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not store.exists():
            building = shared / "building" / "demo.db"
            environment = _environment(building)
            environment["CPXM_DEMO_ADMIN_PASSWORD"] = DEMO_PASSWORD
            done = subprocess.run(
                ["cpxm", "demo", "--scale", DEMO_SCALE, "--no-serve"],
                env=environment,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            engine = make_engine(f"sqlite:///{building}")
            backup_store(engine, out=store)
            engine.dispose()
    return store


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for(url: str, server: subprocess.Popen[str], *, seconds: float = 90) -> None:
    request = urllib.request.Request(url)  # noqa: S310 (loopback)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"cpxm serve ended with exit code {server.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 (loopback)
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer 200 within {seconds} s")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "docs").symlink_to(ROOT / "docs", target_is_directory=True)
    return tmp_path


@pytest.fixture
def served(workdir: Path, demo_store: Path) -> Iterator[tuple[str, str]]:
    """A copy of the demo served on a free loopback port: (address, admin API token)."""
    engine = make_engine(f"sqlite:///{demo_store}")
    backup_store(engine, out=workdir / "cpxm.db")
    engine.dispose()
    # What `cpxm token create --user admin@meridel.example` does, without a process to start.
    copy = make_engine(f"sqlite:///{workdir / 'cpxm.db'}")
    with Session(copy) as session:
        admin = get_user_by_email(session, email=DEMO_ADMIN)
        assert admin is not None
        token = create_api_token(session, user=admin, name="docs examples").token
        session.commit()
    copy.dispose()
    environment = _environment()
    port = _free_port()
    log = (workdir / SERVER_LOG).open("w", encoding="utf-8")
    server = subprocess.Popen(
        ["cpxm", "serve", "--port", str(port)],
        env=environment,
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        address = f"http://127.0.0.1:{port}"
        _wait_for(f"{address}/health", server)
        yield address, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _script(example: Example, address: str | None) -> str:
    lines = ["set -o pipefail"]
    for command in example.commands:
        text = command.text.replace(SHOWN_ADDRESS, address) if address else command.text
        lines.append(text)
        lines.append(f'__rc=$?; printf "\\n{EXIT_MARK} %s@@\\n" "$__rc"; (exit "$__rc")')
    return "\n".join(lines) + "\n"


def _run(example: Example, *, cwd: Path, address: str | None, token: str) -> None:
    environment = _environment()
    if token:
        environment["TOKEN"] = token
    done = subprocess.run(
        ["bash", "-c", _script(example, address)],
        env=environment,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )
    printed: list[list[str]] = [[]]
    codes: list[int] = []
    for line in done.stdout.splitlines():
        mark = MARK_LINE.match(line)
        if mark:
            codes.append(int(mark[1]))
            printed.append([])
        else:
            printed[-1].append(line)
    server_log = cwd / SERVER_LOG
    server_said = (  # for a failure's message
        "\n--- cpxm serve printed:\n" + server_log.read_text(encoding="utf-8")[-4000:]
        if server_log.exists()
        else ""
    )
    where = str(
        example.path.relative_to(ROOT) if example.path.is_relative_to(ROOT) else example.path
    )
    assert len(codes) == len(example.commands), (
        f"{where}:{example.line}: ran {len(codes)} of {len(example.commands)} commands:\n"
        + done.stdout
        + server_said
    )
    for position, (command, code, output) in enumerate(
        zip(example.commands, codes, printed, strict=False)
    ):
        shown = command.shown
        if address:
            shown = [line.replace(SHOWN_ADDRESS, address) for line in shown]
        next_command = example.commands[position + 1].text if position + 1 < len(codes) else ""
        may_fail = next_command.strip() == "echo $?" or any(
            line.startswith("error:") for line in shown
        )
        assert code == 0 or may_fail, (
            f"{where}:{command.line}: `{command.text}` exited {code}:\n"
            + "\n".join(output)
            + server_said
        )
        difference = mismatch(shown, output)
        assert difference is None, (
            f"{where}:{command.line}: `{command.text}` printed other than shown ({difference}):\n"
            + "\n".join(output)
            + server_said
        )


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.name for example in EXAMPLES])
def test_console_example(example: Example, request: pytest.FixtureRequest, workdir: Path) -> None:
    if example.mode == "skip":
        pytest.skip(f"{example.name}: {example.reason}")
    for tool in ("curl", "jq"):
        if shutil.which(tool) is None and any(
            re.search(rf"\b{tool}\b", command.text) for command in example.commands
        ):
            pytest.skip(f"{example.name} runs {tool}, which is not installed")
    address: str | None = None
    token = ""
    if example.mode == "demo":
        engine = make_engine(f"sqlite:///{request.getfixturevalue('demo_store')}")
        backup_store(engine, out=workdir / "cpxm.db")
        engine.dispose()
    elif example.mode == "server":
        address, token = request.getfixturevalue("served")
    _run(example, cwd=workdir, address=address, token=token)


def test_the_docs_have_examples_to_run() -> None:
    runnable = [example for example in EXAMPLES if example.mode != "skip"]
    assert len(runnable) >= MINIMUM_RUN, [example.name for example in runnable]
    assert sum(len(example.commands) for example in runnable) >= 2 * MINIMUM_RUN
    documents = {example.path.name for example in runnable}
    assert {"README.md", "identity-resolution.md", "operations.md"} <= documents
    walk = next(e for e in runnable if any("resolve" in c.text for c in e.commands))
    assert walk.mode == "fresh"  # import two exports and resolve them, as a new user does


def test_a_wrong_output_or_exit_code_fails(tmp_path: Path) -> None:
    """The comparison is not vacuous: a shown line that was not printed, or a failing command."""
    doc = tmp_path / "wrong.md"
    doc.write_text(
        "```console\n$ echo one; echo two\none\nthree\n```\n\n"
        "```console\n$ false\n```\n\n"
        "```console\n$ echo 'ran in 0.4 s, id 17'\nran in {seconds} s, id {id}\n```\n",
        encoding="utf-8",
    )
    wrong_line, wrong_code, placeholders = find_examples([doc])
    assert mismatch(wrong_line.commands[0].shown, ["one", "two"]) is not None
    with pytest.raises(AssertionError, match="exited 1"):
        _run(wrong_code, cwd=tmp_path, address=None, token="")
    _run(placeholders, cwd=tmp_path, address=None, token="")


@pytest.mark.parametrize(
    ("markdown", "message"),
    [
        ("<!-- console: skip -->\n```console\n$ true\n```\n", "must say why"),
        ("<!-- console: staging -->\n```console\n$ true\n```\n", "is not one of"),
        ("```console\nstray output\n$ true\n```\n", "output before any"),
        ("```console\n$ true\n", "never closed"),
    ],
)
def test_markup_a_runner_cannot_read_is_an_error(
    tmp_path: Path, markdown: str, message: str
) -> None:
    doc = tmp_path / "bad.md"
    doc.write_text(markdown, encoding="utf-8")
    with pytest.raises(DocError, match=message):
        find_examples([doc])
