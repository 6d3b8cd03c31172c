"""Estimating the linkage model from the records: u by random sampling, m by EM.

Both are Splink's estimates (``estimate_u_using_random_sampling``, and
``estimate_parameters_using_expectation_maximisation`` without term frequencies, u fixed),
computed from Splink's own comparison SQL in one DuckDB query each, the iterations in NumPy
over the few hundred agreement patterns. Splink's sessions build each query through sqlglot,
and parse every level again to find which ones the training blocking rule fixes: two EM
sessions cost 0.5 s of a 10,000-record resolve, these 0.05 s, for the same m (tested).
"""

from __future__ import annotations

import logging
import re
import statistics
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
from splink import Linker

from cpxm.identity.normalise import COLUMNS

SEED = 20261123
# Below these sizes the written-down probabilities beat estimates from too few pairs: u from
# 1,000 records lost a pair of FEBRL1 that the written u found. From 2,000 records both u and m
# come from the data: EM from 2,000 rather than 5,000 records raised F1 on generated
# deduplication data of 4,000 records (several copies per person) from 0.962 to 0.977.
U_TRAINING_RECORDS = 2_000
M_TRAINING_RECORDS = 2_000
# Expectation maximisation sessions, by the columns each blocks on; each session estimates m
# of the comparisons it leaves free, so together they cover every comparison.
# Two sessions (names; date of birth) found what four (also e-mail, postcode) found, on FEBRL4
# and the demo alike, in half the time.
EM_SESSIONS: tuple[tuple[str, ...], ...] = (("first_name", "last_name"), ("dob",))
# A session stops when no m (nor the share of matches) moved more than this, Splink's default.
EM_MAX_ITERATIONS = 8
EM_CONVERGENCE = 0.0001
# Splink's floor for an m or u it can represent, and its m for a level EM never saw.
SMALLEST_PROBABILITY = 1e-300
UNSEEN_M = 1e-6

# A column a comparison reads (``first_name_l``), and one exact agreement (``dob_l = dob_r``).
_SIDE_COLUMN = re.compile(r"\b([a-z][a-z0-9_]*?)_[lr]\b")
_EXACT_AGREEMENT = re.compile(r"\(?\s*([a-z][a-z0-9_]*)_l\s*=\s*\1_r\s*\)?")

logger = logging.getLogger(__name__)


def train(connection: duckdb.DuckDBPyConnection, linker: Linker, size: int, prior: float) -> None:
    """u from random pairs, then m by EM, into the linker's comparison levels.

    Once m is known, u is measured again from the same random pairs, each counted by how
    unlikely the fitted model finds it a match, and EM runs once more with that u: see
    ``reweigh_u``.
    """
    if size < U_TRAINING_RECORDS:
        return
    levels = _levels(linker)
    written_u = {id(level): float(level.u_probability) for level in levels}
    patterns = estimate_u(connection, linker, pairs=min(5e6, max(1e4, size * 20.0)))
    if size < M_TRAINING_RECORDS:
        return
    comparisons = linker._settings_obj.comparisons
    # The blocked pairs' agreement patterns do not depend on m or u: the second EM pass
    # reuses the first's counts instead of comparing every blocked pair again.
    counted: dict[tuple[str, ...], list[tuple[int, ...]]] = {}
    _estimate_m(connection, comparisons, levels, prior, counted)
    if reweigh_u(comparisons, patterns, prior=prior, written_u=written_u):
        _estimate_m(connection, comparisons, levels, prior, counted)


def _estimate_m(
    connection: duckdb.DuckDBPyConnection,
    comparisons: Sequence[Any],
    levels: Sequence[Any],
    prior: float,
    counted: dict[tuple[str, ...], list[tuple[int, ...]]] | None = None,
) -> None:
    trained: dict[int, list[float]] = {}  # id(level) -> m of each session that saw it
    for columns in EM_SESSIONS:
        # Each session blocks on columns the others leave free, so every comparison gets an m.
        for level, m in expectation_maximisation(
            connection, comparisons, columns, prior=prior, counted=counted
        ):
            trained.setdefault(id(level), []).append(m)
        # The next session starts from what the earlier ones found, as Splink's do.
        for level in levels:
            if id(level) in trained:
                level.m_probability = statistics.median(trained[id(level)])
    # EM's m stand as estimated: the written-down m are only where EM starts. A floor at the
    # written m (kept until 2026-12-05 for silos that copy one e-mail everywhere) changed the
    # demo's F1 by 0.0001 and sent 200 more of its pairs to review.
    for comparison in comparisons:
        _normalise_m(comparison._comparison_levels_excluding_null)


