"""Identity resolution on Spark: the model of ``cpxm.identity.linkage``, scored by Splink's
Spark backend (``cpxm resolve --engine spark``).

Nothing of the model is defined here. Its comparison levels, training queries and prior are
written once, in DuckDB's SQL; this module translates each to Spark SQL (``to_spark_sql``) and
runs the same steps as ``linkage.score_pairs`` against Spark: the same blocking rules,
comparisons, term frequencies, u sample, EM sessions and prior, so the two engines find the
same links (``tests/identity/test_spark.py`` compares them). What DuckDB has and Spark lacks is
written out in Spark's own functions: ``jaro_winkler_similarity`` is the ``jaro_winkler`` of
Splink's similarity jar, a byte count (``strlen``, ``hamming``) works on the UTF-8 bytes as
DuckDB's does, and the u sample's order, DuckDB's ``hash`` of each record's id, is computed by
DuckDB when the records are loaded and travels with them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import duckdb
import sqlglot
from sqlglot import exp

from cpxm.identity import linkage
from cpxm.identity.normalise import Normalised
from cpxm.identity.training import SEED, U_TRAINING_RECORDS, train
from cpxm.spark import get_spark

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# The u sample's order (``training.estimate_u``): DuckDB's hash of the id, ranked by DuckDB.
SAMPLE_RANK_COLUMN = "cpxm_sample_rank"
_SAMPLE_ORDER = f"hash(unique_id + {SEED})"

logger = logging.getLogger(__name__)


class SparkTranslationError(ValueError):
    """A DuckDB expression of the model that has no Spark translation here."""


def to_spark_sql(sql: str) -> str:
    """A DuckDB condition or query of the model, as Spark SQL computing the same values."""
    statement = sqlglot.parse_one(sql, read="duckdb")
    return statement.transform(_to_spark).sql(dialect="spark")


def _to_spark(node: exp.Expression) -> exp.Expression:
    if (
        isinstance(node, exp.GTE)
        and isinstance(node.this, exp.JarowinklerSimilarity)
        and isinstance(node.expression, exp.Literal)
    ):
        return _jaro_winkler_at_least(node.this.this, node.this.expression, node.expression)
    if (
        isinstance(node, exp.LTE)
        and isinstance(node.this, exp.Anonymous)
        and str(node.this.this).lower() == "damerau_levenshtein"
        and node.expression == exp.Literal.number(1)
    ):
        return _within_one_edit(*node.this.expressions)
    if isinstance(node, exp.JarowinklerSimilarity):
        return exp.Anonymous(this="cpxm_jaro_winkler", expressions=[node.this, node.expression])
    if not isinstance(node, exp.Anonymous):
        return node
    name = str(node.this).lower()
    if name == "strlen":
        # DuckDB's strlen counts bytes; Spark's length counts characters.
        return exp.Anonymous(this="octet_length", expressions=node.expressions)
    if name == "hamming":
        return exp.Anonymous(this="cpxm_hamming", expressions=node.expressions)
    if name == "jaro_winkler_similarity":
        return exp.Anonymous(this="cpxm_jaro_winkler", expressions=node.expressions)
    if name == "hash":
        if node == sqlglot.parse_one(_SAMPLE_ORDER, read="duckdb"):
            return exp.column(SAMPLE_RANK_COLUMN)
        raise SparkTranslationError(f"no Spark translation of DuckDB's {node.sql('duckdb')}")
    if name == "damerau_levenshtein":
        raise SparkTranslationError(
            f"{node.sql('duckdb')}: only damerau_levenshtein(a, b) <= 1 has a Spark translation"
        )
    return node


def _within_one_edit(left: exp.Expression, right: exp.Expression) -> exp.Expression:
    """``damerau_levenshtein(left, right) <= 1`` as DuckDB decides it: the jar's edit
    distance on ASCII values; on others the jar counts characters where DuckDB counts bytes
    (``müller`` is two bytes from ``muller``), so ``cpxm_within_one_edit`` counts bytes."""
    a, b = left.sql(dialect="spark"), right.sql(dialect="spark")
    return sqlglot.parse_one(  # type: ignore[return-value]
        f"CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL"
        f" WHEN octet_length({a}) = length({a}) AND octet_length({b}) = length({b})"
        f" THEN damerau_levenshtein({a}, {b}) <= 1"
        f" ELSE cpxm_within_one_edit(hex({a}), hex({b})) END",
        read="spark",
    )


def _jaro_winkler_at_least(
    left: exp.Expression, right: exp.Expression, bar: exp.Expression
) -> exp.Expression:
    """``jaro_winkler_similarity(left, right) >= bar`` as DuckDB decides it, mostly from the
    jar's textbook Jaro-Winkler, which costs a fraction of ``cpxm_jaro_winkler``.

    DuckDB's Jaro differs from the textbook's only where the transpositions are odd (three or
    more, so three or more matched bytes): by at most 1/18, and upwards. So on ASCII values
    a textbook Jaro below ``(bar - 0.4) / 0.6 - 1/18`` cannot reach the bar even with the
    largest prefix bonus, and a textbook Jaro-Winkler clearly above it (its Jaro clearly
    above 0.7, where both add the bonus) is above it in DuckDB too. Only pairs between the
    two, and values of other scripts (the jar counts characters, DuckDB bytes), pay for the
    exact ``cpxm_jaro_winkler``, and so do values under two characters, where the jar's Jaro
    is 0 even for equal ones. NULL gives NULL, as in DuckDB.
    """
    a, b = left.sql(dialect="spark"), right.sql(dialect="spark")
    threshold = float(bar.name)
    lowest_jaro = (threshold - 0.4) / 0.6 - 1 / 18 - 1e-9
    margin = 1e-9
    return sqlglot.parse_one(  # type: ignore[return-value]
        f"CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL"
        f" WHEN octet_length({a}) <> length({a}) OR octet_length({b}) <> length({b})"
        f" OR octet_length({a}) < 2 OR octet_length({b}) < 2"
        f" THEN cpxm_jaro_winkler({a}, {b}) >= {threshold!r}"
        f" WHEN {a} = {b} THEN TRUE"
        f" WHEN jaro_sim({a}, {b}) < {lowest_jaro!r} THEN FALSE"
        f" WHEN jaro_sim({a}, {b}) > {0.7 + margin!r}"
        f" AND jaro_winkler({a}, {b}) >= {threshold + margin!r} THEN TRUE"
        f" ELSE cpxm_jaro_winkler({a}, {b}) >= {threshold!r} END",
        read="spark",
    )


# DuckDB's functions that Spark lacks, as Spark SQL functions of the session, over the UTF-8
# bytes as DuckDB computes them (``hex`` spells each byte as two characters). The Jaro-Winkler
# of Splink's jar is the textbook one; DuckDB's (rapidfuzz's) halves the transpositions
# rounding down (on FEBRL4's first 2,000 records the jar's moved u of a place level from
# 0.0211 to 0.0200, and probabilities with it): the links could differ, so DuckDB's is
# written out here, step for step in its order of operations (and its compiler's: the
# prefix's bonus is one fused multiply-add, Java's ``Math.fma``).
# ``slice(sequence(0, n), 2, n)`` is 1..n, and empty for 0 (``sequence(1, 0)`` counts down):
# Spark computes a function's arguments even where a CASE would not use them.
_SQL_FUNCTIONS = (
    """cpxm_hamming(a STRING, b STRING) RETURNS INT RETURN
    size(filter(slice(sequence(0, octet_length(a)), 2, octet_length(a)),
        i -> substr(hex(a), 2 * i - 1, 2) <> substr(hex(b), 2 * i - 1, 2)))""",
    # Matched bytes of x in order, and which bytes of y are matched: rapidfuzz's greedy scan
    # (each byte of x takes the first free equal byte of y within the window).
    """cpxm_jaro_matches(x STRING, y STRING, ls INT, lt INT, w INT)
    RETURNS STRUCT<m: INT, t: INT> RETURN aggregate(
        slice(sequence(0, ls), 2, ls),
        named_struct('used', array_repeat(false, lt), 'ms', array_repeat('', 0)),
        (acc, i) -> aggregate(
            array(array_position(transform(slice(sequence(0, lt), 2, lt), j -> abs(i - j) <= w
                AND NOT acc.used[j - 1] AND substr(y, 2 * j - 1, 2) = substr(x, 2 * i - 1, 2)),
                true)),
            acc,
            (state, k) -> IF(k = 0, state, named_struct(
                'used', transform(state.used, (u, j0) -> u OR j0 + 1 = k),
                'ms', concat(state.ms, array(substr(x, 2 * i - 1, 2)))))),
        acc -> named_struct('m', size(acc.ms), 't', size(filter(zip_with(acc.ms,
            transform(filter(slice(sequence(0, lt), 2, lt), j -> acc.used[j - 1]),
                j -> substr(y, 2 * j - 1, 2)),
            (p, q) -> p <> q), e -> e))))""",
    # One byte changed, two neighbours swapped, or one dropped or added; x and y in hex.
    """cpxm_within_one_edit(x STRING, y STRING) RETURNS BOOLEAN RETURN CASE
        WHEN x = y THEN TRUE
        WHEN length(x) = length(y) THEN
            size(filter(slice(sequence(0, length(x) div 2), 2, length(x) div 2),
                i -> substr(x, 2 * i - 1, 2) <> substr(y, 2 * i - 1, 2))) = 1
            OR exists(slice(sequence(0, length(x) div 2 - 1), 2, length(x) div 2 - 1),
                i -> substr(x, 2 * i - 1, 4) = concat(substr(y, 2 * i + 1, 2),
                    substr(y, 2 * i - 1, 2))
                AND concat(substr(x, 1, 2 * i - 2), substr(x, 2 * i + 3))
                    = concat(substr(y, 1, 2 * i - 2), substr(y, 2 * i + 3)))
        WHEN abs(length(x) - length(y)) = 2 THEN exists(
            slice(sequence(0, greatest(length(x), length(y)) div 2), 2,
                greatest(length(x), length(y)) div 2),
            i -> concat(substr(IF(length(x) > length(y), x, y), 1, 2 * i - 2),
                substr(IF(length(x) > length(y), x, y), 2 * i + 1))
                = IF(length(x) > length(y), y, x))
        ELSE FALSE
    END""",
    """cpxm_jaro_score(found STRUCT<m: INT, t: INT>, ls INT, lt INT) RETURNS DOUBLE RETURN
    IF(found.m = 0, 0.0D,
        (found.m / ls + found.m / lt + (found.m - found.t div 2) / found.m) / 3.0D)""",
    """cpxm_jaro(x STRING, y STRING, ls INT, lt INT) RETURNS DOUBLE RETURN CASE
        WHEN ls = 0 OR lt = 0 THEN 0.0D
        WHEN ls = 1 AND lt = 1 THEN IF(x = y, 1.0D, 0.0D)
        ELSE cpxm_jaro_score(cpxm_jaro_matches(x, y, ls, lt, greatest(ls, lt) div 2 - 1), ls, lt)
    END""",
    """cpxm_winkler(jaro DOUBLE, prefix INT) RETURNS DOUBLE RETURN
    IF(jaro > 0.7D, least(CAST(reflect(
        'java.lang.Math', 'fma', prefix * 0.1D, 1.0D - jaro, jaro) AS DOUBLE), 1.0D), jaro)""",
    """cpxm_prefix(x STRING, y STRING, n INT) RETURNS INT RETURN IF(n = 0, 0, coalesce(
        nullif(array_position(transform(slice(sequence(0, n), 2, n),
            k -> substr(x, 2 * k - 1, 2) <> substr(y, 2 * k - 1, 2)), true), 0) - 1, n))""",
    """cpxm_jaro_winkler(a STRING, b STRING) RETURNS DOUBLE RETURN cpxm_winkler(
        cpxm_jaro(hex(a), hex(b), octet_length(a), octet_length(b)),
        cpxm_prefix(hex(a), hex(b), least(4, octet_length(a), octet_length(b))))""",
)


def register_functions(spark: SparkSession) -> None:
    """Define the session's translations of DuckDB's functions (``_SQL_FUNCTIONS``)."""
    for definition in _SQL_FUNCTIONS:
        spark.sql(f"CREATE OR REPLACE TEMPORARY FUNCTION {definition}")


class SparkRows:
    """A Spark query's result as DuckDB's relation gives it to the model's code."""

    def __init__(self, frame: DataFrame | None) -> None:
        self._frame = frame

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._frame is None:
            return []
        return [tuple(row) for row in self._frame.collect()]


