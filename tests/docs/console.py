"""Console examples of the docs: found, run in a shell as a user types them, and compared.

An example is a fenced ``console`` block in README.md or docs/*.md. Lines starting with ``$ ``
are commands (continued by a trailing backslash, an open quote, or a here-document up to its end
marker);
the lines after a command, up to the next one, are what it prints (stdout and stderr together).

The HTML comment right above a block says where it runs (``<!-- console: MODE -->``):

- no comment, or ``fresh``: an empty directory, so the store (the default, ``./cpxm.db``) does
  not exist yet and the example starts as a new user does (with ``cpxm init`` if it needs one);
- ``demo``: the directory's ``cpxm.db`` is a copy of the demo workspace,
  ``cpxm demo --scale 0.05 --no-serve`` (seed 42), its admin's password ``docs-demo-passphrase``;
- ``server``: that demo served by ``cpxm serve``, ``$TOKEN`` an admin API token
  (``cpxm token create --user admin@meridel.example``), and ``http://127.0.0.1:8000`` in commands
  and output standing for the server's real address;
- ``skip REASON``: not run, for the reason given (a full-scale demo, say).

Each block runs in one ``bash`` (so ``TOKEN=...`` carries to the next command) with
``-o pipefail``, in a directory where ``docs`` is the repository's docs folder, with the
environment's ``CPXM_*`` settings removed (so the store is the default, ``./cpxm.db``) and
``COLUMNS=200`` (a wide terminal).

A command must exit 0, unless the next command is ``echo $?`` (whose output then shows the code)
or the output shown has a line starting with ``error:``. Its output must match the lines shown,
all of them and in order, ignoring blank lines, with runs of spaces and of box-drawing rules
(``━``, ``─``) counting as one. Placeholders in shown lines:

- ``...`` alone on a line: any number of lines; inside a line: any text;
- ``{id}``: a number; ``{token}``: a word without spaces; ``{seconds}``: a decimal number;
- ``{timestamp}``: an ISO 8601 date and time.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

MODES = ("fresh", "demo", "server", "skip")
DIRECTIVE = re.compile(r"^<!--\s*console:\s*(?P<mode>\w+)\s*(?P<rest>.*?)\s*-->$")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<marker>\w+)\1")
PLACEHOLDERS = {
    "...": ".*?",
    "{id}": r"\d+",
    "{token}": r"\S+",
    "{seconds}": r"\d+(?:\.\d+)?",
    "{timestamp}": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?",
}
RULES = re.compile(r"[━─═]+")
SPACES = re.compile(r"\s+")


@dataclass
class Command:
    text: str
    shown: list[str] = field(default_factory=list)
    line: int = 0


@dataclass
class Example:
    path: Path
    line: int
    mode: str
    reason: str
    commands: list[Command]

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.line}"


class DocError(ValueError):
    """A console block the runner cannot read; names the file and line."""


def find_examples(files: list[Path]) -> list[Example]:
    examples: list[Example] = []
    for path in files:
        examples.extend(_examples_in(path))
    return examples


def _examples_in(path: Path) -> list[Example]:
    lines = path.read_text(encoding="utf-8").splitlines()
    examples: list[Example] = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != "```console":
            index += 1
            continue
        start = index
        end = start + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise DocError(f"{path.name}:{start + 1}: a console block is never closed")
        mode, reason = _directive(path, lines, start)
        commands = _commands(path, lines[start + 1 : end], first_line=start + 2)
        examples.append(Example(path, start + 1, mode, reason, commands))
        index = end + 1
    return examples


def _directive(path: Path, lines: list[str], start: int) -> tuple[str, str]:
    above = start - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    matched = DIRECTIVE.match(lines[above].strip()) if above >= 0 else None
    if matched is None:
        return "fresh", ""
    mode, rest = matched["mode"], matched["rest"]
    if mode not in MODES:
        raise DocError(f"{path.name}:{above + 1}: console mode '{mode}' is not one of {MODES}")
    if mode == "skip" and not rest:
        raise DocError(f"{path.name}:{above + 1}: a skipped console block must say why")
    return mode, rest


def _commands(path: Path, block: list[str], *, first_line: int) -> list[Command]:
    commands: list[Command] = []
    index = 0
    while index < len(block):
        line = block[index]
        if not line.startswith("$ "):
            if not commands:
                raise DocError(f"{path.name}:{first_line + index}: output before any `$ ` command")
            commands[-1].shown.append(line)
            index += 1
            continue
        command = Command(text=line[2:], line=first_line + index)
        index += 1
        while (command.text.endswith("\\") or _open_quote(command.text)) and index < len(block):
            command.text += "\n" + block[index]
            index += 1
        heredoc = HEREDOC.search(command.text)
        if heredoc:
            while index < len(block) and block[index] != heredoc["marker"]:
                command.text += "\n" + block[index]
                index += 1
            if index == len(block):
                raise DocError(f"{path.name}:{command.line}: here-document never ends")
            command.text += "\n" + block[index]
            index += 1
        commands.append(command)
    return commands


def _open_quote(command: str) -> bool:
    """Whether a quote is still open at the end of the line, so the command goes on."""
    try:
        shlex.split(command, comments=True)
    except ValueError:
        return True
    return False


def normalise(line: str) -> str:
    return SPACES.sub(" ", RULES.sub("─", line)).strip()


@cache
def _pattern(shown: str) -> re.Pattern[str]:
    parts = re.split("(" + "|".join(re.escape(p) for p in PLACEHOLDERS) + ")", normalise(shown))
    return re.compile("".join(PLACEHOLDERS.get(part, re.escape(part)) for part in parts))


def mismatch(shown: list[str], actual: list[str]) -> str | None:
    """None if ``actual`` is what ``shown`` shows, else where they part."""
    expected = [line for line in shown if line.strip()]
    real = [normalise(line) for line in actual if line.strip()]

    @cache
    def matches(at_shown: int, at_real: int) -> bool:
        if at_shown == len(expected):
            return at_real == len(real)
        if expected[at_shown].strip() == "...":
            return any(matches(at_shown + 1, skip) for skip in range(at_real, len(real) + 1))
        return (
            at_real < len(real)
            and _pattern(expected[at_shown]).fullmatch(real[at_real]) is not None
            and matches(at_shown + 1, at_real + 1)
        )

    if matches(0, 0):
        return None
    return _first_difference(expected, real)


def _first_difference(expected: list[str], real: list[str]) -> str:
    for number, (want, got) in enumerate(zip(expected, real, strict=False), start=1):
        if want.strip() != "..." and not _pattern(want).fullmatch(got):
            return f"line {number}: shown {want.strip()!r}, printed {got!r}"
    return f"shown {len(expected)} line(s), printed {len(real)}"