def expectation_maximisation(
    connection: duckdb.DuckDBPyConnection,
    comparisons: Sequence[Any],
    columns: Sequence[str],
    *,
    prior: float,
    counted: dict[tuple[str, ...], list[tuple[int, ...]]] | None = None,
) -> list[tuple[Any, float]]:
    """Each level seen among the pairs agreeing on ``columns``, with its m.

    The comparisons that read a blocking column are left out, and the prior starts raised
    by the Bayes factor of the levels the blocking guarantees, as in Splink. A session that
    finds no pairs, or an m Splink could not represent, estimates nothing. ``counted`` keeps
    each session's agreement patterns for a later pass over the same records.
    """
    blocked = set(columns)
    active = [c for c in comparisons if not blocked & _columns_read(c)]
    if not active:
        return []
    key = tuple(columns)
    if counted is not None and key in counted:
        patterns = counted[key]
    else:
        patterns = _blocked_patterns(connection, active, columns)
        if counted is not None:
            counted[key] = patterns
    if not patterns:
        logger.info("EM session on %s skipped: no pairs", columns)
        return []
    table = np.array(patterns, dtype=np.float64)
    gammas = table[:, :-1].astype(np.int64) + 1  # index 0: the null level
    counts = table[:, -1]
    levels = [comparison._comparison_levels_excluding_null for comparison in active]
    widths = [max(level.comparison_vector_value for level in group) + 2 for group in levels]
    m = [np.zeros(width) for width in widths]
    log_u = [np.zeros(width) for width in widths]
    for index, group in enumerate(levels):
        for level in group:
            m[index][level.comparison_vector_value + 1] = float(level.m_probability)
            log_u[index][level.comparison_vector_value + 1] = np.log2(
                max(float(level.u_probability), SMALLEST_PROBABILITY)
            )
    seen = [
        np.bincount(gammas[:, index], weights=counts, minlength=width) > 0
        for index, width in enumerate(widths)
    ]
    for index in range(len(active)):
        seen[index][0] = False
    match = _blocking_adjusted_prior(comparisons, columns, prior)
    for _ in range(EM_MAX_ITERATIONS):
        weight = np.full(len(counts), np.log2(match / (1 - match)))
        for index in range(len(active)):
            level_weight = np.log2(np.maximum(m[index], SMALLEST_PROBABILITY)) - log_u[index]
            level_weight[0] = 0.0
            weight += level_weight[gammas[:, index]]
        # 1 / (1 + 2^-w), written so that neither sign overflows.
        odds = np.exp2(-np.abs(weight))
        probability = np.where(weight >= 0, 1.0 / (1.0 + odds), odds / (1.0 + odds))
        expected = probability * counts
        new_match = float(expected.sum() / counts.sum())
        change = abs(new_match - match)
        new_m = []
        for index, width in enumerate(widths):
            matches = np.bincount(gammas[:, index], weights=expected, minlength=width)
            total = matches[seen[index]].sum()
            if seen[index].any() and not total > 0:
                logger.info("EM session on %s skipped: no matches", columns)
                return []
            # A comparison no pair has both sides of (no e-mails) estimates nothing.
            share = matches / total if total > 0 else np.zeros(width)
            estimate = np.where(seen[index], share, UNSEEN_M)
            estimate[0] = 0.0
            if (estimate[seen[index]] < SMALLEST_PROBABILITY).any():
                logger.info("EM session on %s skipped: an m underflowed", columns)
                return []
            change = max(change, float(np.abs(estimate[1:] - m[index][1:]).max()))
            new_m.append(estimate)
        m, match = new_m, new_match
        if change < EM_CONVERGENCE:
            break
    return [
        (level, float(m[index][level.comparison_vector_value + 1]))
        for index, group in enumerate(levels)
        for level in group
        if seen[index][level.comparison_vector_value + 1]
    ]


