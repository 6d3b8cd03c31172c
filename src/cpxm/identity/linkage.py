"""The Splink model: blocking, training and scoring of source-record pairs, in-process DuckDB.

Splink sees only the normalised frame (``cpxm.identity.normalise``), so the store may be SQLite
or PostgreSQL. Training is unsupervised and deterministic: u by random sampling with a fixed
seed, m by expectation maximisation over blocking sessions that each leave different columns
free, and the prior from exact identifier agreement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import duckdb
import pyarrow as pa
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from cpxm.identity.normalise import COLUMNS, Normalised

SEED = 20261123
# Exact identifiers that, when equal, are almost always the same person: used to estimate the
# prior probability that two records match, assuming they find this share of the true matches.
IDENTIFIER_RULES = ("professional_id", "email")
IDENTIFIER_RECALL = 0.6

Edge = tuple[int, int, float]


def _blocking_rules() -> list[Any]:
    # Every rule also requires the same kind, so a person never pairs with an organisation.
    return [
        block_on("professional_id", "kind"),
        block_on("email", "kind"),
        block_on("phone", "kind"),
        block_on("last_name", "dob", "kind"),
        block_on("first_name", "dob", "kind"),
        block_on("postal_code", "first_initial", "kind"),
        block_on("last_name", "city", "kind"),
        block_on("first_name", "last_name", "kind"),
        block_on("dob", "postal_code", "kind"),
    ]


def _settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=_blocking_rules(),
        comparisons=[
            cl.ForenameSurnameComparison("first_name", "last_name"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone"),
            cl.LevenshteinAtThresholds("postal_code", 1),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address", [0.9, 0.8]),
            cl.ExactMatch("professional_id"),
        ],
        retain_intermediate_calculation_columns=False,
        max_iterations=8,
        retain_matching_columns=False,
    )


def to_arrow(records: Sequence[Normalised]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for record in records:
        for name, value in asdict(record).items():
            columns[name].append(value)
    return pa.table(columns)


def score_pairs(
    records: Sequence[Normalised],
    *,
    threshold: float,
    step: Callable[[str], None] = lambda _label: None,
) -> tuple[list[Edge], int]:
    """Every blocked pair scoring at least ``threshold``, lower id first; and pairs scored."""
    if len(records) < 2:
        return [], 0
    logging.getLogger("splink").setLevel(logging.ERROR)
    connection = duckdb.connect()
    db_api = DuckDBAPI(connection)
    frame = db_api.register(to_arrow(records), table_name="cpxm_records")
    linker = Linker(frame, _settings(), log_level=None)
    step("training")
    _train(linker, len(records), _prior(connection, len(records)))
    step("scoring")
    predictions = linker.inference.predict(
        threshold_match_probability=threshold, warning_mode="never"
    )
    table = predictions.physical_name  # Splink's own table: no user input reaches the SQL
    columns = (
        "least(unique_id_l, unique_id_r), greatest(unique_id_l, unique_id_r), match_probability"
    )
    relation = connection.sql(f"SELECT {columns} FROM {table}")  # noqa: S608
    edges = [(int(low), int(high), float(p)) for low, high, p in relation.fetchall()]
    connection.close()
    return edges, len(edges)


def _prior(connection: duckdb.DuckDBPyConnection, size: int) -> float:
    """Share of all pairs that match, from pairs agreeing on an exact identifier.

    Splink's own estimator counts pairs per rule over the whole table; this one counts the
    distinct pairs any identifier joins, so records sharing several identifiers count once.
    """
    joined = connection.sql(
        "SELECT count(*) FROM cpxm_records l JOIN cpxm_records r "
        "ON l.unique_id < r.unique_id AND l.kind = r.kind "
        "AND (l.professional_id = r.professional_id OR l.email = r.email)"
    ).fetchall()
    matching = int(joined[0][0]) / IDENTIFIER_RECALL
    total_pairs = size * (size - 1) / 2
    return min(0.5, max(matching, 1.0) / total_pairs)


def _train(linker: Linker, size: int, prior: float) -> None:
    training = linker.training
    training.estimate_u_using_random_sampling(max_pairs=min(5e6, max(1e4, size * 20.0)), seed=SEED)
    # Each session blocks on columns the others leave free, so every comparison gets an m.
    for rule in (
        block_on("first_name", "last_name"),
        block_on("dob"),
        block_on("email"),
        block_on("postal_code"),
    ):
        saved = linker._settings_obj.core_model_settings.copy()  # type: ignore[no-untyped-call]
        try:
            training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True
            )
        except Exception:
            # A failed session (no pairs; an m underflowing to 0) leaves the model without the
            # comparisons it blocked on: put the model back as it was before the session.
            linker._settings_obj.core_model_settings = saved
            logging.getLogger(__name__).info("EM session skipped", exc_info=True)
    # Set last: an EM session writes its own, blocking-adjusted, prior back into the model.
    linker._settings_obj._probability_two_random_records_match = prior
