"""Every wide table scrolls inside a box a keyboard can reach: on a phone a table wider than the
screen scrolls in its ``.table-scroll`` box, and axe-core counts a scrolling box that cannot
take focus as a serious violation (the demo's overview and survey pages had them at 390 px)."""

from __future__ import annotations

import re

from cpxm.web.templating import TEMPLATES_DIRECTORY

SCROLL_BOX = re.compile(r'<div class="[^"]*\btable-scroll\b[^"]*"[^>]*>')
DATA_TABLE = re.compile(r'<table class="[^"]*\b(numbers|data-table|data)\b')


def _templates() -> dict[str, str]:
    found = {
        str(path.relative_to(TEMPLATES_DIRECTORY)): path.read_text(encoding="utf-8")
        for path in sorted(TEMPLATES_DIRECTORY.rglob("*.html"))
    }
    assert len(found) > 40, "the templates were not found"
    return found


def test_every_scroll_box_takes_focus() -> None:
    boxes = [(name, box) for name, text in _templates().items() for box in SCROLL_BOX.findall(text)]
    assert len(boxes) > 30
    assert [box for box in boxes if 'tabindex="0"' not in box[1]] == []


def test_every_data_table_sits_in_a_scroll_box() -> None:
    loose = []
    tables = 0
    for name, text in _templates().items():
        lines = text.splitlines()
        for number, line in enumerate(lines):
            if not DATA_TABLE.search(line):
                continue
            tables += 1
            before = [earlier for earlier in lines[:number] if earlier.strip()]
            # The box opens on the line before the table (a Jinja tag between them is fine).
            opening = next(
                (earlier for earlier in reversed(before) if not earlier.strip().startswith("{%")),
                "",
            )
            if not SCROLL_BOX.search(opening) and not SCROLL_BOX.search(line):
                loose.append(f"{name}:{number + 1}")
    assert tables > 30, "no data tables found: the pattern no longer matches the templates"
    assert loose == []
