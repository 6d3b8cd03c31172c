"""Identity resolution on Spark: the model of ``cpxm.identity.linkage``, scored by Splink's
Spark backend (``cpxm resolve --engine spark``).

Nothing of the model is defined here. Its comparison levels, training queries and prior are
written once, in DuckDB's SQL; this module translates each to Spark SQL (``to_spark_sql``) and
runs the same steps as ``linkage.score_pairs`` against Spark: the same blocking rules,
comparisons, term frequencies, u sample, EM sessions and prior, so the two engines find the
same links (``tests/identity/test_spark.py`` compares them). DuckDB's string functions that
Spark lacks (``jaro_winkler_similarity``, ``damerau_levenshtein``, ``hamming``) are computed by
DuckDB itself, a batch of pairs at a time in Spark's Python workers (``DUCKDB_FUNCTIONS``), so
they give DuckDB's values by construction; ``strlen`` is Spark's ``octet_length`` (both count
bytes). The u sample's order, DuckDB's ``hash`` of each record's id, is computed by DuckDB when
the records are loaded and travels with them.

Why not Spark SQL: DuckDB's Jaro-Winkler written out in Spark's higher-order functions (until
2026-12-06) was right, and a Spark plan of the model then held each comparison's functions
inlined dozens of times. Spark spent its time planning and compiling those expressions, not
scoring pairs: a 2,000-record resolve spent 32 s analysing one training query, and FEBRL4's
10,000 records were unfinished after 27 minutes. A Python function is one node of the plan;
Spark hands it the values of every pair its query reaches, in Arrow batches of 10,000, and
DuckDB scores 100,000 pairs in 0.05 s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
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

# DuckDB's functions of two strings that Spark lacks: the name the Spark session knows each
# by (Splink's jar already registers a ``damerau_levenshtein`` of its own, counting
# characters), its Spark type, and the DuckDB expression over ``a`` and ``b`` computing it.
# DuckDB's ``hamming`` refuses values of different lengths, and empty ones; the model asks for
# it only where the lengths agree and the values differ, but Spark computes a Python function
# for every row its query reaches, so elsewhere it gives 0 (equal) or NULL.
DUCKDB_FUNCTIONS: dict[str, tuple[str, str, str]] = {
    "jaro_winkler_similarity": ("cpxm_jaro_winkler", "double", "jaro_winkler_similarity(a, b)"),
    "damerau_levenshtein": ("cpxm_damerau_levenshtein", "bigint", "damerau_levenshtein(a, b)"),
    "hamming": (
        "cpxm_hamming",
        "bigint",
        "CASE WHEN a = b THEN 0 WHEN strlen(a) = strlen(b) THEN hamming(a, b) END",
    ),
}

logger = logging.getLogger(__name__)


class SparkTranslationError(ValueError):
    """A DuckDB expression of the model that has no Spark translation here."""


def to_spark_sql(sql: str) -> str:
    """A DuckDB condition or query of the model, as Spark SQL computing the same values."""
    statement = sqlglot.parse_one(sql, read="duckdb")
    return statement.transform(_to_spark).sql(dialect="spark")


def _to_spark(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.JarowinklerSimilarity):
        name = DUCKDB_FUNCTIONS["jaro_winkler_similarity"][0]
        return exp.Anonymous(this=name, expressions=[node.this, node.expression])
    if not isinstance(node, exp.Anonymous):
        return node
    name = str(node.this).lower()
    if name == "strlen":
        # DuckDB's strlen counts bytes; Spark's length counts characters.
        return exp.Anonymous(this="octet_length", expressions=node.expressions)
    if name in DUCKDB_FUNCTIONS:
        return exp.Anonymous(this=DUCKDB_FUNCTIONS[name][0], expressions=node.expressions)
    if name == "hash":
        if node == sqlglot.parse_one(_SAMPLE_ORDER, read="duckdb"):
            return exp.column(SAMPLE_RANK_COLUMN)
        raise SparkTranslationError(f"no Spark translation of DuckDB's {node.sql('duckdb')}")
    return node


def duckdb_values(expression: str, a: pd.Series, b: pd.Series) -> pd.Series:
    """``expression`` over each pair (``a``, ``b``) of strings, computed by DuckDB; NULL
    where DuckDB gives NULL. Runs in Spark's Python workers."""
    with duckdb.connect() as local:
        # One thread keeps the rows in order; Spark runs a worker per core already.
        local.execute("SET threads = 1")
        local.register("pairs", pd.DataFrame({"a": a, "b": b}))
        query = f"SELECT {expression} FROM (SELECT a::VARCHAR AS a, b::VARCHAR AS b FROM pairs)"  # noqa: S608
        column = local.sql(query).to_arrow_table().column(0)
    return column.to_pandas(types_mapper=pd.ArrowDtype)


