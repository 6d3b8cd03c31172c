"""The model's own EM against Splink's: the same m from the same pairs and starting values."""

from __future__ import annotations

import logging
import random

import duckdb
from splink import DuckDBAPI, Linker, block_on
from splink.internals.constants import LEVEL_NOT_OBSERVED_TEXT

from cpxm.identity.linkage import _settings, load_records
from cpxm.identity.normalise import Normalised, normalise
from cpxm.identity.training import EM_SESSIONS, expectation_maximisation

FIRST = ["anna", "ben", "clara", "david", "eva", "felix", "greta", "hugo", "ida", "jonas"]
LAST = ["meyer", "schmidt", "fischer", "weber", "wagner", "becker", "hoffmann", "koch"]


def _slip(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text))
    return text[:at] + rng.choice("aeiouxyz") + text[at + 1 :]


def _records() -> list[Normalised]:
    rng = random.Random(3)
    records = []
    for person in range(400):
        attributes = {
            "first_name": rng.choice(FIRST),
            "last_name": rng.choice(LAST) + rng.choice(["", "s", "er"]),
            "birth_date": f"19{rng.randint(40, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "postal_code": str(rng.randint(1000, 1200)),
            "city": rng.choice(["bonn", "koeln", "aachen"]),
            "address_line": f"{rng.randint(1, 90)} {rng.choice(LAST)}strasse",
            "professional_id": str(rng.randint(10**6, 10**7)),
        }
        records.append(normalise(2 * person, "crm", attributes))
        if rng.random() < 0.6:  # a second system's copy, with slips and gaps
            copy: dict[str, str | None] = dict(attributes)
            for field in rng.sample(sorted(copy), 2):
                copy[field] = _slip(attributes[field], rng) if rng.random() < 0.7 else None
            records.append(normalise(2 * person + 1, "events", copy))
    return records


def test_em_finds_the_m_splink_finds() -> None:
    logging.getLogger("splink").setLevel(logging.ERROR)
    records = _records()
    connection = duckdb.connect()
    load_records(connection, records)
    db_api = DuckDBAPI(connection)
    frame = db_api.register("cpxm_records", table_name="cpxm_records")
    prior = 0.002
    linker = Linker(frame, _settings(prior, size=len(records)), log_level=None)
    comparisons = linker._settings_obj.comparisons
    for columns in EM_SESSIONS:
        ours = {
            (comparison.output_column_name, level.comparison_vector_value): m
            for comparison in comparisons
            for found, m in expectation_maximisation(connection, comparisons, columns, prior=prior)
            for level in comparison._comparison_levels_excluding_null
            if level is found
        }
        linker._settings_obj._probability_two_random_records_match = prior
        session = linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*columns), estimate_without_term_frequencies=True
        )
        comparisons = linker._settings_obj.comparisons
        theirs = {
            (comparison.output_column_name, level.comparison_vector_value): float(
                level.m_probability
            )
            for comparison in session.core_model_settings.comparisons
            for level in comparison._comparison_levels_excluding_null
            if level._m_probability != LEVEL_NOT_OBSERVED_TEXT
        }
        assert len(ours) > 10
        assert ours.keys() == theirs.keys()
        for key, m in theirs.items():
            assert abs(ours[key] - m) <= 1e-9 * max(m, 1e-12), key


def test_the_splink_internals_training_reads_are_pinned() -> None:
    """``training.py`` reads Splink's settings object and levels, which Splink does not promise
    to keep: a new Splink version fails here first, and whoever upgrades re-runs the EM
    comparison above and checks each attribute below before changing the pin."""
    import splink

    assert splink.__version__.startswith("5.0."), (
        f"Splink {splink.__version__}: re-check cpxm.identity.training against its internals"
    )
    connection = duckdb.connect()
    load_records(connection, _records())
    frame = DuckDBAPI(connection).register("cpxm_records", table_name="cpxm_records")
    linker = Linker(frame, _settings(0.002, size=10), log_level=None)
    comparisons = linker._settings_obj.comparisons
    assert [c.output_column_name for c in comparisons][:2] == ["name", "dob"]
    for comparison in comparisons:
        assert comparison._case_statement.lstrip().upper().startswith("CASE")
        levels = comparison._comparison_levels_excluding_null
        assert [level.comparison_vector_value for level in levels] == list(
            range(len(levels) - 1, -1, -1)
        )
        assert levels[-1]._is_else_level and comparison.comparison_levels[0].is_null_level
        assert all(isinstance(level.sql_condition, str) for level in levels)
        # EM and u sampling write their estimates back through these setters.
        level = levels[0]
        level.m_probability, level.u_probability = 0.5, 0.25
        assert (level.m_probability, level.u_probability) == (0.5, 0.25)
