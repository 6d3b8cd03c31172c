"""The Splink model: blocking, priors and scoring of source-record pairs, in-process DuckDB.

Splink sees only the normalised frame (``cpxm.identity.normalise``), so the store may be SQLite
or PostgreSQL. Every comparison level starts from fixed m and u probabilities written down
here, because an unsupervised model cannot learn them from a few dozen records (the first
imports of a new tenant): it scored a true pair 0.80 and two different people sharing a surname
and postcode 0.9986. From ``U_TRAINING_RECORDS`` records u is measured by random sampling with a
fixed seed, and from ``M_TRAINING_RECORDS`` m is refined by expectation maximisation. The prior
always comes from exact identifier agreement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import duckdb
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from cpxm.identity.normalise import COLUMNS, Normalised

SEED = 20261123
# Exact identifiers that, when equal, are almost always the same person: used to estimate the
# prior probability that two records match, assuming they find this share of the true matches.
IDENTIFIER_RULES = ("professional_id", "email")
IDENTIFIER_RECALL = 0.6
# Below these sizes the written-down probabilities beat estimates from too few pairs.
U_TRAINING_RECORDS = 2_000
M_TRAINING_RECORDS = 1_000_000_000  # EM off: see docs/identity-resolution.md for the measurements

Edge = tuple[int, int, float]


def _blocking_rules() -> list[Any]:
    # Every rule also requires the same kind, so a person never pairs with an organisation.
    # The name-only rules find records that share nothing else comparable with their twin
    # (an event registration with a name and postcode, a newsletter subscriber with a name).
    return [
        block_on("professional_id", "kind"),
        block_on("email", "kind"),
        block_on("phone", "kind"),
        block_on("last_name", "dob", "kind"),
        block_on("first_name", "dob", "kind"),
        block_on("postal_code", "first_initial", "kind"),
        block_on("last_name", "city", "kind"),
        block_on("first_name", "last_name", "kind"),
        block_on("last_name", "first_initial", "kind"),
        block_on("last_name", "postal_code", "kind"),
        block_on("dob", "postal_code", "kind"),
    ]


def _level(level: Any, m: float, u: float) -> Any:
    return level.configure(m_probability=m, u_probability=u)


def _null(column: str) -> Any:
    return cll.NullLevel(column)


def _exact(column: str, m: float, u: float, *, tf: bool) -> Any:
    level = cll.ExactMatchLevel(column, term_frequency_adjustments=tf)
    if tf:
        # A name shared by half the file still says something; never let it say nothing.
        level.configure(tf_minimum_u_value=1e-6)
    return _level(level, m, u)


def _comparison(column: str, *levels: Any) -> Any:
    return cl.CustomComparison(
        comparison_levels=[_null(column), *levels], output_column_name=column
    )


def _comparisons(*, term_frequencies: bool) -> list[Any]:
    """Levels with (m, u): m = share of true pairs at the level, u = share of random pairs.

    A different first name must count strongly against a match (m 0.03 against u 0.93, about
    -5 bits), otherwise a shared surname, postcode and city outvote it for two colleagues in
    one practice. Different e-mails and phones count only a little: people have several.
    Term frequencies (a common surname, a hospital switchboard counts less) need a large file:
    in a small one the pair itself makes its own phone number look common.
    """
    tf = term_frequencies
    return [
        cl.CustomComparison(
            comparison_levels=[
                _null("first_initial"),
                _exact("first_name", 0.80, 0.01, tf=tf),
                _level(cll.JaroWinklerLevel("first_name", 0.92), 0.10, 0.004),
                # One side has only an initial, or a name the other side starts with.
                _level(
                    cll.CustomLevel(
                        "(first_name_l IS NULL OR first_name_r IS NULL"
                        " OR starts_with(first_name_l, first_name_r)"
                        " OR starts_with(first_name_r, first_name_l))"
                        " AND first_initial_l = first_initial_r"
                    ),
                    0.04,
                    0.03,
                ),
                _level(cll.ElseLevel(), 0.03, 0.956),
            ],
            output_column_name="first_name",
        ),
        _comparison(
            "last_name",
            _exact("last_name", 0.85, 0.002, tf=tf),
            _level(cll.JaroWinklerLevel("last_name", 0.9), 0.10, 0.004),
            _level(cll.ElseLevel(), 0.05, 0.994),
        ),
        _comparison(
            "dob",
            _exact("dob", 0.90, 0.0002, tf=False),
            _level(cll.DamerauLevenshteinLevel("dob", 1), 0.06, 0.003),
            _level(cll.ElseLevel(), 0.04, 0.9968),
        ),
        _comparison(
            "email",
            _exact("email", 0.75, 0.00002, tf=False),
            _level(
                cll.CustomLevel("split_part(email_l, '@', 1) = split_part(email_r, '@', 1)"),
                0.05,
                0.0002,
            ),
            _level(cll.ElseLevel(), 0.20, 0.99978),
        ),
        _comparison(
            "phone",
            _exact("phone", 0.80, 0.00005, tf=tf),
            _level(cll.ElseLevel(), 0.20, 0.99995),
        ),
        _comparison(
            "postal_code",
            _exact("postal_code", 0.85, 0.005, tf=tf),
            _level(cll.LevenshteinLevel("postal_code", 1), 0.05, 0.02),
            _level(cll.ElseLevel(), 0.10, 0.975),
        ),
        _comparison(
            "city",
            _exact("city", 0.90, 0.05, tf=tf),
            _level(cll.ElseLevel(), 0.10, 0.95),
        ),
        _comparison(
            "address",
            _level(cll.JaroWinklerLevel("address", 0.9), 0.80, 0.001),
            _level(cll.JaroWinklerLevel("address", 0.8), 0.10, 0.01),
            _level(cll.ElseLevel(), 0.10, 0.989),
        ),
        _comparison(
            "professional_id",
            _exact("professional_id", 0.95, 0.00001, tf=False),
            _level(cll.ElseLevel(), 0.05, 0.99999),
        ),
    ]


def _settings(prior: float, *, size: int) -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=prior,
        blocking_rules_to_generate_predictions=_blocking_rules(),
        comparisons=_comparisons(term_frequencies=size >= U_TRAINING_RECORDS),
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
    prior = _prior(connection, len(records))
    linker = Linker(frame, _settings(prior, size=len(records)), log_level=None)
    step("training")
    _train(linker, len(records), prior)
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
    if size < U_TRAINING_RECORDS:
        return
    training = linker.training
    training.estimate_u_using_random_sampling(max_pairs=min(5e6, max(1e4, size * 20.0)), seed=SEED)
    if size < M_TRAINING_RECORDS:
        return
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
