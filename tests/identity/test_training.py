"""The model's own EM against Splink's: the same m from the same pairs and starting values."""

from __future__ import annotations

import logging
import random

import duckdb
from splink import DuckDBAPI, Linker, block_on
from splink.internals.constants import LEVEL_NOT_OBSERVED_TEXT

from cpxm.identity.linkage import _settings, load_records
from cpxm.identity.normalise import Normalised, normalise
from cpxm.identity.training import (
    EM_SESSIONS,
    U_TRAINING_RECORDS,
    estimate_u,
    expectation_maximisation,
    train,
)

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


def test_u_leaves_out_the_sampled_pairs_that_match() -> None:
    """Where every person is held four times, a random pair agreeing on a birth date is as often
    one person's two copies as two people: counted as a non-match, that agreement looked
    far more common by chance than it is. After EM, ``train`` measures u again by how likely
    each sampled pair is not a match, and lands near the rate among pairs of different people,
    counted here from the truth the model never sees."""
    logging.getLogger("splink").setLevel(logging.ERROR)
    rng = random.Random(11)
    records: list[Normalised] = []
    person_of: dict[int, int] = {}
    for person in range(700):
        attributes = {
            "first_name": rng.choice(FIRST) + rng.choice(["", "a", "e"]),
            "last_name": rng.choice(LAST) + rng.choice(["", "s", "er", "mann"]),
            "birth_date": f"19{rng.randint(30, 99)}-{rng.randint(1, 12):02d}"
            f"-{rng.randint(1, 28):02d}",
            "postal_code": str(rng.randint(1000, 1400)),
            "professional_id": str(rng.randint(10**6, 10**7)),
        }
        for copy in range(4):
            written: dict[str, str | None] = dict(attributes)
            if copy:  # each copy loses or mistypes one field
                field = rng.choice(sorted(written))
                written[field] = _slip(attributes[field], rng) if rng.random() < 0.5 else None
            person_of[len(records)] = person
            records.append(normalise(len(records), "crm", written))
    assert len(records) >= U_TRAINING_RECORDS
    connection = duckdb.connect()
    load_records(connection, records)
    frame = DuckDBAPI(connection).register("cpxm_records", table_name="cpxm_records")
    prior = 3 / len(records)  # each record has three true partners
    linker = Linker(frame, _settings(prior, size=len(records)), log_level=None)
    dob_exact = linker._settings_obj.comparisons[1]._comparison_levels_excluding_null[0]
    assert "dob_l = dob_r" in dob_exact.sql_condition

    estimate_u(connection, linker, pairs=len(records) * 20.0)
    first_estimate = float(dob_exact.u_probability)
    train(connection, linker, len(records), prior)
    trained = float(dob_exact.u_probability)

    dobs = [record.dob for record in records]
    known = [i for i, dob in enumerate(dobs) if dob is not None]
    agreeing = different = 0
    for _ in range(200_000):
        a, b = rng.sample(known, 2)
        if person_of[a] != person_of[b]:
            different += 1
            agreeing += dobs[a] == dobs[b]
    true_u = max(agreeing, 1) / different
    assert first_estimate > 8 * true_u  # the copies' agreements counted as chance
    assert trained < 3 * true_u, (trained, true_u)


class _CountingConnection:
    """A DuckDB connection that counts the queries it runs."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self.queries: list[str] = []

    def execute(self, query: str) -> duckdb.DuckDBPyConnection:
        self.queries.append(query)
        return self.connection.execute(query)


def test_a_second_em_pass_reuses_the_first_pass_pattern_counts() -> None:
    """The blocked pairs' agreement patterns do not depend on m or u, so a second pass over
    the same records counts nothing again, and finds what counting again would find."""
    logging.getLogger("splink").setLevel(logging.ERROR)
    connection = duckdb.connect()
    load_records(connection, _records())
    frame = DuckDBAPI(connection).register("cpxm_records", table_name="cpxm_records")
    linker = Linker(frame, _settings(0.002, size=10), log_level=None)
    comparisons = linker._settings_obj.comparisons
    counting = _CountingConnection(connection)
    counted: dict[tuple[str, ...], list[tuple[int, ...]]] = {}
    columns = EM_SESSIONS[0]
    first = expectation_maximisation(
        counting,  # type: ignore[arg-type]
        comparisons,
        columns,
        prior=0.002,
        counted=counted,
    )
    assert len(counting.queries) == 1 and tuple(columns) in counted
    again = expectation_maximisation(
        counting,  # type: ignore[arg-type]
        comparisons,
        columns,
        prior=0.002,
        counted=counted,
    )
    assert len(counting.queries) == 1
    fresh = expectation_maximisation(connection, comparisons, columns, prior=0.002)
    assert len(first) > 5
    assert [m for _, m in again] == [m for _, m in first] == [m for _, m in fresh]