def register_functions(spark: SparkSession) -> None:
    """Register ``DUCKDB_FUNCTIONS`` with the session, under their Spark names."""
    from pyspark.sql.functions import pandas_udf  # type: ignore[attr-defined]

    for spark_name, spark_type, expression in DUCKDB_FUNCTIONS.values():
        function = pandas_udf(_pairs_function(expression), spark_type)
        spark.udf.register(spark_name, function)


def _pairs_function(expression: str) -> Callable[[pd.Series, pd.Series], pd.Series]:
    def compute(a: pd.Series, b: pd.Series) -> pd.Series:
        return duckdb_values(expression, a, b)

    return compute


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
    from splink.internals.misc import threshold_args_to_match_weight

    logging.getLogger("splink").setLevel(logging.ERROR)
    step("starting Spark")
    spark = get_spark()
    connection = SparkConnection(spark)
    try:
        prior = _load_records(spark, records)
        db_api = SparkAPI(spark_session=spark, break_lineage_method="persist")  # type: ignore[no-untyped-call]
        register_functions(spark)
        frame = db_api.register("cpxm_records", table_name="cpxm_records")
        settings = spark_settings(prior, size=len(records))
        linker = Linker(frame, settings, log_level=None, validate_settings=False)
        step("training")
        if len(records) >= U_TRAINING_RECORDS:
            linkage._term_frequencies(connection, db_api, linker)  # type: ignore[arg-type]
        train(connection, linker, len(records), prior)  # type: ignore[arg-type]
        step("scoring")
        # Every blocked pair is scored and kept, then the threshold applied to the kept table,
        # as Splink's own filter would (the same weight, the same bar). Asked of Splink, the
        # filter is pushed below the scoring and Spark computes the whole model twice in one
        # expression, which its code generator then fails to compile.
        predictions = linker.inference.predict(warning_mode="never")
        bar = threshold_args_to_match_weight(threshold, None)
        # Splink's own table name and a number: no user input reaches the SQL.
        columns = "least(unique_id_l, unique_id_r), greatest(unique_id_l, unique_id_r)"
        query = f"SELECT {columns}, match_probability FROM {predictions.physical_name}"  # noqa: S608
        if bar is not None:
            query += f" WHERE match_weight >= {bar!r}"
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


def _load_records(spark: SparkSession, records: Sequence[Normalised]) -> float:
    """The normalised records as the cached view ``cpxm_records``; and the model's prior.

    DuckDB builds the table as ``linkage.load_records`` does and ranks the records in the u
    sample's order; Spark takes it as Arrow, through the driver, so a cluster's executors need
    no shared file system. The prior (``linkage._prior``, a count of the pairs that share an
    identifier) is counted by DuckDB on the same table while it is there: a Spark job of five
    self-joins cost 30 s of a 2,000-record resolve on this machine, DuckDB 0.02 s.
    """
    with duckdb.connect() as local:
        local.execute("SET enable_progress_bar = false")
        linkage.load_records(local, records)
        prior = linkage._prior(local, len(records))
        table = local.sql(
            f"SELECT *, row_number() OVER (ORDER BY {_SAMPLE_ORDER}, unique_id)"  # noqa: S608
            f" AS {SAMPLE_RANK_COLUMN} FROM cpxm_records"
        ).to_arrow_table()
    spark.createDataFrame(table).cache().createOrReplaceTempView("cpxm_records")
    return prior