def _blocked_patterns(
    connection: duckdb.DuckDBPyConnection, active: Sequence[Any], columns: Sequence[str]
) -> list[tuple[int, ...]]:
    """Counts of the agreement patterns (the count last) of the pairs agreeing on ``columns``."""
    sides = ", ".join(
        f"l.{name} AS {name}_l, r.{name} AS {name}_r" for name in COLUMNS if name != "unique_id"
    )
    agree = " AND ".join(f"l.{column} = r.{column}" for column in columns)
    cases = ", ".join(comparison._case_statement for comparison in active)
    patterns: list[tuple[int, ...]] = connection.execute(
        f"""
        SELECT {cases}, count(*) FROM (
            SELECT {sides} FROM cpxm_records l JOIN cpxm_records r
            ON {agree} AND l.unique_id < r.unique_id
        ) GROUP BY ALL
        """  # noqa: S608 -- Splink's own comparison SQL and our column names
    ).fetchall()
    return patterns


def _columns_read(comparison: Any) -> set[str]:
    return {
        column
        for level in comparison.comparison_levels
        if not level._is_else_level
        for column in _SIDE_COLUMN.findall(level.sql_condition)
    }


def _exact_columns(condition: str) -> list[str] | None:
    """The columns of a level that is only exact agreements, joined by AND; else None."""
    parts = re.split(r"\s+AND\s+", condition.strip(), flags=re.IGNORECASE)
    columns = []
    for part in parts:
        found = _EXACT_AGREEMENT.fullmatch(part)
        if found is None:
            return None
        columns.append(found.group(1))
    return columns


def _blocking_adjusted_prior(
    comparisons: Sequence[Any], columns: Sequence[str], prior: float
) -> float:
    """The prior among pairs agreeing on ``columns``: raised by the Bayes factor of the exact
    levels that cover them, the widest first (Splink's own adjustment)."""
    exact = [
        (level, found)
        for comparison in comparisons
        for level in comparison.comparison_levels
        if not level._is_else_level
        and not level.is_null_level
        and (found := _exact_columns(level.sql_condition)) is not None
    ]
    exact.sort(key=lambda item: -len(item[1]))
    uncovered = set(columns)
    odds = prior / (1 - prior)
    for level, found in exact:
        if set(found) <= uncovered:
            uncovered -= set(found)
            u = float(level.u_probability)
            odds = odds * float(level.m_probability) / u if u else float("inf")
    return odds / (1 + odds)


def estimate_u(
    connection: duckdb.DuckDBPyConnection, linker: Linker, *, pairs: float
) -> list[tuple[int, ...]]:
    """u of every level from all pairs among a fixed pseudo-random sample of records.

    The same estimate as Splink's ``estimate_u_using_random_sampling`` (random pairs, nearly
    all non-matches), with Splink's own comparison SQL, in one query: Splink's runs up to ten
    chunks and builds a pyarrow table from Python lists, which imports pandas; together they
    took 2-8 s of a 10,000-record resolve. Pairs are of one kind, as blocking compares them.
    A level no sampled pair reached (a swapped name) keeps its written-down u rather than a
    near-zero estimate far more certain than the sample could show. Returns the sampled
    pairs' agreement patterns with their counts (the count last), for ``reweigh_u``.
    """
    sample_size = int(0.5 * ((8 * pairs + 1) ** 0.5 + 1))  # n records give n(n-1)/2 pairs
    comparisons = linker._settings_obj.comparisons
    sides = ", ".join(
        f"l.{name} AS {name}_l, r.{name} AS {name}_r" for name in COLUMNS if name != "unique_id"
    )
    cases = ", ".join(comparison._case_statement for comparison in comparisons)
    # Counts per agreement pattern (a few hundred), each comparison's levels summed from them:
    # one pass over the sampled pairs instead of a table of them scanned once per comparison.
    patterns: list[tuple[int, ...]] = connection.execute(
        f"""
        WITH sample AS (
            SELECT * FROM cpxm_records ORDER BY hash(unique_id + {SEED}) LIMIT {sample_size}
        ), pairs AS (
            SELECT {sides} FROM sample l JOIN sample r
            ON l.unique_id < r.unique_id AND l.kind = r.kind
        )
        SELECT {cases}, count(*) FROM pairs GROUP BY ALL
        """  # noqa: S608 -- Splink's own comparison SQL and our constants
    ).fetchall()
    _set_u(comparisons, patterns, [float(pattern[-1]) for pattern in patterns])
    return patterns