class SparkConnection:
    """What the model's training and prior ask of a DuckDB connection, answered by Spark.

    Queries are translated (``to_spark_sql``); ``CREATE TABLE name AS query`` becomes a cached
    temporary view, since the tables live only as long as the run.
    """

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self.views: list[str] = []

    def execute(self, query: str) -> SparkRows:
        statement = sqlglot.parse_one(query, read="duckdb").transform(_to_spark)
        if isinstance(statement, exp.Create):
            name = statement.this.name
            frame = self.spark.sql(statement.expression.sql(dialect="spark"))
            frame.cache().createOrReplaceTempView(name)
            self.views.append(name)
            return SparkRows(None)
        return SparkRows(self.spark.sql(statement.sql(dialect="spark")))

    sql = execute

    def close(self) -> None:
        for name in self.views:
            self.spark.catalog.dropTempView(name)
        self.views.clear()


def score_pairs(
    records: Sequence[Normalised],
    *,
    threshold: float,
    step: Callable[[str], None] = lambda _label: None,
) -> tuple[list[linkage.Edge], int]:
    """``linkage.score_pairs`` on Spark: every blocked pair at or above ``threshold``."""
    if len(records) < 2:
        return [], 0
    from splink import Linker
    from splink.backends.spark import SparkAPI

    logging.getLogger("splink").setLevel(logging.ERROR)
    step("starting Spark")
    spark = get_spark()
    connection = SparkConnection(spark)
    try:
        _load_records(spark, records)
        db_api = SparkAPI(spark_session=spark, break_lineage_method="persist")  # type: ignore[no-untyped-call]
        register_functions(spark)
        frame = db_api.register("cpxm_records", table_name="cpxm_records")
        prior = linkage._prior(connection, len(records))  # type: ignore[arg-type]
        settings = spark_settings(prior, size=len(records))
        linker = Linker(frame, settings, log_level=None, validate_settings=False)
        step("training")
        if len(records) >= U_TRAINING_RECORDS:
            linkage._term_frequencies(connection, db_api, linker)  # type: ignore[arg-type]
        train(connection, linker, len(records), prior)  # type: ignore[arg-type]
        step("scoring")
        predictions = linker.inference.predict(
            threshold_match_probability=threshold, warning_mode="never"
        )
        # Splink's own table name: no user input reaches the SQL.
        columns = "least(unique_id_l, unique_id_r), greatest(unique_id_l, unique_id_r)"
        query = f"SELECT {columns}, match_probability FROM {predictions.physical_name}"  # noqa: S608
        edges = [(int(low), int(high), float(p)) for low, high, p in spark.sql(query).collect()]
        linker.table_management.invalidate_cache()  # type: ignore[no-untyped-call]
    finally:
        connection.close()
        spark.catalog.dropTempView("cpxm_records")
        spark.catalog.clearCache()
    return edges, len(edges)


def spark_settings(prior: float, *, size: int) -> Any:
    """``linkage``'s settings with every comparison level's SQL translated for Spark."""
    settings = linkage._settings(prior, size=size)
    comparisons: list[Any] = list(settings.comparisons)
    for comparison in comparisons:
        for level in comparison._comparison_levels:
            if isinstance(getattr(level, "sql_condition", None), str):
                level.sql_condition = to_spark_sql(level.sql_condition)
    return settings


def _load_records(spark: SparkSession, records: Sequence[Normalised]) -> None:
    """The normalised records as the cached view ``cpxm_records``.

    DuckDB builds the table as ``linkage.load_records`` does and ranks the records in the u
    sample's order; Spark takes it as Arrow, through the driver, so a cluster's executors need
    no shared file system.
    """
    with duckdb.connect() as local:
        local.execute("SET enable_progress_bar = false")
        linkage.load_records(local, records)
        table = local.sql(
            f"SELECT *, row_number() OVER (ORDER BY {_SAMPLE_ORDER}, unique_id)"  # noqa: S608
            f" AS {SAMPLE_RANK_COLUMN} FROM cpxm_records"
        ).to_arrow_table()
    spark.createDataFrame(table).cache().createOrReplaceTempView("cpxm_records")
