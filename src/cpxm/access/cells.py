"""Small cells: the least number of people an aggregate may describe, and which cells to hide.

A figure about one or two people is a record about them. Every aggregate is computed with at
least the workspace's minimum cell size (default 5, set by an admin: ``PUT
/api/v1/privacy/settings``), whatever a request asks for: a request may raise it, never lower it.
Hiding the small cells is not enough when a total is shown beside them: the one hidden cell is
the total minus the others. :func:`complementary` hides more cells until what is hidden cannot
be worked out that way.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from cpxm.errors import FieldError, field_error
from cpxm.workspace.settings import get_setting, set_setting

MIN_CELL_SIZE_SETTING = "min_cell_size"
DEFAULT_MIN_CELL_SIZE = 5
MAX_MIN_CELL_SIZE = 1000


def min_cell_size(session: Session) -> int:
    """The workspace's minimum cell size (the admin's setting, or 5)."""
    stored = get_setting(session, MIN_CELL_SIZE_SETTING)
    try:
        return max(1, int(stored)) if stored else DEFAULT_MIN_CELL_SIZE
    except ValueError:
        return DEFAULT_MIN_CELL_SIZE


def set_min_cell_size(session: Session, *, value: int, user_id: int | None) -> int:
    if not 1 <= value <= MAX_MIN_CELL_SIZE:
        raise FieldError(
            [
                field_error(
                    "min_cell_size",
                    f"min_cell_size is {value}, expected 1 to {MAX_MIN_CELL_SIZE}",
                    value,
                )
            ]
        )
    set_setting(session, name=MIN_CELL_SIZE_SETTING, value=str(value), user_id=user_id)
    return value


def floor(session: Session, requested: int) -> int:
    """The cell size an aggregate uses: the request's, raised to the workspace's minimum."""
    return max(requested, min_cell_size(session))


def complementary(
    sizes: Sequence[int],
    *,
    min_n: int,
    total_shown: bool = True,
    already_hidden: set[int] | None = None,
) -> set[int]:
    """Indexes of the cells to hide: those below ``min_n`` (the minimum cell size), and, when a
    total is shown beside them, the smallest others until the hidden cells are at least two and
    together hold at least ``min_n`` (so neither one hidden cell nor a sum of too few people can
    be recovered by subtraction). ``already_hidden``: cells hidden for another reason (too few
    answers for a reliable score), which count as hidden here."""
    hidden = {index for index, n in enumerate(sizes) if n < min_n}
    if not hidden or not total_shown:
        return hidden
    hidden |= already_hidden or set()
    shown = sorted((n, index) for index, n in enumerate(sizes) if index not in hidden)
    while shown and (len(hidden) < 2 or sum(sizes[i] for i in hidden) < min_n):
        _n, index = shown.pop(0)
        hidden.add(index)
    return hidden


def suppressed(sizes: Sequence[int], *, min_n: int, total_shown: bool = True) -> set[int]:
    """:func:`complementary` for counts of people where an empty cell is shown: it describes
    nobody, and is never taken as a complement (hiding it would protect nothing)."""
    hidden = {index for index, n in enumerate(sizes) if 0 < n < min_n}
    if not hidden or not total_shown:
        return hidden
    shown = sorted((n, index) for index, n in enumerate(sizes) if index not in hidden and n > 0)
    while shown and (len(hidden) < 2 or sum(sizes[i] for i in hidden) < min_n):
        _n, index = shown.pop(0)
        hidden.add(index)
    return hidden


def split_counts(whole: int, part: int, *, min_n: int) -> tuple[int | None, int | None]:
    """A count and a part of it (items of a theme, and the negative ones), each ``None`` where
    it would describe fewer than ``min_n``: the part is hidden also when the rest is that small,
    since the rest is the whole minus the part."""
    if 0 < whole < min_n:
        return None, None
    rest = whole - part
    if 0 < part < min_n or 0 < rest < min_n:
        return whole, None
    return whole, part