def reweigh_u(
    comparisons: Sequence[Any],
    patterns: Sequence[tuple[int, ...]],
    *,
    prior: float,
    written_u: dict[int, float],
) -> bool:
    """Measure u again from the sampled pairs, each counted by its chance of not matching.

    Random pairs are nearly all non-matches, not all: where each person is held several times
    (a CRM's duplicates), one sampled pair in a couple of thousand is the same person, and
    those pairs agree on everything. Counted as non-matches they made an agreement on a birth
    date look ten times as common by chance as it is (u 0.00045 against 0.00003 on generated
    deduplication data), so every true pair scored low. Here each sampled pattern counts by
    1 - its match probability under the fitted m, u and prior (the step of EM that
    estimates u, taken once). A level that less than one pair likely to be a non-match
    reached keeps the smaller of its written-down u and the first estimate (which counted
    the matches too, so it is an upper bound). Returns whether any u changed.
    """
    if not patterns:
        return False
    gammas = np.array([pattern[:-1] for pattern in patterns], dtype=np.int64)
    counts = np.array([pattern[-1] for pattern in patterns], dtype=np.float64)
    weight = np.full(len(counts), np.log2(prior / (1 - prior)))
    for index, comparison in enumerate(comparisons):
        for level in comparison._comparison_levels_excluding_null:
            m = max(float(level.m_probability), SMALLEST_PROBABILITY)
            u = max(float(level.u_probability), SMALLEST_PROBABILITY)
            weight += np.where(gammas[:, index] == level.comparison_vector_value, np.log2(m / u), 0)
    # 1 - 1 / (1 + 2^-w), written so that neither sign overflows.
    odds = np.exp2(-np.abs(weight))
    non_match = np.where(weight >= 0, odds / (1.0 + odds), 1.0 / (1.0 + odds))
    before = {id(level): float(level.u_probability) for level in _all_levels(comparisons)}
    for level in _all_levels(comparisons):
        # The first estimate counted matches as well, so it is an upper bound.
        level.u_probability = min(before[id(level)], written_u.get(id(level), 1.0))
    _set_u(comparisons, patterns, list(counts * non_match), minimum=1.0)
    return any(
        abs(float(level.u_probability) - before[id(level)]) > 0
        for level in _all_levels(comparisons)
    )


def _set_u(
    comparisons: Sequence[Any],
    patterns: Sequence[tuple[int, ...]],
    weights: Sequence[float],
    *,
    minimum: float = 0.0,
) -> None:
    """Each level's u: its pairs' weight over the comparison's, where the level has more
    than ``minimum`` of it (otherwise its u stays)."""
    for index, comparison in enumerate(comparisons):
        counts: dict[int, float] = {}
        for pattern, weight in zip(patterns, weights, strict=True):
            if pattern[index] >= 0:
                counts[pattern[index]] = counts.get(pattern[index], 0.0) + weight
        total = sum(counts.values())
        for level in comparison._comparison_levels_excluding_null:
            seen = counts.get(level.comparison_vector_value, 0.0)
            if seen > minimum and total:
                level.u_probability = seen / total


def _all_levels(comparisons: Sequence[Any]) -> list[Any]:
    return [
        level
        for comparison in comparisons
        for level in comparison._comparison_levels_excluding_null
    ]


def _levels(linker: Linker) -> list[Any]:
    return [
        level
        for comparison in linker._settings_obj.comparisons
        for level in comparison._comparison_levels_excluding_null
    ]


def _normalise_m(levels: Sequence[Any]) -> None:
    total = sum(float(level.m_probability) for level in levels)
    for level in levels:
        level.m_probability = float(level.m_probability) / total
